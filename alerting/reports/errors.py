"""One root for every error of the report library, carrying what failed.

``ReportError`` descends from the project's root error (``sensors.errors.PhiwatchError``),
so the command line prints it as one line. ``what`` names the failing thing (a file, a hospital, a
delivery id, a field) so a message can say which, without parsing the text.
"""

from __future__ import annotations

from sensors.errors import PhiwatchError


class ReportError(PhiwatchError):
    """Base of the report errors. ``what`` names what failed; the text says why."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why


class FactsError(ReportError, ValueError):
    """The incident, its alerts or the hospital profile cannot make a report."""


class FontError(ReportError):
    """No usable serif with full Vietnamese coverage for the PDF."""


class RenderError(ReportError):
    """A document could not be produced (DOCX or PDF)."""


class NumberingError(ReportError):
    """A report number could not be drawn (database locked for too long, bad input)."""


class SigningError(ReportError):
    """A key or a payload cannot be signed."""


class VerificationError(ReportError):
    """A signed report was refused: signature, algorithm, hospital, schema or hashes."""


class ForgeryError(VerificationError):
    """The signature does not prove the hospital signed it: an unknown hospital or key, an
    algorithm not allowed or not fitting the key, or a signature that does not verify."""


class LateWithoutReasonError(ReportError):
    """A notification sent after the 72-hour deadline needs a reason for the delay."""


class DeliveryError(ReportError):
    """The outbox or a channel is misconfigured or its database failed."""


class ReportsNotConfigured(ReportError):
    """This phiwatch is not set up for what was asked (no issuing hospital, no inbox)."""


class ReportStateError(ReportError):
    """Not now: the incident is not a confirmed leak, there is no draft, or the report is
    in a state that does not allow it."""


class ReportNotFound(ReportError, LookupError):
    """No such report (or not one the caller may see)."""
