"""Patient identifiers inside sentences become pseudonyms before a report quotes them.

The annex lists pseudonyms only, but the report also quotes the alerts' sentences and the
analysts' notes, and those name patients ("opened flagged patient BN2026070962 …"). A
report leaves the hospital, so every patient id it would quote is replaced: the ids the
alerts and the evidence name (wherever they stand as a whole word) and anything matching
the hospital's patient id patterns (ids only a sentence names).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Alert context and group keys whose values are patient identifiers (as the API's).
PATIENT_ID_KEYS: frozenset[str] = frozenset({
    "patient.id", "patient.reference", "patient.identifier", "patient.keys",
    "patient.national_id", "patient.mrn",
})


def patient_ids(values: Mapping[str, Any]) -> set[str]:
    """The patient ids a flat (dotted) context or group names."""
    found: set[str] = set()
    for key, value in values.items():
        if key not in PATIENT_ID_KEYS or value is None:
            continue
        for v in value if isinstance(value, list | tuple | set) else [value]:
            if v is not None and str(v).strip():
                found.add(str(v).strip())
    return found


class Masker:
    """Replaces known ids and pattern matches in text with ``pseudonymize(id)``."""

    def __init__(self, pseudonymize: Callable[[str], str], known: Iterable[str] = (),
                 patterns: Iterable[str] = ()) -> None:
        self._pseudonymize = pseudonymize
        alternatives = [re.escape(i) for i in sorted(set(known), key=len, reverse=True) if i]
        parts = [f"(?<![\\w])(?:{'|'.join(alternatives)})(?![\\w])"] if alternatives else []
        parts += [f"(?:{p})" for p in patterns]
        self._regex = re.compile("|".join(parts)) if parts else None

    def __call__(self, text: str) -> str:
        if self._regex is None or not text:
            return text
        return self._regex.sub(lambda m: self._pseudonymize(m.group(0)), text)
