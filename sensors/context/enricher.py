"""``Enricher``: what the hospital knows about an event's user, patient and address, added
to the event before the rules see it, so Sigma rules can test it like any logged field.

Fields added (a ``user.*`` or ``patient.*`` field the log already has is never
overwritten; ``phiwatch.*`` fields are phiwatch's own):

From the roster, for an account listed in it:

- ``user.roles`` (list), ``user.department``, ``user.full_name``: only when the log lacks
  them; ``user.roster_department`` when the log's department differs from the roster's
  (a transfer not yet in the roster, or a shared account);
- ``user.status`` (``active``, ``inactive``, ``disabled``, …), ``user.end_date``
  (``YYYY-MM-DD``, when there is one), ``user.shift`` (its name, when known),
  ``user.vendor`` (the company's name, or ``true``; only for vendors' accounts);
- ``phiwatch.user.known``: whether the account is in the roster (``false`` for an account
  the roster does not list);
- ``phiwatch.user.vendor`` (bool);
- ``phiwatch.user.terminated`` (bool): the account must not be used at all (status
  disabled, terminated, …) or the event is after its ``end_date`` (see
  :mod:`sensors.context.roster` for "after");
- ``phiwatch.user.off_shift`` (bool) and ``phiwatch.user.off_shift_minutes`` (int): how far
  the event's local time lies outside the user's shift, and whether that is more than
  ``shift_tolerance_minutes``; only when the roster gives a shift. Rules wanting another
  margin than the configured one test the minutes.

From the flagged patients, for an event with a ``patient.id``: ``patient.flags`` (list of
reasons, when flagged) and ``phiwatch.patient.flagged`` (bool).

From the encounters, for an event with a ``patient.id``:

- ``phiwatch.care_relationship`` (bool): the user's department (the roster's, or the
  log's for an account the roster lacks) has an encounter with the patient at the
  event's time;
- ``phiwatch.patient.maternity`` (bool): the patient has an encounter in a maternity
  department (``sensors.context.vocabulary``, and ``maternity_departments``);
- ``phiwatch.patient.in_care`` (bool): the patient has an encounter in any department at
  the event's time;
- ``phiwatch.access.justified`` (bool): the care relationship, or the user's department
  serves every ward and the patient is in care somewhere.

From the vocabulary (``sensors.context.vocabulary``), whenever the roster or the log
gives the word and the word has a class: ``phiwatch.user.role_class``,
``phiwatch.user.department_class`` and ``phiwatch.user.serves_all_wards`` (bool).

From the configuration: ``phiwatch.source.internal`` (bool): ``source.ip`` lies in
``internal_networks`` (absent when ``source.ip`` is not an address).

Fields that depend on a file are added only once that file has loaded, so a missing
encounters file does not make every access look like one without a care relationship.

This runs on every event: its budget is a few microseconds (``bench/enrich_micro.py``).
It reads each file's version once per event (one attribute load; a reload swaps whole
objects), turns the event's ``epoch`` into a local minute with a cached UTC-offset span
rather than a ``datetime``, and answers every question with dict lookups, one ``bisect``
and one index into the shift's precomputed minute table.
"""

from __future__ import annotations

from sensors.context.context import Context
from sensors.context.localtime import ZoneOffsets
from sensors.context.vocabulary import SERVING
from sensors.event import Event


