"""The composition root: a validated configuration becomes a pipeline.

Everything that turns configuration into running parts is here and nowhere else: the
rules and the engine, the hospital's context and the network model (one enrichment
chain), the inputs and their event-time merge, the dead-letter file, the alert store's
incident grouper and the processor between them. ``phiwatch run``, ``phiwatch replay``,
``phiwatch rules test``, the demo, the benches and the API get their pipeline from
``assemble``; they differ only in how they drive it (``phiwatch.runner``,
``phiwatch.replay``).
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.grouping import IncidentGrouper
from alerting.incident_store import IncidentStore
from alerting.store import AlertStore
from phiwatch.config import Config
from phiwatch.inputs import Inputs
from phiwatch.processor import Enrich, Processor
from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.context import Context, Enricher
from sensors.deadletter import DeadLetter
from sensors.errors import ConfigKeyError
from sensors.event import NETWORK_DNS, NETWORK_FLOW, Event
from sensors.flows.network_model import NetworkTagger

log = logging.getLogger(__name__)


def relax_gc() -> None:
    """Make Python's cyclic garbage collector run rarely, for the event loop.

    The pipeline allocates millions of short-lived objects (events, their field dicts,
    window entries) that never form cycles, while the rule engine keeps a large, growing
    state. With the default thresholds the collector ran thousands of times a second,
    rescanning that state: measured, about 20 % of replay time. Objects that exist at
    start-up (pySigma, the compiled rules) are frozen out of collection; cycles are still
    collected, just less often.
    """
    gc.freeze()
    gc.set_threshold(200_000, 20, 50)


def load_context(config: Config) -> Context | None:
    """The hospital's context files, loaded; ``None`` when none is configured."""
    if not config.context.files():
        return None
    ctx_config = config.context
    if "internal_networks" not in ctx_config.model_fields_set:
        # One list of the hospital's networks: `network.internal` unless set here too.
        ctx_config = ctx_config.model_copy(update={"internal_networks": config.network.internal})
    context = Context(ctx_config, config.timezone)
    context.load_all()
    for kind, status in context.status.items():
        if status.last_error:
            log.warning("context file %s not loaded: %s", kind, status.last_error)
    return context


def enrichment(config: Config, context: Context | None) -> Enrich:
    """The one enrichment step: the network model tags flows and DNS events, the
    hospital's context files add what they know to every event (after the tags).

    One function call per event, not a chain of steps: it runs on every event, and the
    network model has nothing to add to the HIS events that make up most of them."""
    tag = NetworkTagger(config.network).tag
    if context is None:
        return tag
    add_context = Enricher(context).enrich
    network = (NETWORK_FLOW, NETWORK_DNS)

    def enrich(event: Event) -> None:
        if event.fields.get("event.dataset") in network:
            tag(event)
        add_context(event)

    return enrich


def build_engine(config: Config, ruleset: RuleSet | None = None) -> Engine:
    """The engine over the configured rules; broken rules are logged and left out."""
    if ruleset is None:
        ruleset = load_rules(config.rules.paths)
    for error in ruleset.errors:
        log.warning("rule not loaded: %s", error)
    return Engine(
        ruleset,
        lateness_seconds=config.rules.lateness_seconds,
        sample_size=config.rules.sample_size,
        # Sweeping closes finished episodes and frees idle windows; its timing changes no
        # alert (tested), so it runs every 10 s of event time rather than every second.
        sweep_seconds=10.0,
        max_groups=config.rules.max_groups_per_rule,
        max_groups_total=config.rules.max_groups_total,
    )


def check_rules(config: Config, ruleset: RuleSet) -> None:
    """A monitor with no rules watches nothing: a missing rule folder or an empty rule set
    stops the start (broken single rules are logged and left out, as before)."""
    for path in config.rules.paths:
        if not path.exists():
            raise ConfigKeyError("rules.paths", f"{path}: no such file or folder",
                                 hint="fix the path, or leave rules.paths out for the "
                                      "shipped packs")
    if not ruleset.rules:
        shown = ", ".join(map(str, config.rules.paths))
        raise ConfigKeyError("rules.paths", f"no rule could be loaded from {shown}",
                             hint="`phiwatch rules validate` lists what is wrong")


def build_grouper(config: Config, store: AlertStore) -> IncidentGrouper | None:
    """The incident grouper over ``store``, if the store keeps incidents."""
    if not isinstance(store, IncidentStore):
        return None
    return IncidentGrouper(store, timedelta(hours=config.incidents.gap_hours))


def event_time_detection(processor: Processor) -> Callable[[Sequence[Alert]], datetime]:
    """When a replay detects alerts: when the live run would have, on event time — the
    latest window end among them (a threshold crossed, a window closed), never past the
    newest event the engine has seen. So a replay's incidents, their 72-hour clocks and
    the deadline warnings all run on the time of the logs."""
    def detected(alerts: Sequence[Alert]) -> datetime:
        engine = processor.engine
        newest = engine.watermark + engine.lateness_seconds
        latest = max((a.window_end for a in alerts), default=None)
        if not math.isfinite(newest):
            return latest or datetime.now(UTC)
        seen = datetime.fromtimestamp(newest, UTC)
        return min(latest, seen) if latest is not None else seen
    return detected


@dataclass
class Pipeline:
    """The parts of one pipeline, wired: inputs → enrichment → engine → store."""

    config: Config
    ruleset: RuleSet
    engine: Engine
    store: AlertStore
    dead_letter: DeadLetter
    inputs: Inputs
    processor: Processor
    context: Context | None

    def close(self) -> None:
        """Close the inputs and the dead-letter file (not the store: its owner does)."""
        self.inputs.close()
        self.dead_letter.close()


def assemble(
    config: Config,
    store: AlertStore,
    *,
    live: bool,
    dead_letter: Path,
    ruleset: RuleSet | None = None,
    on_alert: Callable[[Alert], None] | None = None,
) -> Pipeline:
    """Build the pipeline ``config`` describes, writing to ``store``.

    ``live``: ``run`` (quiet inputs stop holding event time back; the wall clock bounds
    it) rather than a replay of complete files. The caller adds the inputs
    (``Inputs.add_source``/``add_files``/``add_flows``) and drives it.
    """
    ruleset = ruleset if ruleset is not None else load_rules(config.rules.paths)
    check_rules(config, ruleset)
    engine = build_engine(config, ruleset)
    dead_letter.parent.mkdir(parents=True, exist_ok=True)
    dead = DeadLetter(dead_letter)
    context = load_context(config)
    processor = Processor(engine, store, dead, on_alert=on_alert,
                          enrich=enrichment(config, context),
                          grouper=build_grouper(config, store))
    if not live:
        processor.detected_at = event_time_detection(processor)
    inputs = Inputs(config, dead, live=live)
    return Pipeline(config, ruleset, engine, store, dead, inputs, processor, context)
