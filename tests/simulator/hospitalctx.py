"""A simulated hospital's context files read back, with its profile, and the checks that
normal traffic leaves the context signals quiet — for either profile.

The tests may know a profile's vocabulary (they check the simulator); the rules may not.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import yaml
from simkit import (
    Line,
    by_user,
    ground_truth,
    max_distinct,
    normal_lines,
    patient_points,
    read_csv,
)

from simulator.departments import Kind
from simulator.profile import Job, Profile
from simulator.profiles import profile

NON_CLINICAL = (Job.CASHIER, Job.RECEPTIONIST, Job.IT, Job.VENDOR)
CARERS = (Job.DOCTOR, Job.NURSE, Job.MIDWIFE)


def shift_spans(hours: str) -> list[tuple[int, int]] | None:
    """``06:00-14:00+22:00-06:00`` as (start, end) minutes after midnight (the end past
    1440 when it crosses midnight); None when the spans cover the whole day."""
    spans = []
    for part in hours.split("+"):
        a, b = (int(x[:2]) * 60 + int(x[3:]) for x in part.split("-"))
        spans.append((a, b if b > a else b + 1440))
    covered = {m % 1440 for a, b in spans for m in range(a, b)}
    return None if len(covered) == 1440 else spans


class Context:
    """The simulated hospital's context files and ``hospital.yaml``, read back."""

    def __init__(self, out: Path) -> None:
        self.described = yaml.safe_load((out / "hospital.yaml").read_text(encoding="utf-8"))
        self.profile: Profile = profile(self.described["profile"])
        self.maternity_departments = set(self.described["maternity_departments"])
        self.shifts: dict[str, str] = self.described["shifts"]
        self.roster = {r["user_id"]: r for r in read_csv(out / "roster.csv")}
        self.patients = {r["patient_id"]: r for r in read_csv(out / "patients.csv")}
        self.flagged = {r["patient_id"]: r["reason"]
                        for r in read_csv(out / "flagged_patients.csv")}
        self.stations = {r["host_name"]: r for r in read_csv(out / "workstations.csv")}
        self.networks = [ipaddress.ip_network(r["cidr"]) for r in read_csv(out / "networks.csv")]
        self.assigned: dict[str, set[str]] = defaultdict(set)
        for r in read_csv(out / "assignments.csv"):
            self.assigned[r["user_id"]].add(r["department"])
        self.care: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for e in read_csv(out / "encounters.csv"):
            end = datetime.fromisoformat(e["end"]).timestamp() if e["end"] else float("inf")
            self.care[e["patient_id"]].append(
                (e["department"], datetime.fromisoformat(e["start"]).timestamp(), end))

    def job(self, user: str) -> Job:
        return self.profile.job(self.roster[user]["role"])

    def kind(self, department: str) -> Kind:
        return self.profile.kind(department)

    def maternity(self, pid: str | None) -> bool:
        return any(d in self.maternity_departments for d, _, _ in self.care.get(pid or "", ()))

    def cares(self, department: str, pid: str, t: float, grace: float = 86400) -> bool:
        """The department had an encounter with the patient at ``t`` (or ended < grace ago)."""
        return any(d == department and a - 3600 <= t <= b + grace
                   for d, a, b in self.care.get(pid, ()))

    def internal(self, ip: str) -> bool:
        return any(ipaddress.ip_address(ip) in n for n in self.networks)


def quiet(out: Path, lines: list[Line]) -> dict[str, int]:
    """Outside the incidents: what each context rule keys on never happens, or stays far
    below the injected rates. Returns the peaks it measured: ``ward`` (maternity-ward
    nurses' and midwives' distinct patients in an hour), ``nonclinical`` (maternity
    patients non-clinical staff outside the maternity departments open in an hour),
    ``antenatal_desk`` (the same for the antenatal clinics' receptionists: their job)."""
    ctx = Context(out)
    normal = normal_lines(lines, ground_truth(out))
    ward_peak = nonclinical_peak = desk_peak = 0
    services = set(ctx.described["service_departments"])
    for user, mine in by_user(normal).items():
        who = ctx.roster[user]
        job = ctx.job(user)
        if job in NON_CLINICAL:
            points = [(x.t, x.patient or "") for x in mine
                      if x.patient and ctx.maternity(x.patient)]
            if who["department"] in ctx.maternity_departments:
                desk_peak = max(desk_peak, max_distinct(points, 3600))
            else:
                nonclinical_peak = max(nonclinical_peak, max_distinct(points, 3600))
        if who["department"] in ctx.profile.maternity_wards and job in (Job.NURSE,
                                                                         Job.MIDWIFE):
            ward_peak = max(ward_peak, max_distinct(patient_points(mine), 3600))
        hosts = [(x.t, ctx.stations[x.host]["building"]) for x in mine]
        for (t0, b0), (t1, b1) in pairwise(hosts):
            assert b0 == b1 or t1 - t0 > 1800, user  # no building hop within half an hour
        spans = shift_spans(ctx.shifts[who["shift"]])
        for x in mine:
            assert ctx.internal(x.ip), x
            if spans is not None:  # from 15 min before the shift to 70 min after it
                local = datetime.fromisoformat(x.stamp)
                m = local.hour * 60 + local.minute
                assert any(a - 16 <= v <= b + 71 for a, b in spans for v in (m, m + 1440)), x
            if who["vendor"]:
                assert x.module != "reception", x
            if x.patient:
                nid = ctx.patients.get(x.patient, {}).get("national_id")
                assert not nid or nid != who["national_id"], x  # nobody opens their own
            if x.patient in ctx.flagged and job in CARERS and x.department not in services:
                assert ctx.cares(x.department, x.patient, x.t), x
            if who["status"] == "inactive":
                end = datetime.fromisoformat(who["end_date"] + "T09:00:00+07:00").timestamp()
                assert x.t < end + 86400, x
    # non-clinical staff open at most this many maternity patients an hour (the
    # injected non-clinical bulk access: 60 and more)
    assert nonclinical_peak < 40
    return {"ward": ward_peak, "nonclinical": nonclinical_peak, "antenatal_desk": desk_peak}
