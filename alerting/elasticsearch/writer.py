"""Bulk writes of alerts, with retries, the spool when the cluster is away, and dead letters.

Keeping the highest revision: every alert is indexed with ``_id`` = alert id and external
versioning, ``version`` = the alert's revision. The cluster then takes a write only if its
revision is higher than the stored one; an equal or lower one is answered 409, which is
counted as "unchanged" (the store already holds that version or a later one). So a retry,
a replay and a spool drained twice after a crash all converge on one document holding the
highest revision, whatever order the writes arrive in. (``op_type=create`` would keep the
first revision forever, and Elasticsearch refuses ``create`` with external versions.)

Per item: 2xx counts, 409 is "already there", 429/502/503/504 is retried, anything else
(a mapping conflict, a closed index) goes to the dead-letter file with the reason and is
not retried. Per request: connection errors, timeouts and 429/5xx/401/403 are retried with
exponential backoff and jitter, then the alerts go to the spool and the writer stops
calling the cluster (the circuit opens) until the drainer finds it back.

While the spool holds anything, new alerts queue behind it, so alerts reach the cluster
in the order they came.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.connection import describe_error
from alerting.elasticsearch.deadletter import RejectedAlerts, Rejection
from alerting.elasticsearch.documents import index_for, to_document
from alerting.elasticsearch.spool import Spool
from alerting.store import WriteResult
from rules.alert import Alert
from sensors.errors import StoreError

log = logging.getLogger(__name__)

RETRY_ON_STATUS = frozenset({429, 502, 503, 504})
#: Whole-request errors that are about the connection, the cluster or the configuration
#: (wrong credentials, wrong ``compat``, a proxy in the way), never about the alerts: the
#: request is retried, then spooled. Only a 400 about the body, or a 413, is the alerts'.
_CLUSTER_ERROR_TYPES = frozenset({
    "media_type_header_exception", "security_exception", "cluster_block_exception",
    "status_exception",
})

Outcome = Literal["created", "updated", "unchanged", "rejected", "retry"]


class ClusterUnavailable(StoreError):
    """The cluster did not take a request after the retries; the message says why."""


@dataclass
class SendReport:
    """Per alert, in input order, what became of it; the rejections; the last error."""

    outcomes: list[Outcome]
    rejections: list[Rejection] = field(default_factory=list)
    error: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o == outcome)


@dataclass
class WriterStats:
    """Counters since start, for ``check`` and for tests."""

    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    spooled: int = 0
    drained: int = 0
    retries: int = 0
    outages: int = 0


class AlertWriter:
    """Writes alerts to the cluster, or to the spool while it is away."""

    def __init__(
        self,
        client: Elasticsearch,
        config: ElasticsearchConfig,
        spool: Spool,
        rejected: RejectedAlerts,
        *,
        prepare: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.config = config
        self.spool = spool
        self.rejected = rejected
        self.stats = WriterStats()
        self._prepare = prepare
        self._prepared = False
        self._sleep = sleep
        self._lock = threading.RLock()
        self._down = False
        self._down_since = 0.0
        self._next_probe = 0.0
        self._probe_delay = 0.0
        self.last_error: str | None = None

    # -- the two entry points -------------------------------------------------------------

    def write(self, alerts: Sequence[Alert]) -> WriteResult:
        """Send ``alerts`` now, or spool them; returns once they are durable somewhere."""
        if not alerts:
            return WriteResult()
        with self._lock:
            if self._down or len(self.spool):
                self.spool.append(alerts)
                self.stats.spooled += len(alerts)
                return WriteResult(spooled=len(alerts))
            report = self._send(alerts, self.config.max_retries)
            retry = [a for a, o in zip(alerts, report.outcomes, strict=True) if o == "retry"]
            if retry:
                self._outage(report.error)
                self.spool.append(retry)
                self.stats.spooled += len(retry)
            return WriteResult(
                inserted=report.count("created"),
                updated=report.count("updated"),
                unchanged=report.count("unchanged"),
                spooled=len(retry),
                rejected=report.count("rejected"),
            )

    def drain(self, deadline: float | None = None) -> int:
        """Send spooled alerts, oldest first, until empty, the cluster fails, or
        ``deadline`` (``time.monotonic``) passes; how many left the spool."""
        done = 0
        while deadline is None or time.monotonic() < deadline:
            with self._lock:
                entries = self.spool.peek(self.config.bulk_size)
                if not entries:
                    break
                report = self._send([e.alert for e in entries], retries=0)
                finished = [e for e, o in zip(entries, report.outcomes, strict=True)
                            if o != "retry"]
                done += self.spool.ack(finished)
                self.stats.drained += len(finished)
                if len(finished) < len(entries):
                    self._outage(report.error)
                    break
                self._recovered()
        return done

    # -- circuit ----------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self._down

    def probe_due(self) -> bool:
        """Whether the drainer should try the cluster now."""
        return not self._down or time.monotonic() >= self._next_probe

    def seconds_to_probe(self) -> float:
        return max(0.0, self._next_probe - time.monotonic()) if self._down else 0.0

    def _outage(self, error: str | None) -> None:
        self.last_error = error
        self._prepared = False  # a cluster that comes back may be a fresh, empty one
        if not self._down:
            self._down = True
            self._down_since = time.monotonic()
            self.stats.outages += 1
            self._probe_delay = max(self.config.initial_backoff_seconds, 0.5)
            log.warning("Elasticsearch is unavailable (%s): alerts go to the spool %s until "
                        "it answers", error, self.spool.path)
        else:
            self._probe_delay = min(self._probe_delay * 2,
                                    max(self.config.max_backoff_seconds, 0.5))
        self._next_probe = time.monotonic() + self._probe_delay

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("Elasticsearch answers again after %.0f s; sending the spool "
                        "(%d alert(s) left)", time.monotonic() - self._down_since,
                        len(self.spool))

    # -- one bulk, with retries --------------------------------------------------------------

    def _send(self, alerts: Sequence[Alert], retries: int) -> SendReport:
        outcomes: list[Outcome | None] = [None] * len(alerts)
        report = SendReport(outcomes=[])
        pending: list[int] = []
        lines: dict[int, tuple[str, bytes]] = {}
        for i, a in enumerate(alerts):
            problem = _unsendable(a)
            if problem is None:
                try:
                    index = index_for(self.config.index_prefix, a)
                    lines[i] = (index, _bulk_lines(index, a))
                    pending.append(i)
                    continue
                except (TypeError, orjson.JSONEncodeError) as e:
                    problem = f"cannot serialize the alert: {e}"
            outcomes[i] = "rejected"
            report.rejections.append(Rejection(a, "", 0, "phiwatch_invalid_alert", problem))
        if pending and not self._ensure_prepared(report):
            pending = []  # all stay "retry"
        for start in range(0, len(pending), self.config.bulk_size):
            chunk = pending[start : start + self.config.bulk_size]
            self._send_chunk(alerts, chunk, lines, outcomes, report, retries)
        report.outcomes = [o or "retry" for o in outcomes]
        self._count(report)
        return report

    def _ensure_prepared(self, report: SendReport) -> bool:
        """Install the template before the first write after start or after an outage."""
        if self._prepared or self._prepare is None:
            return True
        try:
            self._prepare()
        except (TransportError, ApiError) as e:
            report.error = describe_error(e)
            return False
        self._prepared = True
        return True

    def _send_chunk(
        self,
        alerts: Sequence[Alert],
        chunk: list[int],
        lines: dict[int, tuple[str, bytes]],
        outcomes: list[Outcome | None],
        report: SendReport,
        retries: int,
    ) -> None:
        todo = chunk
        for attempt in range(retries + 1):
            if attempt:
                self.stats.retries += 1
                self._sleep(self._backoff(attempt))
            try:
                items = self._bulk([lines[i][1] for i in todo])
            except TransportError as e:  # connection, timeout, TLS, garbled reply
                report.error = describe_error(e)
                continue
            except ApiError as e:
                report.error = describe_error(e)
                if not _alerts_fault(e):
                    continue
                if e.status_code == 413 and len(todo) > 1:  # too large: halve it
                    half = len(todo) // 2
                    for part in (todo[:half], todo[half:]):
                        self._send_chunk(alerts, part, lines, outcomes, report, retries)
                    return
                # The cluster calls this request wrong: split until the alert at fault is
                # alone, then it is a rejection like any per-item one.
                if len(todo) > 1:
                    half = len(todo) // 2
                    for part in (todo[:half], todo[half:]):
                        self._send_chunk(alerts, part, lines, outcomes, report, 0)
                    return
                i = todo[0]
                outcomes[i] = "rejected"
                report.rejections.append(Rejection(alerts[i], lines[i][0], e.status_code,
                                                   _error_type(e.body), str(e.message)))
                return
            again: list[int] = []
            for i, item in zip(todo, items, strict=True):
                result = next(iter(item.values()))
                status = int(result.get("status", 500))
                if 200 <= status < 300:
                    outcomes[i] = "updated" if result.get("result") == "updated" else "created"
                elif status == 409:
                    outcomes[i] = "unchanged"
                elif status in RETRY_ON_STATUS:
                    again.append(i)
                    report.error = f"HTTP {status}: {_reason(result)}"
                else:
                    outcomes[i] = "rejected"
                    error = result.get("error") or {}
                    report.rejections.append(Rejection(
                        alerts[i], str(result.get("_index", lines[i][0])), status,
                        str(error.get("type", "unknown")) if isinstance(error, dict) else "",
                        _reason(result),
                    ))
            todo = again
            if not todo:
                return

    def _bulk(self, lines: list[bytes]) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self.config.refresh != "false":
            kwargs["refresh"] = self.config.refresh
        # Lines are serialized with orjson already; the NDJSON serializer passes bytes on.
        body = self.client.bulk(operations=cast(Any, lines), **kwargs).body
        items: list[dict[str, Any]] = body.get("items", [])
        if len(items) != len(lines):
            raise TransportConnectionError(
                f"bulk answered {len(items)} items for {len(lines)} alerts"
            )
        return items

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter, so hosts recovering together are not hit together."""
        base = min(self.config.max_backoff_seconds,
                   self.config.initial_backoff_seconds * 2.0 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    def _count(self, report: SendReport) -> None:
        s = self.stats
        s.sent += len(report.outcomes)
        s.created += report.count("created")
        s.updated += report.count("updated")
        s.unchanged += report.count("unchanged")
        if report.rejections:
            s.rejected += len(report.rejections)
            self.rejected.write(report.rejections)
            for r in report.rejections[:5]:
                log.error("Elasticsearch refused alert %s (%s %s: %s); kept in %s",
                          r.alert.id, r.status, r.error_type, r.reason, self.rejected.path)


def _bulk_lines(index: str, alert: Alert) -> bytes:
    action = {"index": {"_index": index, "_id": alert.id, "version": alert.revision,
                        "version_type": "external"}}
    return (orjson.dumps(action) + b"\n"
            + orjson.dumps(to_document(alert), option=orjson.OPT_NON_STR_KEYS))


def _unsendable(alert: Alert) -> str | None:
    if not 0 <= alert.revision < 2**63:
        return f"revision {alert.revision} is not a version Elasticsearch accepts (0 … 2^63-1)"
    if not alert.id or len(alert.id.encode()) > 512:
        return "the alert id is empty or longer than 512 bytes"
    return None


def _alerts_fault(e: ApiError) -> bool:
    """Whether a failed bulk request is refused for what it carries (not for where it went)."""
    if e.status_code == 413:
        return True
    return e.status_code == 400 and _error_type(e.body) not in _CLUSTER_ERROR_TYPES


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        reason = str(error.get("reason", ""))
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause['reason']})"
        return reason
    return str(error or "")


def _error_type(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", "unknown"))
    return "unknown"


