"""``simulate()``: build the hospital, run every shift of the period, write everything out.

Determinism: every random stream is a ``random.Random`` seeded from the seed and a label
(the hospital, the census, the incidents, each staff member's shift on each day, the
network incidents, each workstation's traffic on each day), never the global generator or
the clock, so the same seed, spec and start give byte-identical files, and a change to
one part of the model leaves the other streams alone.

With ``pcap=True`` (the default) each day also gets ``net/capture-YYYY-MM-DD.pcap``, the
network seen from the hospital's core and internet edge (:mod:`.nettraffic`, driven by
that day's HIS log, plus the incidents of :mod:`.netincidents`), and ``net/network.yaml``
the ``network:`` section that describes it (:mod:`.netplan`). Without it no network
incident is planned, and the HIS log is what it was before captures existed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from simulator.census import Census
from simulator.clock import Clock
from simulator.hospital import Hospital
from simulator.hospitalfile import hospital_yaml
from simulator.identity import Identities
from simulator.incidents import Incident
from simulator.netincidents import NetIncident, play
from simulator.netplan import network_yaml
from simulator.nettraffic import Network, ordinary_day, usage
from simulator.patterns import ALL_KINDS
from simulator.spec import NETWORK_INCIDENT_KINDS, HospitalSpec
from simulator.traffic import Row, Traffic
from simulator.wardharvest import Planner
from simulator.writer import LineEncoder, write_csv, write_json, write_log

DEFAULT_START = date(2026, 11, 16)


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote, and how much."""

    out_dir: Path
    log_files: list[Path]
    roster: Path
    flagged_patients: Path
    encounters: Path
    patients_file: Path
    workstations: Path
    networks: Path
    ground_truth: Path
    #: ``hospital.yaml``: what the hospital's IT team knows (shift hours, department
    #: classes, networks)
    hospital: Path
    #: ``assignments.csv`` (``user_id, department``): the departments each account may
    #: choose at login (the roster's, and a second one for staff who work in two)
    assignments: Path
    events: int
    events_per_day: dict[date, int]
    staff: int
    patients: int
    incidents: list[dict[str, Any]]
    #: ``net/capture-YYYY-MM-DD.pcap`` per day, empty without ``pcap``
    pcap_files: list[Path] = field(default_factory=list)
    #: ``net/network.yaml``, or None without ``pcap``
    network_config: Path | None = None
    packets_per_day: dict[date, int] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        net = [*self.pcap_files, self.network_config] if self.network_config else []
        return [*self.log_files, self.roster, self.flagged_patients, self.encounters,
                self.patients_file, self.workstations, self.networks, self.ground_truth,
                self.hospital, self.assignments, *net]


def simulate(
    spec: HospitalSpec,
    out_dir: Path,
    *,
    days: int,
    seed: int,
    start: date | None = None,
    progress: Callable[[int], None] | None = None,
    pcap: bool = True,
) -> SimulationResult:
    """Simulate ``days`` days of ``spec``'s HIS from ``start`` (default 2026-11-16) into
    ``out_dir``, and with ``pcap`` its network; ``progress`` is called with the number of
    events just written."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    first = start or DEFAULT_START
    clock = Clock(spec.timezone, first, days)
    hospital = Hospital(spec, random.Random(f"{seed}:hospital"), first, days)
    women = [s.full_name for s in hospital.staff if s.female and s.role != "vendor"]
    census = Census(spec, hospital.profile, clock, random.Random(f"{seed}:census"), women)
    traffic = Traffic(hospital, census, clock, seed, spec.activity, spec.typo_rate)
    identities = Identities(hospital, census, random.Random(f"{seed}:identity"))
    traffic.own_records = {uid: pid for pid, uid in identities.staff_patients.items()}
    planner = Planner(hospital, census, clock, traffic, random.Random(f"{seed}:incidents"))
    planner.identities = identities
    incidents = planner.plan(spec.incident_rounds,
                             ALL_KINDS if spec.incident_kinds is None else spec.incident_kinds)
    network: list[NetIncident] = []
    if pcap:
        kinds = NETWORK_INCIDENT_KINDS if spec.network_incident_kinds is None \
            else spec.network_incident_kinds
        network = planner.plan_network(spec.incident_rounds, kinds,
                                       random.Random(f"{seed}:network"), len(incidents))
        incidents = [*incidents, *network]

    his = out_dir / "his"
    his.mkdir(parents=True, exist_ok=True)
    encoder = LineEncoder(spec.organization_id, clock)
    injected = _by_day(incidents, clock)
    logs: list[Path] = []
    per_day: dict[date, int] = {}
    captures: list[Path] = []
    packets: dict[date, int] = {}
    net_dir = out_dir / "net"
    if pcap:
        net_dir.mkdir(parents=True, exist_ok=True)
    carry: list[Row] = []
    for day in [first - timedelta(days=1), *clock.period_days()]:
        lo, hi = clock.midnight(day), clock.midnight(day + timedelta(days=1))
        rows, carry = carry, []
        for staff in hospital.staff:
            shift = traffic.shift(staff, day)
            windows = planner.suppress.get(staff.user_id)
            if windows:
                shift = [r for r in shift if not any(a <= r[0] <= b for a, b in windows)]
            for r in shift:
                if r[0] >= hi:
                    carry.append(r)
                elif r[0] >= lo:
                    rows.append(r)
        if day < first:
            continue
        rows.extend(injected.get(day, ()))
        rows.sort(key=itemgetter(0))
        path = his / f"access-{day.isoformat()}.log"
        per_day[day] = write_log(path, rows, encoder, progress)
        logs.append(path)
        if pcap:
            capture = net_dir / f"capture-{day.isoformat()}.pcap"
            packets[day] = _capture(capture, rows, lo, hi, seed, day, network, clock,
                                    hospital)
            captures.append(capture)

    netconf = None
    if pcap:
        netconf = net_dir / "network.yaml"
        netconf.write_text(network_yaml(hospital.profile.site), encoding="utf-8")
    truth = [inc.to_json(clock) for inc in incidents]
    result = SimulationResult(
        out_dir=out_dir, log_files=logs,
        roster=out_dir / "roster.csv", flagged_patients=out_dir / "flagged_patients.csv",
        encounters=out_dir / "encounters.csv", patients_file=out_dir / "patients.csv",
        workstations=out_dir / "workstations.csv", networks=out_dir / "networks.csv",
        ground_truth=out_dir / "ground_truth.json", hospital=out_dir / "hospital.yaml",
        assignments=out_dir / "assignments.csv",
        events=sum(per_day.values()), events_per_day=per_day, staff=len(hospital.staff),
        patients=len(census.patients), incidents=truth, pcap_files=captures,
        network_config=netconf, packets_per_day=packets,
    )
    _write_context(result, hospital, census, clock, incidents, identities)
    result.hospital.write_text(hospital_yaml(spec, hospital.profile), encoding="utf-8")
    write_json(result.ground_truth, {
        "generator": "phiwatch hospital simulator", "organization.id": spec.organization_id,
        "organization.name": spec.name, "timezone": spec.timezone, "seed": seed,
        "start": first.isoformat(), "days": days, "events": result.events,
        **({"network": {"captures": [str(p.relative_to(out_dir)) for p in captures],
                        "config": "net/network.yaml",
                        "packets": sum(packets.values())}} if pcap else {}),
        "incidents": truth,
    })
    return result


def _capture(path: Path, rows: list[Row], lo: int, hi: int, seed: int, day: date,
             incidents: list[NetIncident], clock: Clock, hospital: Hospital) -> int:
    """Write one day's capture; returns its number of frames."""
    net = Network(seed, day.isoformat(), hospital.profile)
    ordinary_day(net, usage(rows, lo, hi, net.site), lo, hi)
    for inc in incidents:
        if clock.day_of(int(inc.plan[0][0])) == day:
            play(net, inc)
    return net.wire.write(path, lo, hi)


