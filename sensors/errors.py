"""The root of every error phiwatch raises on purpose, and its branches.

Every such error says *where* (a file, a line, a configuration key, a field) and *what to
do*, so that the command line can print it as one line and pick an exit code without
knowing the error's module: ``PhiwatchError.exit_code`` is 2 for a configuration or usage
mistake the operator must fix, 1 for a failure at run time. Anything else that escapes is
a bug, and is reported as one.

The root lives in the first stage of the pipeline because every later stage may import
from ``sensors`` (the event type and this module), never the other way round.
"""

from __future__ import annotations


class PhiwatchError(Exception):
    """An error with a location and an operator-facing message.

    ``file``, ``line`` and ``key`` are whichever apply; ``hint`` says what to do about it.
    ``str()`` gives the one-line form: ``where: message (hint)``.
    """

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.hint = hint

    @property
    def where(self) -> str:
        """``file:line: key`` with whatever parts are known ("" when none)."""
        parts = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.key is not None:
            parts.append(self.key)
        return ": ".join(parts)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ConfigKeyError(PhiwatchError):
    """A configuration value that cannot be used; names the key."""

    exit_code = 2

    def __init__(self, key: str, message: str, *, file: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, file=file, key=key, hint=hint)


class InputError(PhiwatchError):
    """An input (a log line, a capture, a context file) that cannot be read as it is."""


class RuleDefinitionError(PhiwatchError):
    """A rule that cannot be loaded or evaluated as written."""

    exit_code = 2


class StoreError(PhiwatchError):
    """The alert store refused or is unreachable; nothing was lost, but work stopped."""
