"""How patient identifiers are shown to each caller, and counting what was shown.

Hospital IT sees its own patients' real identifiers. Inspectors and the Department see
keyed-HMAC pseudonyms (``alerting.reports.pseudonym``: the hospital id is mixed in, so a
patient keeps one pseudonym per hospital and two hospitals' pseudonyms never collide)
unless the hospital's configuration discloses them (``api.hospitals.<id>``).

Where identifiers hide: an alert's ``context`` and ``group`` under the ``patient.*`` id
keys, and inside text (explanations, incident summaries, notes, status comments, evidence
references). In text, the ids an alert or incident names are replaced wherever they
stand as a whole word, and so is anything matching the hospital's ``patient_id_patterns``
(ids a sentence names that no field carries). Staff identities are shown to every role.

A ``ResponseView`` lives for one request: it renders, and it remembers which identifiers
(real or pseudonymous) went into the response, so the access audit knows whether — and
how many — patient identifiers were shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from api.config import ApiConfig
from api.roles import Role
from phiwatch.service import HmacPseudonymizer

#: Context and group keys whose values are patient identifiers.
PATIENT_ID_KEYS: frozenset[str] = frozenset({
    "patient.id", "patient.reference", "patient.identifier", "patient.keys",
    "patient.national_id", "patient.mrn",
})
_WORD = r"[\w]"


def patient_ids(*sources: Mapping[str, Any]) -> set[str]:
    """The patient identifiers named by these mappings (flat dotted or nested keys)."""
    found: set[str] = set()

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                visit(f"{prefix}.{k}" if prefix else str(k), v)
        elif prefix in PATIENT_ID_KEYS:
            for v in value if isinstance(value, list | tuple | set) else [value]:
                if v is not None and str(v).strip():
                    found.add(str(v).strip())

    for source in sources:
        visit("", source)
    return found


@lru_cache(maxsize=1024)
def _known_regex(ids: tuple[str, ...]) -> re.Pattern[str] | None:
    if not ids:
        return None
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(f"(?<!{_WORD})(?:{alternatives})(?!{_WORD})")


class Hospital:
    """One hospital's rule: reveal or pseudonymize, with its key and its id patterns."""

    def __init__(self, organization_id: str | None, key: bytes, reveal: bool,
                 patterns: list[str]) -> None:
        self.organization_id = organization_id
        self.reveal = reveal
        self._pseudonym = HmacPseudonymizer(key, organization_id or "")
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def show(self, raw: str) -> str:
        return raw if self.reveal else self._pseudonym(raw)


class Disclosure:
    """The deployment's pseudonym key and per-hospital settings."""

    def __init__(self, key: bytes, api: ApiConfig) -> None:
        self._key = key
        self._api = api
        self._hospitals: dict[tuple[str | None, bool], Hospital] = {}

    def hospital(self, organization_id: str | None, role: Role) -> Hospital:
        settings = self._api.hospitals.get(organization_id or "")
        reveal = role == "hospital_it" or bool(settings and settings.disclose_patient_ids)
        cached = self._hospitals.get((organization_id, reveal))
        if cached is None:
            patterns = [*self._api.patient_id_patterns,
                        *(settings.patient_id_patterns if settings else [])]
            cached = Hospital(organization_id, self._key, reveal, patterns)
            self._hospitals[(organization_id, reveal)] = cached
        return cached

    def view(self, role: Role) -> ResponseView:
        return ResponseView(self, role)


class ResponseView:
    """Renders values for one caller and one response; ``shown`` counts what went out."""

    def __init__(self, disclosure: Disclosure, role: Role) -> None:
        self._disclosure = disclosure
        self.role = role
        self._shown: set[tuple[str | None, str]] = set()

    @property
    def shown(self) -> int:
        """How many distinct patient identifiers (per hospital) this response holds."""
        return len(self._shown)

    def reveals(self, organization_id: str | None) -> bool:
        return self._disclosure.hospital(organization_id, self.role).reveal

    def text(self, organization_id: str | None, text: str, known: Iterable[str] = (),
             *, record: bool = True) -> str:
        """``text`` with every known id and pattern match shown as this caller may see it."""
        h = self._disclosure.hospital(organization_id, self.role)
        regexes = [r for r in (_known_regex(tuple(sorted(set(known)))), h.pattern) if r]
        if not regexes or not text:
            return text
        pattern = regexes[0] if len(regexes) == 1 else re.compile(
            "|".join(f"(?:{r.pattern})" for r in regexes))

        def swap(m: re.Match[str]) -> str:
            raw = m.group(0)
            if record:
                self._shown.add((organization_id, raw))
            return h.show(raw)

        return pattern.sub(swap, text)

    def value(self, organization_id: str | None, key: str, value: Any,
              known: Iterable[str]) -> Any:
        """A context or group value: an id key's values shown as ids, other strings as
        text (ids inside them replaced), anything else as it is."""
        h = self._disclosure.hospital(organization_id, self.role)
        if isinstance(value, Mapping):
            return {k: self.value(organization_id, f"{key}.{k}", v, known)
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(organization_id, key, v, known) for v in value]
        if key in PATIENT_ID_KEYS and value is not None and str(value).strip():
            raw = str(value).strip()
            self._shown.add((organization_id, raw))
            return h.show(raw)
        if isinstance(value, str):
            return self.text(organization_id, value, known)
        return value

    def mapping(self, organization_id: str | None, values: Mapping[str, Any],
                known: Iterable[str]) -> dict[str, Any]:
        known = tuple(known)
        return {k: self.value(organization_id, k, v, known) for k, v in values.items()}