def _by_day(incidents: list[Incident], clock: Clock) -> dict[date, list[Row]]:
    out: dict[date, list[Row]] = {}
    for inc in incidents:
        for r in inc.rows:
            if clock.start <= r[0] < clock.end:
                out.setdefault(clock.day_of(r[0]), []).append(r)
    return out


def _write_context(result: SimulationResult, hospital: Hospital, census: Census, clock: Clock,
                   incidents: list[Incident], ids: Identities) -> None:
    """The files the hospital already has: roster, flagged patients, care relationships,
    the patient list, workstations and networks. ``national_id`` (last column of the
    roster and of the patient list) links a staff member to their own patient record."""
    write_csv(result.roster,
              ("user_id", "full_name", "role", "department", "status", "end_date", "shift",
               "vendor", "national_id"),
              ((s.user_id, s.full_name, s.role, s.department, s.status,
                s.end_date.isoformat() if s.end_date else "", s.shift, s.vendor,
                ids.staff[s.user_id])
               for s in hospital.staff))
    write_csv(result.flagged_patients, ("patient_id", "reason"), census.flagged)
    encounters = sorted((e for e in census.encounters if e.start < clock.end),
                        key=lambda e: (e.start, e.patient, e.department))
    write_csv(result.encounters, ("patient_id", "department", "start", "end"),
              ((e.patient, e.department, clock.iso(e.start),
                clock.iso(e.end) if e.end <= clock.end else "") for e in encounters))
    write_csv(result.patients_file,
              ("patient_id", "full_name", "sex", "birth_date", "registered", "mother_id",
               "national_id"),
              ((p.id, p.name, "F" if p.female else "M", p.birth.isoformat(),
                p.registered.isoformat(), p.mother, ids.patients.get(p.id, ""))
               for p in sorted(census.patients.values(), key=lambda p: p.id)))
    stations = [ws for dept in hospital.workstations.values() for ws in dept]
    stations += hospital.vpn
    seen = {ws.name for ws in stations}
    prof = hospital.profile
    for inc in incidents:
        if inc.workstation.name not in seen and (inc.workstation.department == "vpn"
                                                 or inc.workstation.department
                                                 in prof.departments):
            seen.add(inc.workstation.name)
            stations.append(inc.workstation)
    write_csv(result.workstations, ("host_name", "ip", "department", "building"),
              sorted(((ws.name, ws.ip, ws.department, prof.building(ws.department))
                      for ws in stations),
                     key=lambda r: tuple(int(x) for x in r[1].split("."))))
    write_csv(result.networks, ("cidr", "name"), prof.site.networks)
    write_csv(result.assignments, ("user_id", "department"),
              ((s.user_id, d) for s in hospital.staff
               for d in dict.fromkeys(x for x in (s.department, s.secondary) if x)))
