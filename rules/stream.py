"""The extension point for rules that measure a stream: a Protocol and a registry.

A Sigma detection matches single events. Some of what a hospital needs is a measurement
over the stream of one rule's matches — a user's daily volume against their own history
and their peers (``phiwatch.baseline``), runs of consecutive patient ids
(``phiwatch.sequence``), connections at clock-like intervals (``phiwatch.beacon``). Each of
these is a *stream extension*: a block under ``phiwatch:`` in the rule file, parsed at load
time into a spec, and a state the engine feeds with the rule's matches.

An extension is one module that builds a ``StreamExtension`` and passes it to ``register``
(as pySigma backends and httpx transports are plugged in: a declared interface and a
dict keyed by name). The loader reads every registered key from a rule's ``phiwatch:``
block; the engine creates the extension's state; ``phiwatch rules test`` asks the state to
``describe`` itself. Nothing else names an extension. See ``docs/architecture.md`` for a
recipe, and ``rules.baseline``, ``rules.enumeration`` and ``rules.beacon`` for the shipped
ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rules.alert import Alert
from rules.explain import register_sentence
from rules.limits import LimitGuard
from rules.state import Adder

if TYPE_CHECKING:
    from rules.model import DetectionRule

#: Event time now (the engine's watermark), for states that close periods on the clock.
Clock = Callable[[], float]


class StreamState(Protocol):
    """What the engine needs of a stream extension's state for one rule.

    ``groups`` is sized for statistics and bounded through ``guard``; ``opened``,
    ``closed`` and ``evicted`` count episodes and dropped groups.
    """

    @property
    def groups(self) -> Sized:
        """The tracked groups (users, callers …), for statistics and limits."""

    opened: int
    closed: int
    evicted: int
    #: The state's group limit (``rules.limits``): the engine sets the limit; the state
    #: asks it to make room before it adds a group.
    guard: LimitGuard
    #: Set by the engine when rules over alerts read this rule's alerts
    #: (``rules.alert_events``): the state passes the current version of an open episode
    #: after each event that grows it; ``None`` otherwise.
    progress: Callable[[Alert], None] | None

    def adder(self, base: DetectionRule) -> Adder:
        """The function the engine calls with each event the rule matched."""

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        """Close what the watermark has passed; ``full`` looks at every group."""

    def open_alerts(self) -> list[Alert]:
        """The current version of every open episode (at a flush), which stays open."""

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data."""

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from ``snapshot()``'s data."""

    def describe(self) -> list[str]:
        """One line per group, for ``phiwatch rules test``."""


class SpecParser(Protocol):
    def __call__(self, block: Any) -> Any:
        """The block under ``phiwatch.<key>`` as a spec; raises ``SpecError`` naming the key."""


class StateFactory(Protocol):
    def __call__(self, rule: DetectionRule, sample_size: int, clock: Clock) -> StreamState:
        """A fresh state for ``rule`` (whose ``stream.spec`` this extension parsed)."""


@dataclass(frozen=True, slots=True)
class StreamExtension:
    """One stream extension: its key under ``phiwatch:``, its parser and its state.

    ``sentence`` is the explanation used when the rule has no ``explain`` of its own and
    ``placeholders`` the numbers the state adds to its alerts (so they are not mistaken
    for event fields).
    """

    key: str
    parse: SpecParser
    state: StateFactory
    sentence: str
    placeholders: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Stream:
    """A detection rule's stream extension and its parsed spec."""

    extension: StreamExtension
    spec: Any


_REGISTRY: dict[str, StreamExtension] = {}


def register(extension: StreamExtension) -> StreamExtension:
    """Make ``extension`` available to every rule loaded from now on (idempotent by key)."""
    if extension.key in RESERVED:
        raise ValueError(f"'phiwatch.{extension.key}' is a key of the rule format itself")
    _REGISTRY[extension.key] = extension
    register_sentence(extension.key, extension.sentence, extension.placeholders)
    return extension


def extensions() -> Mapping[str, StreamExtension]:
    """The registered extensions by key (a read-only view)."""
    _load_builtins()
    return _REGISTRY


#: Keys of the ``phiwatch:`` block that are not stream extensions.
RESERVED = frozenset({"explain", "context", "realert", "realert_by", "ordered_counts"})


def _load_builtins() -> None:
    """Import the shipped extensions, which register themselves (once)."""
    import rules.baseline
    import rules.beacon
    import rules.enumeration  # noqa: F401
