"""``AlertStore`` on Elasticsearch (or OpenSearch), with the spool behind the writes.

``write`` returns once every alert is durable somewhere: in the cluster, in the on-disk
spool (to be sent by the drainer thread when the cluster answers), or in the dead-letter
file (refused by the cluster for good). Reads go to the cluster and raise
``ClusterUnavailable`` when it does not answer. Alerts still in the spool are not yet
visible to reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from alerting.elasticsearch.accounts import ElasticsearchAccounts
from alerting.elasticsearch.audit import ElasticsearchAudit
from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.connection import ServerInfo, build_client, server_info
from alerting.elasticsearch.deadletter import RejectedAlerts
from alerting.elasticsearch.documents import from_source, org_pattern
from alerting.elasticsearch.incidents import ElasticsearchIncidents, ensure_incident_template
from alerting.elasticsearch.notes import ElasticsearchNotes
from alerting.elasticsearch.query import count, day_counts, get_many, search_page
from alerting.elasticsearch.retention import ensure_ilm_policy
from alerting.elasticsearch.spool import Spool
from alerting.elasticsearch.template import ensure_template, ilm_policy_name
from alerting.elasticsearch.writer import AlertWriter, ClusterUnavailable
from alerting.store import AlertDayCount, AlertQuery, WriteResult
from rules.alert import Alert

log = logging.getLogger(__name__)


def prepare_cluster(
    client: Elasticsearch, config: ElasticsearchConfig
) -> tuple[ServerInfo, dict[str, str]]:
    """Template (and ILM policy where there is ILM); the server, and what was done to each."""
    info = server_info(client)
    done: dict[str, str] = {}
    policy: str | None = None
    if config.ilm and info.has_ilm:
        try:
            done["ilm_policy"] = ensure_ilm_policy(client, config)
            policy = ilm_policy_name(config)
        except ApiError as e:  # e.g. no manage_ilm privilege: prune still works
            done["ilm_policy"] = f"failed: {e.message}"
            log.warning("could not install the ILM policy (%s); use prune for retention",
                        e.message)
    else:
        done["ilm_policy"] = ("disabled in the configuration" if not config.ilm
                              else f"unsupported by {info.distribution}: use prune")
    done["template"] = ensure_template(client, config, policy)
    done["incident_template"] = ensure_incident_template(client, config)
    return info, done


class ElasticsearchAlertStore(ElasticsearchIncidents, ElasticsearchNotes, ElasticsearchAudit,
                             ElasticsearchAccounts):
    """``AlertStore`` (and ``IncidentStore``, see ``incidents``; notes, the access audit
    log and console accounts, see ``notes``, ``audit`` and ``accounts``) on a cluster.

    ``read_only`` opens no spool and starts no thread."""

    def __init__(
        self,
        config: ElasticsearchConfig,
        *,
        state_dir: Path | None = None,
        client: Elasticsearch | None = None,
        background: bool = True,
        read_only: bool = False,
    ) -> None:
        self.config = config
        self.client = client or build_client(config)
        self.info: ServerInfo | None = None
        self.writer: AlertWriter | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if read_only:
            return
        spool = Spool(config.spool_path(state_dir), config.spool_max_alerts,
                      config.spool_warn_ratio)
        rejected = RejectedAlerts(config.dead_letter_file(state_dir))
        self.writer = AlertWriter(self.client, config, spool, rejected, prepare=self._prepare)
        if background:
            self._thread = threading.Thread(target=self._drain_loop, name="es-spool-drainer",
                                            daemon=True)
            self._thread.start()
            if len(spool):
                self._wake.set()

    # -- AlertStore ---------------------------------------------------------------------------

    def write(self, alerts: Sequence[Alert]) -> WriteResult:
        writer = self._writer()
        result = writer.write(alerts)
        if result.spooled and not writer.down:
            self._wake.set()
        return result

    def get(self, alert_id: str) -> Alert | None:
        try:
            hits = self.client.search(
                index=self.config.alerts_pattern, query={"term": {"event.id": alert_id}},
                sort=[{"phiwatch.revision": {"order": "desc"}}], size=1,
                allow_no_indices=True, ignore_unavailable=True,
            ).body["hits"]["hits"]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return from_source(hits[0]["_source"]) if hits else None

    def get_many(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        found: dict[str, Alert] = {}
        try:
            sources = get_many(self.client, self.config.alerts_pattern, alert_ids)
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        for source in sources:
            alert = from_source(source)
            known = found.get(alert.id)
            if known is None or alert.revision > known.revision:
                found[alert.id] = alert
        return found

    def day_counts(self, q: AlertQuery, zone: str) -> list[AlertDayCount]:
        index = org_pattern(self.config.index_prefix, q.organization_id)
        try:
            return day_counts(self.client, index, q, zone)
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def query(self, q: AlertQuery) -> list[Alert]:
        index = org_pattern(self.config.index_prefix, q.organization_id)
        try:
            return [from_source(s) for s in search_page(self.client, index, q)]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def count(self, q: AlertQuery) -> int:
        index = org_pattern(self.config.index_prefix, q.organization_id)
        try:
            return count(self.client, index, q)
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def close(self) -> None:
        """Stop the drainer, send what can be sent at once, keep the rest on disk."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.request_timeout + 5)
        if self.writer is not None:
            if not self.writer.down and len(self.writer.spool):
                try:
                    self.writer.drain(deadline=time.monotonic() + self.config.request_timeout)
                except Exception:  # the spool keeps them for the next start
                    log.exception("final drain of the Elasticsearch spool failed")
            self.writer.spool.close()
        self.client.close()

    # -- beyond the protocol ---------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Drain the spool now, waiting out the circuit up to ``timeout``; empty after?"""
        writer = self._writer()
        deadline = time.monotonic() + timeout
        while len(writer.spool):
            if writer.probe_due():
                writer.drain()
                if not len(writer.spool):
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(max(writer.seconds_to_probe(), 0.05), remaining))
        return not len(writer.spool)

    def refresh(self) -> None:
        """Make everything written so far visible to searches (tests, benchmarks)."""
        self.client.indices.refresh(index=self.config.alerts_pattern, allow_no_indices=True,
                                    ignore_unavailable=True)

    def stats(self) -> dict[str, float]:
        """Gauges and counters, flat, for a metrics endpoint or a status line."""
        if self.writer is None:
            return {}
        spool = self.writer.spool.stats()
        w = self.writer.stats
        return {
            "es_cluster_down": float(self.writer.down),
            "es_spool_depth": spool.depth,
            "es_spool_capacity": spool.capacity,
            "es_spool_fill_ratio": spool.fill_ratio,
            "es_spool_oldest_age_seconds": spool.oldest_age_seconds or 0.0,
            "es_spool_refused_total": spool.refused,
            "es_alerts_sent_total": w.sent,
            "es_alerts_created_total": w.created,
            "es_alerts_updated_total": w.updated,
            "es_alerts_unchanged_total": w.unchanged,
            "es_alerts_rejected_total": w.rejected,
            "es_alerts_spooled_total": w.spooled,
            "es_alerts_drained_total": w.drained,
            "es_bulk_retries_total": w.retries,
            "es_outages_total": w.outages,
        }

    @property
    def spool_depth(self) -> int:
        return len(self.writer.spool) if self.writer is not None else 0

    def _writer(self) -> AlertWriter:
        if self.writer is None:
            raise RuntimeError("this Elasticsearch store was opened read-only")
        return self.writer

    def _prepare(self) -> None:
        self.info, done = prepare_cluster(self.client, self.config)
        if done.get("template") != "unchanged":
            log.info("Elasticsearch alert template %s", done["template"])
        advice = self.info.advice(self.config.compat)
        if advice:
            log.warning("store.elasticsearch.compat: %s", advice)

    def _drain_loop(self) -> None:
        writer = self._writer()
        timeout = self.config.drain_interval_seconds
        while not self._stop.is_set():
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            if len(writer.spool) and writer.probe_due():
                try:
                    writer.drain()
                except Exception:  # keep the thread alive; the spool keeps the alerts
                    log.exception("draining the Elasticsearch spool failed")
            timeout = self.config.drain_interval_seconds
            if writer.down:
                timeout = writer.seconds_to_probe() or timeout
