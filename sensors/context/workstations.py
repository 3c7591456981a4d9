"""Workstations (``workstations.csv``): where each HIS workstation stands.

Columns: ``host_name, ip, department, building``; ``host_name`` or ``ip`` may be empty but
not both, and ``building`` is required (it is what the file is for). Events are placed by
their ``host.name`` first, else their ``source.ip``: one account used in two buildings
minutes apart is a shared or stolen password, since nobody walks between buildings that
fast.
"""

from __future__ import annotations

from pathlib import Path

from sensors.context.csvfile import LoadReport, RowError, read_csv

COLUMNS = ("host_name", "ip", "department", "building")


class Workstations:
    """Building by host name and by address; an empty, never-loaded map adds nothing."""

    def __init__(self, by_host: dict[str, str] | None = None,
                 by_ip: dict[str, str] | None = None,
                 report: LoadReport | None = None) -> None:
        self.by_host = by_host if by_host is not None else {}
        self.by_ip = by_ip if by_ip is not None else {}
        self.report = report
        self.loaded = report is not None

    def building(self, host: object, ip: object) -> str | None:
        """The building of the workstation named ``host`` or at ``ip``, if known."""
        if type(host) is str:
            found = self.by_host.get(host.upper())
            if found is not None:
                return found
        if type(ip) is str:
            return self.by_ip.get(ip)
        return None

    def __len__(self) -> int:
        return len(self.by_host) + len(self.by_ip)


def load_workstations(path: Path) -> Workstations:
    """Read ``path``; ``FileRejected`` if unusable as a whole, bad rows skipped and reported."""
    by_host: dict[str, str] = {}
    by_ip: dict[str, str] = {}

    def row(values: list[str]) -> None:
        host, ip, _department, building = values
        if not host and not ip:
            raise RowError("host_name", "neither a host name nor an address")
        if not building:
            raise RowError("building", "empty building")
        if host:
            by_host[host.upper()] = building
        if ip:
            by_ip[ip] = building

    report = read_csv(path, COLUMNS, row)
    return Workstations(by_host, by_ip, report)
