"""Injected, labelled network incidents: what the network rules must find in the capture.

Each round places one of every kind (``HospitalSpec.network_incident_kinds``) on a day
of the period, planned after the HIS incidents with a stream of their own, so that the
HIS incidents are the same with or without a capture. Each happens on a workstation while
someone is logged in on it (the capture shows no workstation that is not in use):

- ``net_exfil_upload``: a workstation sends 60–90 MB to an unknown outside host in three
  to six uploads within 15–45 minutes (each one short, as on a fast uplink): more than
  any workstation sends outside in an hour of ordinary work.
- ``dns_tunnel``: an iodine/dnscat-like client on a workstation sends 900–2,000 queries
  straight to the tunnel's name server, one or two a second for 15–25 minutes: every
  name new, a 52–63-character base32 label under one registered domain, NULL and TXT
  types (ordinary desks ask the internal resolver for a few hundred everyday names a day).
- ``beaconing``: malware on a workstation opens a short TLS connection to one outside
  address every 60 s (±3 %, uniform) for three to five hours, a few hundred bytes each
  way (intervals within 3 % of each other; nothing ordinary is that regular).
- ``lookup_then_upload``: the correlated case. A receptionist (or a postpartum nurse,
  or a cashier) opens the registration records of 150–300 distinct recent mothers in 35–55 minutes
  (bulk-harvest rows), and 5–25 minutes after the last one the same workstation uploads
  60–150 MB to an unknown outside host.

Ground truth: the HIS incidents' fields, with ``user.id``/``user.name`` null for the
network-only kinds (no packet names a user; ``logged_in.user.id``/``.name`` say who was
logged in on the workstation), ``events`` the HIS events (0 for those), ``start``/``end``
the first and last packet (for ``lookup_then_upload`` the first HIS event and the end of
the upload), ``bytes`` (frame bytes the workstation sent to the outside host, as the flow
sensor counts ``source.bytes``), ``destination.ip``/``.port``/``.domain``, and counts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from simulator.clock import Clock
from simulator.departments import Kind, Workstation
from simulator.hospital import Staff
from simulator.incidents import Incident
from simulator.nettraffic import Network
from simulator.packets import dns_answer, dns_query, txt
from simulator.patterns import ContextPlanner
from simulator.profile import WARD_CARE, Job
from simulator.spec import NETWORK_INCIDENT_KINDS
from simulator.traffic import Row

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
#: Where each network incident happens, by department kind.
_OFFICE = (Kind.BILLING, Kind.RECEPTION, Kind.OUTPATIENT, Kind.IT)
_TUNNEL = (Kind.IT, Kind.BILLING, Kind.LAB, Kind.PHARMACY)
_ANY = (Kind.EMERGENCY, Kind.OUTPATIENT, Kind.WARD, Kind.LAB, Kind.PHARMACY, Kind.BILLING,
        Kind.RECEPTION, Kind.IT)


@dataclass
class NetIncident(Incident):
    """An incident with traffic in the capture: what to play and, once played, its
    numbers. ``begin``/``finish`` bound the network part (epoch seconds)."""

    begin: float = 0.0
    finish: float = 0.0
    domain: str = ""
    address: str = ""
    #: (time, size) of each upload, or of each beacon / query batch
    plan: list[tuple[float, int]] = field(default_factory=list)
    bytes_sent: int = 0
    network_only: bool = True
    #: the correlated case: the last lookup and the first packet of the upload
    lookup_end: int = 0
    upload_start: float = 0.0

    @property
    def start(self) -> int:
        return int(min([self.begin, *(r[0] for r in self.rows)]))

    @property
    def end(self) -> int:
        return int(max([self.finish, *(r[0] for r in self.rows)]) + 0.999999)

    def to_json(self, clock: Clock) -> dict[str, Any]:
        doc = super().to_json(clock)
        if self.network_only:
            doc.update({"user.id": None, "user.name": None, "user.role": None,
                        "user.department": None,
                        "logged_in.user.id": self.staff.user_id,
                        "logged_in.user.name": self.staff.full_name})
        doc["counts"]["bytes"] = self.bytes_sent
        doc.update({"bytes": self.bytes_sent, "destination.ip": self.address,
                    "destination.port": 53 if self.kind == "dns_tunnel" else 443,
                    "destination.domain": self.domain})
        if self.lookup_end:
            doc.update({"lookup.end": clock.iso(self.lookup_end),
                        "upload.start": clock.iso(int(self.upload_start))})
        return doc


def outside_domain(rng: random.Random, words: tuple[str, ...], tlds: tuple[str, ...]) -> str:
    """A made-up registered domain for an incident's outside host."""
    return f"{rng.choice(words)}{rng.randint(2, 99)}.{rng.choice(tlds)}"


def outside_address(rng: random.Random) -> str:
    """A public address no ordinary traffic uses."""
    return f"{rng.choice((45, 103, 139, 149, 185, 194))}.{rng.randint(1, 254)}." \
           f"{rng.randint(0, 255)}.{rng.randint(2, 253)}"


