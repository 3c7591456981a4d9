"""Ordinary network traffic of one hospital day, driven by the day's HIS log.

Why from the log: the capture and the HIS log must tell one story. A workstation talks
only while it is in use — from a login to the logout on it (a session the log carries
over midnight counts from midnight; one still open at the end of the day, to its end),
and for three minutes after any HIS event from it — and every HIS event from a hospital
address is a request to the HIS application server on the wire at the event's time.

What a workstation in use does besides the HIS (rates per hour in use, office
departments about twice the clinical ones): asks the internal resolver for names and
browses outside (news, search, the ministry's sites, reference sites: small requests,
downloads of kilobytes to a megabyte; about once in two hours on an office desk, once
in five on a ward), uses webmail (an attachment now and then,
at most a few megabytes) and Zalo chat (messages and a photo now and then), syncs its
clock with the domain controller at login, and on IT desks pings the servers. A few
workstations a day download an operating-system update; a billing desk uploads the day's
insurance claims to the social-insurance portal (a declared service).

The servers: each HIS application server asks the database once a minute it is busy (a
pooled connection); the resolver forwards names it has not answered in the last five
minutes to the ISP's resolvers and polls outside time servers at irregular intervals
(both declared); the database sends a 52–58 MB backup to the declared cloud backup
service at night, which the large-upload rule must leave alone.

The capture is a summary, to stay at a few hundred thousand frames a day: the HIS events
of one workstation within :data:`MERGE_SECONDS` of the first travel as one exchange
(compressed, a few hundred bytes an event) at that first event's time, transfers are
full-size segments with stretch acknowledgements, and every transfer to the outside
ends within a few minutes (the flow sensor cuts flows at five, and browsing never needs
more).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from math import log

from simulator.departments import Kind, Workstation
from simulator.netplan import INSURANCE, NTP_UPSTREAM, SITES, UPDATES, Site
from simulator.packets import Tcp, Wire, dns_answer, dns_query, ip_raw
from simulator.profile import Profile
from simulator.traffic import Row

#: HIS events of one workstation this close to the first of a batch share one exchange.
MERGE_SECONDS = 300
#: The HIS client closes its connection after this long without a request.
KEEPALIVE = 1800
#: A workstation counts as in use this long after each HIS event from it.
AFTER_EVENT = 180

#: Bytes of a request and of its response, per HIS action (base, per record counted).
_HIS_SIZES: dict[str, tuple[int, int, int]] = {
    "login": (260, 600, 0), "login_failed": (260, 100, 0), "logout": (50, 40, 0),
    "search": (60, 100, 15), "view": (50, 110, 0), "update": (160, 40, 0),
    "print": (50, 700, 50), "export": (60, 300, 60),
}
_OFFICE = frozenset({Kind.OUTPATIENT, Kind.BILLING, Kind.RECEPTION, Kind.IT, Kind.PARTNER})
_WEIGHTED_SITES = [s for s in SITES for _ in range(s[2])]


@dataclass
class Usage:
    """When one workstation is in use on a day, and its HIS events."""

    ws: Workstation
    sessions: list[tuple[int, int]] = field(default_factory=list)
    events: list[tuple[int, str, int]] = field(default_factory=list)


def spans(sessions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Time-ordered sessions merged where they overlap (colleagues share a desk)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(sessions):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def usage(rows: list[Row], lo: int, hi: int, site: Site) -> dict[str, Usage]:
    """Per hospital address, its sessions and HIS events among ``rows`` (time-ordered,
    ``lo <= t < hi``). A session is a login to the logout of the same user on the same
    workstation; the first event of the day of a user on a workstation other than a
    login (or a failed one) continues a session from the day before."""
    out: dict[str, Usage] = {}
    opened: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    for t, acct, action, _, _, count, ws in rows:
        if not site.inside(ws.ip):
            continue
        u = out.get(ws.ip)
        if u is None:
            u = out[ws.ip] = Usage(ws)
        u.events.append((t, action, count))
        key = (acct.user_id, ws.ip)
        if action == "login":
            if key in opened:
                u.sessions.append((opened.pop(key), t))
            opened[key] = t
        elif action == "logout":
            start = opened.pop(key, None)
            if start is None and key not in seen:
                start = lo
            if start is not None:
                u.sessions.append((start, t))
        elif action != "login_failed" and key not in opened and key not in seen:
            opened[key] = lo
        seen.add(key)
    for (_, ip), start in opened.items():
        out[ip].sessions.append((start, hi))
    for u in out.values():
        u.sessions.sort()
    return out


class Network:
    """One day's wire and the hospital's shared services on it (the resolver's cache)."""

    def __init__(self, seed: int, label: str, profile: Profile) -> None:
        self.profile = profile
        self.site = site = profile.site
        self.wire = Wire(site.inside_prefixes, (site.workstations + ".", site.vpn + "."))
        self.seed = seed
        self.label = label
        #: name → times the resolver forwarded it (lookups are made out of time order)
        self._forwarded: dict[str, list[float]] = {}
        self._ports: dict[str, int] = {}

    def rng(self, what: str) -> random.Random:
        return random.Random(f"{self.seed}:network:{self.label}:{what}")

    def port(self, ip: str, rng: random.Random) -> int:
        """The next ephemeral port of ``ip``."""
        p = self._ports.get(ip) or rng.randint(49152, 60000)
        self._ports[ip] = p + 1 if p < 65000 else 49152
        return p

    def tcp(self, client: str, server: str, sport: int, rng: random.Random,
            rtt: float | None = None) -> Tcp:
        if rtt is None:
            rtt = rng.uniform(0.0003, 0.001) if self.site.inside(server) else _rtt(server)
        return Tcp(self.wire, client, self.port(client, rng), server, sport,
                   rng.getrandbits(32), rtt)

    def lookup(self, t: float, client: str, name: str, address: str, rng: random.Random,
               qtype: str = "A") -> float:
        """``client`` asks the resolver for ``name``; the resolver forwards it unless it
        did within the TTL (300 s) before. Returns when the answer reached the client."""
        w, site = self.wire, self.site
        c, r = w.host(client), w.host(site.resolver)
        ident, port = rng.getrandbits(16), self.port(client, rng)
        w.udp(t, c, port, r, 53, dns_query(ident, name, qtype))
        answer = [ip_raw(address)] if qtype == "A" else []
        done = t + 0.0004
        forwarded = self._forwarded.setdefault(name, [])
        i = bisect_right(forwarded, t)
        if not name.endswith(site.zone) and not (i and forwarded[i - 1] > t - 300):
            forwarded.insert(i, t)
            up = w.host(site.upstream_dns[rng.getrandbits(1)])
            uid, uport = rng.getrandbits(16), self.port(site.resolver, rng)
            w.udp(t + 0.0002, r, uport, up, 53, dns_query(uid, name, qtype))
            done = t + 0.0002 + rng.uniform(0.004, 0.03)
            w.udp(done, up, 53, r, uport, dns_answer(uid, name, qtype, answer))
        w.udp(done + 0.0002, r, 53, c, port, dns_answer(ident, name, qtype, answer))
        return done + 0.0004


def _rtt(ip: str) -> float:
    """Round trip to an outside address: a few ms to the addresses starting with 1 or 4
    (most of the Vietnamese sites and the nearby CDNs here), 30–130 ms to the rest."""
    h = sum(ip_raw(ip)) % 100
    return (0.004 + h / 10_000) if ip.startswith(("1", "4")) else (0.03 + h / 1000)


def ordinary_day(net: Network, usages: dict[str, Usage], lo: int, hi: int) -> None:
    """All the ordinary traffic of the day on ``net.wire``."""
    for ip in sorted(usages, key=ip_raw):
        u = usages[ip]
        rng = net.rng(ip)
        his_traffic(net, u, rng)
        dept = net.profile.departments.get(u.ws.department)
        office = dept is not None and dept.kind in _OFFICE
        for start, end in spans(u.sessions):
            session_traffic(net, u.ws, start, end, office, rng)
    servers(net, usages, lo, hi)
    chores(net, usages, lo, hi)


def his_traffic(net: Network, u: Usage, rng: random.Random) -> None:
    """Each batch of HIS events: an exchange with the workstation's application server
    over a kept-alive TLS connection (a full handshake once a day, resumed after), which
    the client closes at a logout, after :data:`KEEPALIVE` idle seconds, or sooner when
    nobody is logged in (after failed logins)."""
    ip, his_app = u.ws.ip, net.site.his_app
    server = his_app[sum(ip_raw(ip)) % len(his_app)]
    used = spans(u.sessions)

    def idle_close(at: float) -> float:
        i = bisect_right(used, (int(at + KEEPALIVE), 1 << 62)) - 1
        return at + KEEPALIVE if i >= 0 and used[i][1] >= at + KEEPALIVE \
            else at + AFTER_EVENT / 2

    conn: Tcp | None = None
    last = -1e18
    resumed = False
    events = u.events
    i = 0
    while i < len(events):
        t0 = events[i][0]
        req = resp = 0
        closing = False
        while i < len(events) and events[i][0] - t0 <= MERGE_SECONDS:
            _, action, count = events[i]
            a, b, per = _HIS_SIZES[action]
            req += a + rng.randrange(0, a // 4 + 1)
            resp += b + per * count + rng.randrange(0, b // 4 + 1)
            closing = closing or action == "logout"
            i += 1
        t = t0 + rng.uniform(0.01, 0.4)
        if conn is not None and t > idle_close(last):
            conn.close(idle_close(last))
            conn = None
        if conn is None:
            conn = net.tcp(ip, server, 443, rng)
            t = conn.tls(conn.open(t), resumed)
            resumed = True
        last = conn.exchange(t, req, resp, 8e6 if resp < 200_000 else 3e6)
        if closing:
            conn.close(last + rng.uniform(0.05, 0.5))
            conn = None
    if conn is not None:
        conn.close(idle_close(last))


def _poisson(rng: random.Random, start: float, end: float, per_hour: float) -> list[float]:
    out: list[float] = []
    t = start
    while per_hour > 0:
        t += -log(1.0 - rng.random()) * 3600 / per_hour
        if t >= end:
            return out
        out.append(t)
    return out


def session_traffic(net: Network, ws: Workstation, start: int, end: int, office: bool,
                    rng: random.Random) -> None:
    """What a workstation does outside the HIS while someone works on it."""
    ip, site = ws.ip, net.site
    t = start + rng.uniform(1, 20)
    net.lookup(t, ip, f"his.{site.zone}", site.internal_names[f"his.{site.zone}"], rng)
    if rng.random() < 0.5:  # Windows time sync with the domain controller at logon
        w = net.wire
        c, dc = w.host(ip), w.host(site.resolver)
        ntp = b"\xe3\x00\x11\xe9" + bytes(44)
        w.udp(t + 2, c, 123, dc, 123, ntp)
        w.udp(t + 2.0006, dc, 123, c, 123, b"\x24" + ntp[1:])
    stop = end - 90
    for t in _poisson(rng, start + 60, stop, 0.5 if office else 0.2):
        browse(net, ip, t, rng)
    dept = net.profile.departments.get(ws.department)
    if dept is not None and dept.kind == Kind.IT:
        for t in _poisson(rng, start + 60, stop, 0.6):
            target = net.wire.host(site.his_app[rng.getrandbits(1)] if rng.random() < 0.8
                                   else site.his_db)
            for k in range(4):
                net.wire.ping(t + k, net.wire.host(ip), target, 1, rng.getrandbits(15),
                              rng.uniform(0.0002, 0.0008))


def browse(net: Network, ip: str, t: float, rng: random.Random) -> None:
    """One visit to an outside site: look the name up, then one to three exchanges."""
    name, address, _, kind = _WEIGHTED_SITES[int(rng.random() * len(_WEIGHTED_SITES))]
    t = net.lookup(t, ip, name, address, rng)
    conn = net.tcp(ip, address, 443, rng)
    t = conn.tls(conn.open(t))
    for _ in range(1 + int(rng.random() * 2)):
        up = int(rng.uniform(300, 2500))
        down = min(1_000_000, int(rng.lognormvariate(9.2, 0.9)))
        if kind == "mail" and rng.random() < 0.1:
            up = int(rng.uniform(50_000, 2_000_000))  # an attachment
        elif kind == "chat":
            down //= 8
            if rng.random() < 0.1:
                up = int(rng.uniform(60_000, 600_000))  # a photo
        if up > 20_000:
            t = conn.data(t, True, up, rng.uniform(1e6, 4e6), 4) + conn.rtt
            t = conn.data(t, False, int(rng.uniform(300, 900)), 8e6, 1 << 30)
        else:
            t = conn.exchange(t, up, down, rng.uniform(2e6, 8e6))
        t += rng.uniform(0.2, 6)
    conn.close(t)


def servers(net: Network, usages: dict[str, Usage], lo: int, hi: int) -> None:
    """Application servers to the database: one exchange per busy five minutes on a
    pooled connection each; the resolver's time polls; the nightly backup."""
    site = net.site
    busy: dict[str, dict[int, int]] = {s: {} for s in site.his_app}
    for ip, u in usages.items():
        per = busy[site.his_app[sum(ip_raw(ip)) % len(site.his_app)]]
        for at, _, _ in u.events:
            per[at // 300] = per.get(at // 300, 0) + 1
    for server in site.his_app:
        rng = net.rng(f"db:{server}")
        conn: Tcp | None = None
        for bucket in sorted(busy[server]):
            n = busy[server][bucket]
            t = bucket * 300 + rng.uniform(0, 299)
            if conn is None:
                conn = net.tcp(server, site.his_db, 1433, rng)
                t = conn.open(t)
            conn.exchange(t, 500 + 8 * n, 1200 + 20 * n + rng.randrange(400), 20e6)
        if conn is not None:
            conn.close(hi - 30)
    rng = net.rng("ntp")
    w = net.wire
    t = lo + rng.uniform(0, 600)
    while t < hi:
        r, up = w.host(site.resolver), w.host(NTP_UPSTREAM[rng.randrange(len(NTP_UPSTREAM))])
        ntp = b"\x23\x02\x0a\xe9" + rng.randbytes(44)
        w.udp(t, r, 123, up, 123, ntp)
        w.udp(t + _rtt(up.ip), up, 123, r, 123, b"\x24\x01" + ntp[2:])
        t += rng.uniform(500, 1300)
    rng = net.rng("backup")
    t = lo + 5400 + rng.uniform(0, 2400)
    conn = net.tcp(site.his_db, site.backup[1], 443, rng)
    t = conn.tls(conn.open(t))
    t = conn.data(t, True, rng.randint(52_000_000, 58_000_000), rng.uniform(6e6, 9e6), 10)
    conn.close(conn.data(t + conn.rtt, False, 600, 8e6, 1 << 30) + 0.1)


def chores(net: Network, usages: dict[str, Usage], lo: int, hi: int) -> None:
    """A few operating-system updates, and the billing desk's insurance upload."""
    rng = net.rng("chores")
    long = [(ip, s, e) for ip, u in sorted(usages.items(), key=lambda x: ip_raw(x[0]))
             for s, e in u.sessions if e - s > 1800]
    for _ in range(max(1, len({ip for ip, _, _ in long}) // 60) if long else 0):
        ip, s, e = long[rng.randrange(len(long))]
        t = net.lookup(rng.uniform(s + 300, e - 900), ip, UPDATES[0], UPDATES[1], rng)
        conn = net.tcp(ip, UPDATES[1], 443, rng)
        t = conn.exchange(conn.tls(conn.open(t)), 600, rng.randint(2_000_000, 6_000_000),
                          rng.uniform(2e6, 5e6))
        conn.close(t + 1)
    billing_desks = set(net.profile.codes(Kind.BILLING))
    billing = [(ip, s, e) for ip, s, e in long if usages[ip].ws.department in billing_desks
               and e > lo + 14 * 3600 and s < lo + 16 * 3600]
    if billing:
        ip, s, e = billing[rng.randrange(len(billing))]
        a, b = max(s + 60, lo + 14 * 3600), min(e - 600, lo + 16 * 3600)
        if a >= b:
            return
        t = net.lookup(rng.uniform(a, b), ip, INSURANCE[0], INSURANCE[1], rng)
        conn = net.tcp(ip, INSURANCE[1], 443, rng)
        t = conn.tls(conn.open(t))
        t = conn.data(t, True, rng.randint(1_000_000, 4_000_000), 2e6, 4) + conn.rtt
        conn.close(conn.data(t, False, 800, 8e6, 1 << 30) + 0.2)
