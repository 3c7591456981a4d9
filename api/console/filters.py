"""The filter forms of the incident and alert lists: what was typed, checked.

A form sends every field, empty ones included; an empty field is no filter. Values are
checked against the same vocabularies as the API (statuses, severities, sorts) and a
bad one is a 422 naming the field. Dates are days in the configured zone: ``from`` is
the start of its day, ``to`` the end of its day.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from api.errors import Invalid
from api.routes.common import MAX_FILTER
from phiwatch.service import ALERT_SORTS, INCIDENT_SORTS, SEVERITIES, STATUSES

MAX_CURSOR = 2048


def _text(value: str | None, field: str, limit: int = MAX_FILTER) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise Invalid(f"{field}: at most {limit} characters", field=field)
    return value.strip()


def _choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    text = _text(value, field)
    if text is not None and text not in allowed:
        raise Invalid(f"{field}: one of {', '.join(allowed)}", field=field)
    return text


def _day(value: str | None, field: str) -> date | None:
    text = _text(value, field, 10)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{field}: a day as YYYY-MM-DD", field=field) from None


@dataclass(frozen=True, slots=True)
class Filters:
    """One list's filters as the form shows them (strings, empty for none)."""

    hospital: str | None = None
    status: str | None = None
    severity: str | None = None
    rule: str | None = None
    user: str | None = None
    start: date | None = None
    end: date | None = None
    words: str | None = None
    sort: str | None = None

    @classmethod
    def read(cls, *, kind: str, hospital: str | None, status: str | None,
             severity: str | None, rule: str | None, user: str | None, start: str | None,
             end: str | None, words: str | None, sort: str | None) -> Filters:
        sorts = tuple(INCIDENT_SORTS if kind == "incidents" else ALERT_SORTS)
        f = cls(hospital=_text(hospital, "query.hospital"),
                status=_choice(status, "query.status", STATUSES) if kind == "incidents"
                else None,
                severity=_choice(severity, "query.severity", SEVERITIES),
                rule=_text(rule, "query.rule"), user=_text(user, "query.user"),
                start=_day(start, "query.start"), end=_day(end, "query.end"),
                words=_text(words, "query.words"), sort=_choice(sort, "query.sort", sorts))
        if f.start is not None and f.end is not None and f.end < f.start:
            raise Invalid("query.end: must not be before query.start", field="query.end")
        return f

    @property
    def start_time(self) -> datetime | None:
        """The start of the ``start`` day (no offset: the API reads it in the zone)."""
        return datetime.combine(self.start, datetime.min.time()) if self.start else None

    @property
    def end_time(self) -> datetime | None:
        """The end of the ``end`` day."""
        if self.end is None:
            return None
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())

    def params(self) -> dict[str, Any]:
        """The form's values, for links to the next page."""
        return {k: (v.isoformat() if isinstance(v, date) else v)
                for k, v in asdict(self).items() if v is not None}


def text(value: str | None, field: str) -> str | None:
    """One free-text filter: empty is none, too long a 422 naming the field."""
    return _text(value, field)


def choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    """One filter from a vocabulary: empty is none, another value a 422."""
    return _choice(value, field, allowed)


def cursor(value: str | None) -> str | None:
    if value is None or not value:
        return None
    if len(value) > MAX_CURSOR:
        raise Invalid("query.cursor: not a cursor this console made", field="query.cursor")
    return value
