"""Prometheus metrics: a collector over the published ``RunStatus``, an API latency
histogram, and the ``/metrics`` endpoint.

The collector computes nothing on the pipeline's path: each scrape reads the last
``RunStatus`` the run loop published (``phiwatch.run_status``) and turns it into metric
families. The lag is measured at scrape time (wall clock now minus the newest event
released), so a stuck loop shows as a growing lag and a growing
``phiwatch_status_age_seconds`` rather than as frozen numbers. Served either on its own
address (``metrics.listen``, ``serve``) or mounted in the API (``wsgi_app``/``asgi_app``);
the API observes its requests into ``api_latency`` with the route *template* as label
(``/alerts/{id}``, never the raw path: one series per route, not per alert).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    make_asgi_app,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from phiwatch.run_status import RunStatus
from sensors.errors import PhiwatchError

#: Seconds; API requests are mostly a few milliseconds, a search over a year up to seconds.
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: ``Engine.stats()`` key → (metric, kind, help).
_ENGINE = {
    "groups": ("phiwatch_engine_groups", "gauge", "Groups (users, hosts) with open windows"),
    "groups_evicted": ("phiwatch_engine_groups_evicted", "counter",
                       "Groups dropped to bound memory (rules.max_groups_per_rule)"),
    "groups_expired": ("phiwatch_engine_groups_expired", "counter",
                       "Groups whose windows ended with nothing open"),
    "episodes_opened": ("phiwatch_engine_episodes_opened", "counter", "Alert episodes opened"),
    "episodes_closed": ("phiwatch_engine_episodes_closed", "counter", "Alert episodes closed"),
    "suppressed": ("phiwatch_engine_suppressed", "counter", "Alerts suppressed by realert"),
    "rule_failures": ("phiwatch_engine_rule_failures", "counter",
                      "Rule evaluations that raised"),
}
#: Elasticsearch store stats → error kind of ``phiwatch_es_errors_total``.
_ES_ERRORS = {"es_bulk_retries_total": "bulk_retry", "es_outages_total": "outage",
              "es_alerts_rejected_total": "rejected", "es_spool_refused_total": "spool_full"}
_ES_ALERTS = {"es_alerts_created_total": "created", "es_alerts_updated_total": "updated",
              "es_alerts_unchanged_total": "unchanged", "es_alerts_spooled_total": "spooled",
              "es_alerts_drained_total": "drained"}
_NOTIFY_RESULTS = ("queued", "delivered", "retried", "failed")
_NOTIFY_SKIPS = ("throttled", "duplicate", "version_skipped", "below_severity")


class MetricsError(PhiwatchError):
    """The metrics endpoint cannot listen where configured."""

    exit_code = 2


def _counter(name: str, doc: str, value: float | None = None,
             labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value, labels=list(labels) or None)


def _gauge(name: str, doc: str, value: float | None = None,
           labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value, labels=list(labels) or None)


class RunCollector(Collector):
    """Metric families from the ``RunStatus`` that ``status()`` returns at each scrape."""

    def __init__(self, status: Callable[[], RunStatus],
                 clock: Callable[[], float] = time.time) -> None:
        self.status = status
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # names are fixed; no need to collect at registration

    def collect(self) -> Iterator[Metric]:
        s = self.status()
        if not s.published:
            # Before the loop's first status: no counter at all rather than zeros, which
            # Prometheus would read as a reset and count the restored totals again.
            return
        now = self.clock()
        yield _gauge("phiwatch_status_age_seconds",
                     "Seconds since the run loop last published its counters", now - s.taken_at)
        yield _gauge("phiwatch_start_time_seconds", "When this run started (epoch)",
                     s.started_at)
        yield from self._sources(s, now)
        c = s.counters
        yield _counter("phiwatch_events_processed", "Events through the rules",
                       c.get("events", 0))
        yield _counter("phiwatch_events_late", "Events older than the watermark (dead-lettered)",
                       c.get("late", 0))
        dead = _counter("phiwatch_dead_letters", "Records set aside, by kind", labels=["kind"])
        for kind, n in sorted(s.dead_letters.items()):
            dead.add_metric([kind], n)
        yield dead
        yield _counter("phiwatch_quarantined_events",
                       "Events stamped too far ahead (of their file or the clock)", s.quarantined)
        yield from self._rules(s)
        yield from self._store(s.store)
        yield from self._notify(s)
        yield _counter("phiwatch_snapshots", "Snapshots saved", s.snapshots)

    @staticmethod
    def _sources(s: RunStatus, now: float) -> Iterator[Metric]:
        events = _counter("phiwatch_source_events", "Events read, per source", labels=["source"])
        lines = _counter("phiwatch_source_lines", "Lines read, per source", labels=["source"])
        read = _counter("phiwatch_source_read_bytes", "Bytes read, per source",
                        labels=["source"])
        unread = _gauge("phiwatch_source_unread_bytes",
                        "Bytes written to the open files but not yet read", labels=["source"])
        files = _gauge("phiwatch_source_open_files", "Files being tailed", labels=["source"])
        for name, src in sorted(s.sources.items()):
            events.add_metric([name], src.events)
            lines.add_metric([name], src.lines)
            read.add_metric([name], src.bytes_read)
            unread.add_metric([name], src.bytes_unread)
            files.add_metric([name], src.open_files)
        yield from (events, lines, read, unread, files)
        if s.newest_event is not None:
            yield _gauge("phiwatch_newest_event_timestamp_seconds",
                         "Event time of the newest event released to the rules", s.newest_event)
            yield _gauge("phiwatch_lag_seconds", "Wall clock minus the newest event released",
                         max(0.0, now - s.newest_event))

    @staticmethod
    def _rules(s: RunStatus) -> Iterator[Metric]:
        alerts = _counter("phiwatch_alerts", "Alerts raised (every version), by rule and severity",
                          labels=["rule", "severity"])
        for (rule, severity), n in sorted(s.alerts.items()):
            alerts.add_metric([rule, severity], n)
        yield alerts
        matches = _counter("phiwatch_rule_matches", "Events matched, by rule", labels=["rule"])
        for rule, n in sorted(s.rule_matches.items()):
            matches.add_metric([rule], n)
        yield matches
        stored = _counter("phiwatch_alerts_stored", "Alert writes by effect",
                          labels=["result"])
        stored.add_metric(["new"], s.counters.get("alerts_new", 0))
        stored.add_metric(["updated"], s.counters.get("alerts_updated", 0))
        yield stored
        yield _counter("phiwatch_incidents_opened", "Incidents opened",
                       s.counters.get("incidents_new", 0))
        yield _counter("phiwatch_rules_reloads", "Rule reloads", s.counters.get("rules_reloads", 0))
        for key, (name, kind, doc) in _ENGINE.items():
            if key in s.engine:
                yield (_gauge if kind == "gauge" else _counter)(name, doc, s.engine[key])

    @staticmethod
    def _store(stats: Mapping[str, float]) -> Iterator[Metric]:
        if not stats:
            return
        for key, name, doc in (
                ("es_spool_depth", "phiwatch_es_spool_depth", "Alerts waiting in the spool"),
                ("es_spool_capacity", "phiwatch_es_spool_capacity", "Spool capacity (alerts)"),
                ("es_spool_oldest_age_seconds", "phiwatch_es_spool_oldest_age_seconds",
                 "Age of the oldest spooled alert"),
                ("es_cluster_down", "phiwatch_es_cluster_down",
                 "1 while Elasticsearch is unreachable")):
            if key in stats:
                yield _gauge(name, doc, stats[key])
        errors = _counter("phiwatch_es_errors", "Elasticsearch errors by kind", labels=["kind"])
        for key, kind in _ES_ERRORS.items():
            if key in stats:
                errors.add_metric([kind], stats[key])
        yield errors
        written = _counter("phiwatch_es_alerts", "Alerts sent to Elasticsearch, by result",
                           labels=["result"])
        for key, result in _ES_ALERTS.items():
            if key in stats:
                written.add_metric([result], stats[key])
        yield written

    @staticmethod
    def _notify(s: RunStatus) -> Iterator[Metric]:
        sent = _counter("phiwatch_notifications", "Notifications queued and delivery attempts "
                        "by result", labels=["channel", "result"])
        failures = _counter("phiwatch_notification_failures",
                            "Delivery attempts that failed (retried or refused)",
                            labels=["channel"])
        skipped = _counter("phiwatch_notifications_skipped", "Alerts not notified, by reason",
                           labels=["channel", "reason"])
        digested = _counter("phiwatch_notifications_digested", "Alerts collected into digests",
                            labels=["channel"])
        pending = _gauge("phiwatch_notifications_pending", "Deliveries waiting to be sent",
                         labels=["channel"])
        failed = _gauge("phiwatch_notifications_failed",
                        "Deliveries refused for good or given up (operator action)",
                        labels=["channel"])
        waiting = _gauge("phiwatch_notifications_in_digest", "Alerts waiting in a digest",
                         labels=["channel"])
        for name, c in sorted(s.notify.items()):
            for result in _NOTIFY_RESULTS:
                sent.add_metric([name, result], getattr(c, result))
            failures.add_metric([name], c.retried + c.failed)
            for reason in _NOTIFY_SKIPS:
                skipped.add_metric([name, reason], getattr(c, reason))
            digested.add_metric([name], c.digested)
            pending.add_metric([name], c.pending_now)
            failed.add_metric([name], c.failed_now)
            waiting.add_metric([name], c.in_digest_now)
        yield from (sent, failures, skipped, digested, pending, failed, waiting)


class Metrics:
    """The registry of one phiwatch process: the run collector, the API histogram and
    the process's own numbers (CPU, memory, open files)."""

    def __init__(self, status: Callable[[], RunStatus] | None, *, process: bool = True,
                 clock: Callable[[], float] = time.time,
                 collectors: Iterable[Collector] = ()) -> None:
        self.registry = CollectorRegistry()
        if status is not None:
            self.registry.register(RunCollector(status, clock))
        for collector in collectors:  # a remote sensor's own (``phiwatch.sensor``)
            self.registry.register(collector)
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self.api_latency = Histogram(
            "phiwatch_api_request_duration_seconds", "API requests by route template, "
            "method and status", ["route", "method", "status"], registry=self.registry,
            buckets=API_BUCKETS)

    def observe_api(self, route: str, method: str, status: int, seconds: float) -> None:
        self.api_latency.labels(route, method.upper(), str(status)).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format, as ``GET /metrics`` answers."""
        return generate_latest(self.registry)

    def wsgi_app(self) -> Callable[..., Any]:
        return make_wsgi_app(self.registry)

    def asgi_app(self) -> Callable[..., Any]:
        return make_asgi_app(self.registry)

    def serve(self, host: str, port: int) -> MetricsServer:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (port 0: any free)."""
        return MetricsServer(self, host, port)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """``/metrics`` over HTTP on its own thread; ``close()`` stops it."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        server_class = _Server6 if ":" in host else _Server
        try:
            self._server = make_server(host, port, metrics.wsgi_app(),
                                       server_class=server_class, handler_class=_Quiet)
        except OSError as e:
            raise MetricsError(f"cannot listen on {host}:{port}: {e.strerror or e}",
                               key="metrics.listen",
                               hint="choose a free port, or an address of this machine") from e
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="phiwatch-metrics", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
