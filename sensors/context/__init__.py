"""Context files and event enrichment: what the hospital knows, added to every event.

The hospital already keeps a staff roster, a list of flagged patients and its patients'
encounters with departments (README, "What the hospital already knows"); with the
internal networks from the configuration they let rules ask "is this account still in
use", "is this person on shift", "does their department care for this patient now". Use::

    context = Context(config.context, default_timezone=config.timezone)
    context.load_all()
    watcher = ContextWatcher(context)
    watcher.start()                    # reloads an edited file within about a second
    enrich = Enricher(context).enrich
    for event in events:
        enrich(event)                  # in place, before the rules
    watcher.stop()

One concept per module: ``config`` (the ``context:`` YAML section), ``csvfile`` (strict
CSV reading, bad rows and rejected files), ``roster``, ``flagged``, ``encounters``,
``networks``, ``shifts`` (the shift vocabulary), ``vocabulary`` (role and department
words to classes), ``localtime`` (UTC offsets without
``datetime``), ``context`` (versions in force, atomic swap), ``watcher``, ``enricher``
(the field list).
"""

from sensors.context.config import ContextConfig, VocabularyConfig
from sensors.context.context import KINDS, Context, FileStatus
from sensors.context.csvfile import FileRejected, LoadReport
from sensors.context.encounters import Encounters, load_encounters
from sensors.context.enricher import Enricher
from sensors.context.flagged import FlaggedPatients, load_flagged
from sensors.context.networks import RFC1918, InternalNetworks
from sensors.context.roster import Roster, StaffMember, load_roster
from sensors.context.shifts import DEFAULT_SHIFTS, Shift, ShiftBook
from sensors.context.vocabulary import Vocabulary
from sensors.context.watcher import ContextWatcher

__all__ = [
    "DEFAULT_SHIFTS",
    "KINDS",
    "RFC1918",
    "Context",
    "ContextConfig",
    "ContextWatcher",
    "Encounters",
    "Enricher",
    "FileRejected",
    "FileStatus",
    "FlaggedPatients",
    "InternalNetworks",
    "LoadReport",
    "Roster",
    "Shift",
    "ShiftBook",
    "StaffMember",
    "Vocabulary",
    "VocabularyConfig",
    "load_encounters",
    "load_flagged",
    "load_roster",
]