class Enricher:
    """Adds the context fields to events in place; see the module docstring for the list."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._offsets = ZoneOffsets(context.zone)  # this thread's own span cache
        self._lo = 0.0
        self._hi = 0.0  # empty span: the first event looks its offset up
        self._off = 0
        self._tolerance = context.tolerance_minutes

    def __call__(self, event: Event) -> Event:
        """``enrich`` as a transform that hands the event on."""
        self.enrich(event)
        return event

    def enrich(self, event: Event) -> None:
        """Add the context fields to ``event.fields`` (in place)."""
        f = event.fields
        ctx = self.context
        epoch = event.epoch
        roster = ctx.roster
        department = f.get("user.department")
        care_department = department
        #: The department the log itself names, when the roster says another: staff who
        #: moved keep working for their old ward until the roster catches up.
        log_department = department.lower() if type(department) is str else None
        own_national_id = ""
        roles_key: tuple[str, ...] | None = None
        if roster.loaded:
            uid = f.get("user.id")
            staff = roster.staff.get(uid if type(uid) is str else str(uid)) if uid else None
            if staff is None:
                if uid:
                    f["phiwatch.user.known"] = False
                if type(department) is str:
                    care_department = department.lower()
            else:
                f["phiwatch.user.known"] = True
                care_department = staff.department
                own_national_id = staff.national_id
                if department is None:
                    f["user.department"] = staff.department
                elif department != staff.department and (
                    type(department) is not str or department.lower() != staff.department
                ):
                    f["user.roster_department"] = staff.department
                if "user.roles" not in f:
                    f["user.roles"] = list(staff.roles)
                    roles_key = staff.roles  # the tuple the vocabulary's cache is keyed by
                if staff.full_name and "user.full_name" not in f:
                    f["user.full_name"] = staff.full_name
                if "user.status" not in f:
                    f["user.status"] = staff.status
                if staff.end_date and "user.end_date" not in f:
                    f["user.end_date"] = staff.end_date
                vendor = staff.vendor
                if vendor is not False and "user.vendor" not in f:
                    f["user.vendor"] = vendor
                f["phiwatch.user.vendor"] = vendor is not False
                f["phiwatch.user.terminated"] = epoch >= staff.ended_from
                outside = staff.outside
                if outside is not None:
                    if "user.shift" not in f:
                        f["user.shift"] = staff.shift_name
                    if not self._lo <= epoch < self._hi:
                        self._lo, self._hi, self._off = self._offsets.span(epoch)
                    minutes = outside[int((epoch + self._off) // 60) % 1440]
                    f["phiwatch.user.off_shift_minutes"] = minutes
                    f["phiwatch.user.off_shift"] = minutes > self._tolerance
        elif type(department) is str:
            care_department = department.lower()

        # Classes, never the hospital's own words, are what shipped rules test.
        vocab = ctx.vocabulary
        roles = f.get("user.roles")
        if roles:
            role_class = vocab.roles_class(
                roles_key if roles_key is not None
                else roles if type(roles) is list else [str(roles)])
            if role_class is not None:
                f["phiwatch.user.role_class"] = role_class
        serves_all = False
        if type(care_department) is str:
            department_class = vocab.department_class(care_department)
            if department_class is not None:
                f["phiwatch.user.department_class"] = department_class
                serves_all = department_class in SERVING
                f["phiwatch.user.serves_all_wards"] = serves_all

        pid = f.get("patient.id")
        if pid:
            if type(pid) is not str:
                pid = str(pid)
            flagged = ctx.flagged
            if flagged.loaded:
                reasons = flagged.reasons.get(pid)
                if reasons is None:
                    f["phiwatch.patient.flagged"] = False
                else:
                    f["phiwatch.patient.flagged"] = True
                    if "patient.flags" not in f:
                        f["patient.flags"] = list(reasons)
            encounters = ctx.encounters
            if encounters.loaded:
                caring = f["phiwatch.care_relationship"] = (
                    type(care_department) is str
                    and encounters.has(pid, care_department, epoch)
                ) or (
                    log_department is not None and log_department != care_department
                    and encounters.has(pid, log_department, epoch)
                )
                f["phiwatch.patient.maternity"] = pid in encounters.maternity
                in_care = f["phiwatch.patient.in_care"] = encounters.in_care(pid, epoch)
                # Why this person may open this record: their department cares for the
                # patient, or it serves every ward (laboratory, imaging, pharmacy,
                # cashier, registration) and the patient is in care somewhere.
                f["phiwatch.access.justified"] = caring or (serves_all and in_care)
            patients = ctx.patients
            if patients.loaded and own_national_id:
                f["phiwatch.patient.own_record"] = (
                    patients.national.get(pid) == own_national_id)

        workstations = ctx.workstations
        if workstations.loaded:
            building = workstations.building(f.get("host.name"), f.get("source.ip"))
            if building is not None:
                f["phiwatch.source.building"] = building

        ip = f.get("source.ip")
        if type(ip) is str:
            internal = ctx.networks.contains(ip)
            if internal is not None:
                f["phiwatch.source.internal"] = internal
