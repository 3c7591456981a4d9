"""Hospital simulator: realistic, deterministic HIS access logs with labelled leaks.

Two hospitals (profiles, :mod:`simulator.profiles`) with nothing in common but the
machinery: the default ``maternity`` one (English role words, ``san-a``-style department
codes, ``day``/``evening``/``night``/``oncall24``) and a ``general`` hospital
(``HospitalSpec.small("general")``: Vietnamese titles, department abbreviations, its own
rotas, an antenatal clinic, staff in two departments). Rules must work on both.

``simulate(HospitalSpec.small(), out_dir, days=1, seed=7)`` writes:

- ``his/access-YYYY-MM-DD.log``: canonical HIS JSON lines (README, "Event fields"), one file
  per local day, in time order, ``@timestamp`` with the zone's offset (``+07:00``);
- ``roster.csv`` (``user_id, full_name, role, department, status, end_date, shift,
  vendor, national_id``): the department is the one at the end of the period (a few
  staff move in its middle: their earlier events carry the old one, and the patients
  they open follow the new department from the move); ``status`` is ``active`` or
  ``inactive`` (left; ``end_date`` is the last working day, before or during the period);
  for vendor accounts ``end_date`` is the contract's end and ``vendor`` the company;
  ``national_id`` is the 12-digit citizen identity number (:mod:`.identity`);
- ``flagged_patients.csv`` (``patient_id, reason``; reasons ``public_figure``,
  ``staff_member``, ``protection_order``, ``confidential_adoption``, ``police_case``);
- ``encounters.csv`` (``patient_id, department, start, end``; from ``history_days`` before
  the period; ``end`` empty while still admitted at the end of the period);
- ``patients.csv`` (``patient_id, full_name, sex, birth_date, registered, mother_id,
  national_id``): a staff member who is also a patient has the same ``national_id`` on
  both rows — the link for "a user opening their own record" (never the name: about 38 %
  of Vietnamese are Nguyễn); newborns have none;
- ``workstations.csv`` (``host_name, ip, department, building``: the profile's address
  plan, :class:`simulator.netplan.Site`, which the network simulator reuses),
  ``networks.csv`` (``cidr, name``: the hospital's own address ranges) and
  ``assignments.csv`` (``user_id, department``: the departments an account may choose at
  login; two for staff who work in two, whose log shows the one of the day);
- ``hospital.yaml``: what the hospital's IT team knows — each roster shift word's hours,
  the maternity, postpartum, neonatal, antenatal and service departments, the networks
  (:mod:`.hospitalfile`);
- ``ground_truth.json``: ``{"generator", "organization.id", "organization.name",
  "timezone", "seed", "start", "days", "events", "incidents": [...]}``; each incident has
  ``id, kind, description, user.id, user.name, user.role, user.department, source.ip,
  host.name, start, end`` (ISO 8601 with offset; first and last event of the incident),
  ``patients`` (distinct patients
  touched, or records exported), ``events``, ``counts`` (``events``, ``patients`` and
  kind-specific numbers such as ``failed_logins``); never a detection rule's id (which
  rules should catch which kind is ``phiwatch.groundtruth``'s business).
  Kinds: the four of :mod:`.incidents` that fixed thresholds catch, and the eleven of
  :mod:`.patterns` that need context, baselines or sequences. ``HospitalSpec.small()``
  injects the four only (``phiwatch demo`` fails on a missed incident); ``large`` and
  both general presets all;
- with ``pcap=True`` (the default): ``net/capture-YYYY-MM-DD.pcap`` per day, the traffic of
  the same hospital day (workstations talk only while the HIS log has them in use) with
  five labelled network incidents, ``lookup_then_upload`` among them (HIS lookups, then
  an upload from the same workstation) and ``ward_harvest_upload`` (another ward's
  mothers opened slowly over several afternoons, then a modest upload; :mod:`.wardharvest`;
  not in ``small()``, whose demo runs one day), and ``net/network.yaml``, the ``network:``
  section describing it (:mod:`.nettraffic`, :mod:`.netincidents`, :mod:`.netplan`);
  ``networks.csv`` lists the servers' range too, with or without a capture.

Normal-traffic bounds. Detection thresholds rest on these; they hold for every user
outside the injected incidents, for any preset and ``activity``, and the tests check them:

- distinct patients opened (view, print or export with a ``patient.id``) by one user in
  any sliding hour: at most 76, by construction (at least 48 s between the end of one
  patient task and the start of the next). Measured peaks: laboratory technicians about
  55 (small) and 46 (large); emergency doctors and nurses 20–30; ward staff below 20.
- views by one user in any sliding minute: at most 8 by construction (at most four views
  a task, two tasks a minute); measured peak 4.
- ``his.record_count`` of a normal export or print: at most 200 (billing's daily export
  20–200, billing reports 10–150, lab worklists 10–120, ward lists 8–40, a patient's own
  document 1); of a search: 1–50 (one page).
- failed logins on one account in any five minutes: at most 2 (one or two typos, then
  the successful login within 30 s; logins of one person are at least 25 minutes apart).
- context signals (checked outside incidents, ``tests/simulator/test_patterns.py``): no
  event from outside ``networks.csv``; no account in two buildings within 30 minutes; no
  vendor opens a ``reception`` (identity and contact) record; nobody opens their own
  record; doctors, nurses and midwives open a flagged patient only while their
  department has an encounter with them (from an hour before its start to 24 hours after
  its end: revisits and notes) — other departments' consults never open flagged records,
  as a break-the-glass prompt would make them; the services (laboratory, imaging,
  pharmacy, billing, reception) open any patient, flagged or not, without an encounter;
  non-clinical staff open at most about 15 maternity patients an hour (measured 9–13
  over a week of ``large``, tested below 40); maternity nurses and midwives at most
  about 21 distinct patients an hour (tested below 30);
- activity happens in the user's shift (``day`` 07–16, ``evening`` 14–22, ``night`` 19–07,
  ``oncall24`` 07–07; the general hospital's hours are in its ``hospital.yaml``), from a
  quarter of an hour before its start to at most 70 minutes after its end (late logout,
  overtime).

The general hospital keeps every bound above (tested on its normal traffic too), and its
roles differ in volume as a real one's do: ward nurses and midwives work from a caseload
(a median of about a dozen distinct patients a day, at most about 30), the antenatal
clinic's receptionists register 150–180 mothers a day each (``large``), laboratory
technicians open 300 and more, and staff who work in two departments show the one of
the day.

Sizes: ``small`` (246 accounts) writes about 73,000 events for a weekday; ``large`` (1,506
accounts) 310,000–325,000 on weekdays and 240,000–275,000 at weekends, 300,000 a day
averaged over a week; a week of it is written in about 12 seconds. The general hospital:
``small`` 215 accounts, about 43,000 events a weekday; ``large`` 639 accounts, about
128,000 on a weekday and 103,000 a day averaged over a week. Busy normal staff: an
emergency doctor's day shift has about 200 views, a laboratory technician's about 500
views and 400 result updates.
"""

from simulator.simulate import DEFAULT_START, SimulationResult, simulate
from simulator.spec import HospitalSpec

__all__ = ["DEFAULT_START", "HospitalSpec", "SimulationResult", "simulate"]
