"""``ward_harvest_upload``: the leak phiwatch exists for, done slowly and from another ward.

A nurse or midwife, on her normal shifts and between her normal tasks, opens the records
(mostly the registration screen: name, address, phone) of mothers of a postpartum ward
that is not hers, at a human pace — 20 to 40 an hour, 80 to 150 an afternoon — on two to
four afternoons (the last ones she works, after at least three normal days in a week),
and a few hours after the last afternoon's harvest her workstation uploads
20–80 MB to an outside host. No hour crosses a bulk threshold, and the upload may stay
under a large-upload one; what gives her away is the number of patients her department
has no care relationship with (she opens only mothers who never had an encounter with
it), against her own history and her peers', and the harvest followed by an upload.

Every parameter is drawn per seed within those ranges. The ground truth carries, besides
the usual fields, ``target.departments``, ``harvest`` (per afternoon: date, workstation,
first and last view, distinct patients, the busiest hour's count), the upload's time,
size and destination.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from simulator.departments import Kind, Workstation
from simulator.hospital import Staff
from simulator.netincidents import NetIncident, NetPlanner, outside_address, outside_domain
from simulator.profile import WARD_CARE
from simulator.traffic import Row, search_size

#: The afternoon, in local minutes: when the harvest happens.
AFTERNOON = (11 * 60 + 30, 18 * 60 + 30)
#: Per afternoon: distinct mothers, and the mean pace (an hour; the busiest hour of an
#: afternoon runs a few above it).
PER_DAY = (80, 150)
RATE = (20, 36)
UPLOAD_BYTES = (20_000_000, 80_000_000)
#: Seconds from the last harvested record to the upload.
UPLOAD_DELAY = (20 * 60, 3 * 3600)
#: A harvest afternoon: from, to, the workstation, and the session's logout.
Afternoon = tuple[int, int, Workstation, int]


class Planner(NetPlanner):
    """The :class:`NetPlanner` with the slow cross-ward harvest and its upload."""

    def network_makers(self) -> dict[str, Callable[[date, int], NetIncident | None]]:
        return {**super().network_makers(), "ward_harvest_upload": self._ward_harvest}

    def _afternoon(self, staff: Staff, day: date) -> Afternoon | None:
        """The session of ``staff`` on ``day`` that holds most of the afternoon, clipped
        to it (and to 20 minutes after login, 15 before logout), if three hours or more;
        with its workstation and logout."""
        lo, hi = (self.clock.at(day, m) for m in AFTERNOON)
        best: Afternoon | None = None
        for a, b, ws in self._sessions(staff, day):
            s, e = max(a + 1200, lo), min(b - 900, hi)
            if e - s >= 3 * 3600 and (best is None or e - s > best[1] - best[0]):
                best = (s, e, ws, b)
        return best

    def _ward_harvest(self, day: date, round_: int) -> NetIncident | None:
        rng, prof, census = self.rng, self.profile, self.census
        target = prof.postpartum[round_ % len(prof.postpartum)]
        wards = set(prof.codes(Kind.WARD)) - {target}
        pool = [s for s in self.hospital.staff
                if s.job in WARD_CARE and s.department in wards and s.status == "active"
                and s.moved_on is None and s.secondary is None and s.user_id not in self.used]
        rng.shuffle(pool)
        if rng.random() < 0.5:  # half the time, a maternity ward's own staff first
            pool.sort(key=lambda s: s.department not in prof.maternity)
        wanted = rng.randint(2, 4)
        seen: dict[str, set[str]] = {}
        arrived: dict[str, int] = {}  # when each patient came to the target ward
        for e in census.encounters:
            seen.setdefault(e.patient, set()).add(e.department)
            if e.department == target:
                arrived[e.patient] = min(e.start, arrived.get(e.patient, e.start))
        # the harvest leaves a few normal days before it (three of a week) for a baseline
        days = self.clock.period_days()
        days = days[min(3, max(0, len(days) - 2)):]
        for staff in pool:
            afternoons = []
            for d in reversed(days):
                if staff.on_duty(d) is not None and (span := self._afternoon(staff, d)):
                    afternoons.append((d, span))
                if len(afternoons) == wanted:
                    break
            if len(afternoons) < min(2, self.clock.days):
                continue
            afternoons.reverse()
            # mothers who are or were in the target ward when the harvest begins, whom the
            # harvester's department never cared for
            begin = afternoons[0][1][0]
            mothers = [p for p in census.recent_mothers(begin) if arrived.get(p, begin) < begin
                       and staff.department not in seen.get(p, ())]
            if len(mothers) < PER_DAY[0]:
                continue
            return self._harvest_afternoons(staff, target, afternoons, mothers, rng)
        return None

    def _harvest_afternoons(self, staff: Staff, target: str,
                            afternoons: list[tuple[date, Afternoon]],
                            mothers: list[str], rng: random.Random) -> NetIncident:
        """The views of each afternoon, then the upload after the last."""
        reception = rng.uniform(0.5, 0.9)  # share of views on the registration screen
        taken: set[str] = set()
        rows: list[Row] = []
        harvest: list[dict[str, object]] = []
        per_day: list[int] = []
        peaks: list[int] = []
        for k, (day, (lo, hi, ws, _)) in enumerate(afternoons):
            if k == len(afternoons) - 1:  # leave room for the upload before logout
                hi -= UPLOAD_DELAY[0]
            hours = (hi - lo) / 3600
            rate = rng.uniform(*RATE)
            n = min(rng.randint(*PER_DAY), int(hours * rate / 1.1), len(mothers))
            if n < PER_DAY[0]:  # too slow for a day's quota in this afternoon: faster
                n = min(PER_DAY[0], len(mothers))
                rate = n / hours * 1.1
            fresh = [p for p in mothers if p not in taken]
            victims = rng.sample(fresh if len(fresh) >= n else mothers, n)
            acct = staff.account_on(day)
            t = rng.randint(lo, max(lo, hi - int(n / rate * 3600 * 1.1)))
            views: list[int] = []
            for pid in victims:
                if t > hi:  # out of afternoon: the rest another time
                    break
                if rng.random() < 0.08:
                    rows.append((t, acct, "search", None, "reception", search_size(rng), ws))
                    t += rng.randint(4, 20)
                module = "reception" if rng.random() < reception else "emr"
                rows.append((t, acct, "view", pid, module, 1, ws))
                taken.add(pid)
                views.append(t)
                t += max(20, int(3600 / rate * rng.uniform(0.5, 1.5)))
            per_day.append(len(views))
            peaks.append(max(sum(1 for x in views if v <= x < v + 3600) for v in views))
            harvest.append({
                "date": day.isoformat(), "host.name": ws.name, "source.ip": ws.ip,
                "start": self.clock.iso(views[0]), "end": self.clock.iso(views[-1]),
                "patients": per_day[-1], "max_per_hour": peaks[-1],
            })
        last = rows[-1][0]
        _, _, ws, logout = afternoons[-1][1]
        # the upload, some time after the last record and a quarter of an hour before logout
        delay = rng.randint(UPLOAD_DELAY[0],
                            max(UPLOAD_DELAY[0], min(UPLOAD_DELAY[1], logout - 900 - last)))
        total = rng.randint(*UPLOAD_BYTES)
        parts = rng.randint(1, 3)
        cuts = sorted(rng.sample(range(1, 100), parts - 1))
        sizes = [(b - a) * total // 100 for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        times = [last + delay]
        for _ in range(parts - 1):
            times.append(times[-1] + rng.randint(30, 300))
        domain = outside_domain(rng, ("mediafire-box", "sendbig", "transfer-now", "file-drop"),
                         ("xyz", "site", "online", "top"))
        return NetIncident(
            "", "ward_harvest_upload",
            f"{self._who(staff, ws)} opened the records of {len(taken)} mothers of {target}, "
            f"a ward not theirs, on {len(afternoons)} afternoon(s) "
            f"({', '.join(map(str, per_day))} a day, at most {max(peaks)} an hour) between "
            f"their own patients; {delay // 60} minutes after the last, the workstation "
            f"uploaded {total // 1_000_000} MB to {domain}.",
            staff, ws, len(taken), rows,
            {"days": len(afternoons), "wait_seconds": delay, "payload_bytes": total,
             "uploads": parts},
            {"target.departments": [target], "harvest": harvest},
            domain=domain, address=outside_address(rng), plan=list(zip(times, sizes, strict=True)),
            network_only=False, lookup_end=last)