class NetPlanner(ContextPlanner):
    """The :class:`ContextPlanner` that also plans the network incidents."""

    def network_makers(self) -> dict[str, Callable[[date, int], NetIncident | None]]:
        return {"net_exfil_upload": self._exfil, "dns_tunnel": self._tunnel,
                "beaconing": self._beacon, "lookup_then_upload": self._lookup_upload}

    def plan_network(self, rounds: int, kinds: tuple[str, ...], rng: random.Random,
                     numbered: int) -> list[NetIncident]:
        """One incident of each of ``kinds`` per round, spread over the period, ids
        following the ``numbered`` incidents planned before."""
        assert set(self.network_makers()) == set(NETWORK_INCIDENT_KINDS)
        saved, self.rng = self.rng, rng
        try:
            return self.spread(self.network_makers(), rounds, kinds, numbered=numbered)
        finally:
            self.rng = saved

    def _at_workstation(self, day: date, depts: tuple[str, ...], length: int
                        ) -> tuple[Staff, int, Workstation] | None:
        """Someone on a day shift in ``depts`` whose session holds ``length`` seconds;
        unlike an HIS incident, their work goes on meanwhile."""
        jobs = tuple(j for j in Job if j != Job.VENDOR)
        picked = self._fit(self._candidates(day, jobs, depts, (self.profile.day_window,)), day,
                           length, 1800)
        if picked is not None:
            self.suppress[picked[0].user_id].pop()
        return picked

    def _exfil(self, day: date, round_: int) -> NetIncident | None:
        rng = self.rng
        minutes = rng.randint(15, 45)
        picked = self._at_workstation(day, self.profile.codes(*_OFFICE), minutes * 60 + 300)
        if picked is None:
            return None
        staff, t, ws = picked
        total = rng.randint(60_000_000, 90_000_000)
        parts = rng.randint(3, 6)
        cuts = sorted(rng.sample(range(1, parts * 100), parts - 1))
        sizes = [(b - a) * total // (parts * 100) for a, b in zip([0, *cuts], [*cuts, parts * 100],
                                                                   strict=True)]
        times = sorted(t + rng.uniform(0, minutes * 60) for _ in range(parts))
        domain = outside_domain(rng, ("sync-drive", "cloudbox", "filestore", "up-load"),
                         ("xyz", "top", "online"))
        return NetIncident(
            "", "net_exfil_upload",
            f"{ws.name} ({ws.ip}), where {staff.user_id} ({staff.full_name}) was logged in, "
            f"sent about {total // 1_000_000} MB in {parts} uploads within {minutes} minutes "
            f"to {domain}, an outside host the hospital does not use.",
            staff, ws, 0, domain=domain, address=outside_address(rng),
            plan=list(zip(times, sizes, strict=True)), counts={"connections": parts})

    def _tunnel(self, day: date, round_: int) -> NetIncident | None:
        rng = self.rng
        minutes = rng.randint(15, 25)
        picked = self._at_workstation(day, self.profile.codes(*_TUNNEL),
                                      minutes * 60 + 300)
        if picked is None:
            return None
        staff, t, ws = picked
        rate = rng.uniform(1.0, 1.4)
        queries = int(minutes * 60 * rate)
        times = [t + k / rate + rng.uniform(0, 0.4) for k in range(queries)]
        domain = outside_domain(rng, ("cdn-telemetry", "msupdate-sync", "stat-counter"),
                         ("net", "info", "xyz"))
        return NetIncident(
            "", "dns_tunnel",
            f"{ws.name} ({ws.ip}), where {staff.user_id} ({staff.full_name}) was logged in, "
            f"sent {queries} DNS queries with encoded names under {domain} (NULL and TXT) "
            f"in {minutes} minutes straight to its name server: a DNS tunnel.",
            staff, ws, 0, domain=domain, address=outside_address(rng),
            plan=[(x, 0) for x in times], counts={"queries": queries})

    def _beacon(self, day: date, round_: int) -> NetIncident | None:
        rng = self.rng
        hours = rng.uniform(3.0, 5.0)
        picked = self._at_workstation(day, self.profile.codes(*_ANY), int(hours * 3600) + 120)
        if picked is None:
            return None
        staff, t, ws = picked
        times: list[float] = [t + rng.uniform(0, 1)]
        while times[-1] - times[0] < hours * 3600:
            times.append(times[-1] + 60 * rng.uniform(0.97, 1.03))
        domain = outside_domain(rng, ("api-metrics", "update-check", "cdn-assets"), ("com", "net"))
        return NetIncident(
            "", "beaconing",
            f"{ws.name} ({ws.ip}) opened a short TLS connection to {domain} every 60 seconds "
            f"(±3 %) for {hours:.1f} hours, {len(times)} in all: malware calling home.",
            staff, ws, 0, domain=domain, address=outside_address(rng),
            plan=[(x, 0) for x in times], counts={"connections": len(times)})

    def _lookup_upload(self, day: date, round_: int) -> NetIncident | None:
        rng = self.rng
        prof = self.profile
        groups = [((Job.RECEPTIONIST,), (prof.front_desk,)), (WARD_CARE, prof.postpartum),
                  ((Job.CASHIER,), prof.codes(Kind.BILLING))]
        n = rng.randint(150, 300)
        minutes = rng.randint(35, 55)
        wait = rng.randint(5 * 60 + 30, 25 * 60 - 90)
        for k in range(len(groups)):
            jobs, depts = groups[(round_ + k) % len(groups)]
            picked = self._within_session(day, jobs, depts, minutes * 60 + wait + 300, 3600)
            if picked is not None:
                break
        else:
            return None
        staff, t, ws = picked
        acct = staff.account_on(day)
        victims = self._mothers(t, n)
        gap = minutes * 60 / len(victims)
        rows: list[Row] = []
        next_search = 0
        for k, pid in enumerate(victims):
            if k == next_search:  # page through the list of recent mothers
                rows.append((t, acct, "search", None, "reception", rng.randint(20, 50), ws))
                t += rng.randint(2, 5)
                next_search += rng.randint(15, 30)
            rows.append((t, acct, "view", pid, "reception", 1, ws))
            t += max(3, int(rng.uniform(0.6, 1.3) * gap))
        last = rows[-1][0]
        a, _ = self.suppress[staff.user_id][-1]
        self.suppress[staff.user_id][-1] = (a, last + 60)
        size = rng.randint(60_000_000, 150_000_000)
        domain = outside_domain(rng, ("drop-files", "share-now", "bigupload"),
                                ("xyz", "site", "top"))
        return NetIncident(
            "", "lookup_then_upload",
            f"{self._who(staff, ws)} opened the registration records of {len(victims)} "
            f"recent mothers in {(last - rows[0][0]) // 60} minutes, and {wait // 60} minutes "
            f"later the workstation uploaded {size // 1_000_000} MB to {domain}.",
            staff, ws, len(victims), rows,
            {"wait_seconds": wait}, domain=domain, address=outside_address(rng),
            plan=[(last + wait, size)], network_only=False, lookup_end=last)


# -- playing them on the wire ----------------------------------------------------------------


def play(net: Network, inc: NetIncident) -> None:
    """Put ``inc``'s traffic on ``net``'s wire; fills ``begin``, ``finish``, ``bytes_sent``
    (and, for the correlated case, when the upload started)."""
    rng = net.rng(inc.id)
    ip = inc.workstation.ip
    if inc.kind == "dns_tunnel":
        _tunnel_traffic(net, inc, rng)
        return
    inc.begin = inc.plan[0][0]
    net.lookup(inc.begin - 0.05, ip, inc.domain, inc.address, rng)
    inc.begin -= 0.05
    sent = 0
    end = 0.0
    for t, size in inc.plan:
        conn = net.tcp(ip, inc.address, 443, rng)
        u = conn.open(t)
        if inc.kind == "beaconing":
            u = conn.tls(u, cert=1300)
            u = conn.exchange(u, 190 + rng.randrange(40), 140 + rng.randrange(40))
        else:
            u = conn.tls(u)
            u = conn.data(u, True, size, rng.uniform(3e6, 8e6), 10) + conn.rtt
            u = conn.data(u, False, rng.randint(300, 700), 8e6, 1 << 30)
        end = conn.close(u + 0.05)
        sent += conn.sent
    if inc.lookup_end:
        inc.upload_start = inc.plan[0][0]
    inc.finish, inc.bytes_sent = end, sent


def _tunnel_traffic(net: Network, inc: NetIncident, rng: random.Random) -> None:
    w = net.wire
    c, s = w.host(inc.workstation.ip), w.host(inc.address)
    port = net.port(c.ip, rng)
    sent = 0
    for k, (t, _) in enumerate(inc.plan):
        label = "".join(rng.choices(_BASE32, k=rng.randint(52, 63)))
        name = f"{label}.{_BASE32[k % 32]}{k // 32 % 1000}.{inc.domain}"
        qtype = "NULL" if rng.random() < 0.6 else "TXT"
        ident = rng.getrandbits(16)
        sent += w.udp(t, c, port, s, 53, dns_query(ident, name, qtype))
        data = rng.randbytes(rng.randint(100, 200))
        if qtype == "TXT":
            data = txt("".join(_BASE32[b % 32] for b in data).encode())
        w.udp(t + rng.uniform(0.03, 0.08), s, 53, c, port,
              dns_answer(ident, name, qtype, [data], ttl=0))
    inc.begin, inc.finish, inc.bytes_sent = inc.plan[0][0], inc.plan[-1][0] + 0.1, sent
