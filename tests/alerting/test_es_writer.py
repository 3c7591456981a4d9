"""The writer over real HTTP: bulk, idempotence, revisions, rejections, retries, spooling.

Faults come from a recording proxy in front of osmem-server that answers some requests
itself (a 503, a bulk whose items say 429) and forwards the rest.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from es_testkit import Seen, es_config, make_alert, recording_proxy

from alerting.elasticsearch import (
    ElasticsearchAlertStore,
    SpoolFullError,
    resend_rejected,
)
from alerting.elasticsearch.deadletter import read_rejected
from alerting.store import AlertQuery, WriteResult
from phiwatch.render.elasticsearch import format_resend

_JSON = {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"}


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _bulks(seen: list[Seen]) -> list[Seen]:
    return [s for s in seen if s.path.startswith("/_bulk")]


def test_bulk_writes_are_idempotent(osmem_clone: Any, tmp_path: Path) -> None:
    store = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path, bulk_size=7),
                                    background=False)
    alerts = [make_alert(n) for n in range(50)]
    assert store.write(alerts) == WriteResult(inserted=50)
    assert store.write(alerts) == WriteResult(unchanged=50)
    assert store.write(alerts[:10] + alerts[:10]) == WriteResult(unchanged=20)
    assert store.count(AlertQuery()) == 50
    hits = store.client.search(index="phiwatch-alerts-*", size=0, track_total_hits=True)
    assert hits.body["hits"]["total"]["value"] == 50
    store.close()


def test_a_lower_revision_never_overwrites_a_higher_one(osmem_clone: Any, tmp_path: Path) -> None:
    store = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    late = [make_alert(n, revision=2) for n in range(5)]
    early = [make_alert(n, revision=1) for n in range(5)]
    assert store.write(late) == WriteResult(inserted=5)
    assert store.write(early) == WriteResult(unchanged=5)
    for a in late:
        got = store.get(a.id)
        assert got is not None and got.to_dict() == a.to_dict()
    assert store.write([make_alert(0, revision=3)]) == WriteResult(updated=1)
    store.close()


def test_refused_alerts_go_to_the_dead_letter_file_and_the_rest_is_written(
    osmem_clone: Any, tmp_path: Path
) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    store = ElasticsearchAlertStore(config, background=False)
    store.write([make_alert(0)])  # installs the template
    # A hand-made index whose mapping contradicts ours: every alert for it is refused.
    store.client.indices.create(index="phiwatch-alerts-bv-khac-2026.11", mappings={
        "properties": {"event": {"properties": {"severity": {"type": "ip"}}}}})
    good = [make_alert(n) for n in range(1, 4)]
    bad = make_alert(9, organization_id="bv-khac")
    with recording_proxy(osmem_clone.url) as proxy:
        via = ElasticsearchAlertStore(es_config(proxy.url, tmp_path / "p"), background=False)
        result = via.write([good[0], bad, *good[1:]])
        via.close()
    assert result == WriteResult(inserted=3, rejected=1)
    assert len(_bulks(proxy.seen)) == 1  # refused for good: not retried
    entries = list(read_rejected(tmp_path / "p" / "spool" / "rejected.ndjson"))
    assert [e["alert_id"] for e in entries] == [bad.id]
    assert entries[0]["status"] == 400 and entries[0]["error_type"] == "mapper_parsing_exception"
    assert "event.severity" in entries[0]["reason"]
    assert entries[0]["alert"] == bad.to_dict()
    assert store.count(AlertQuery()) == 4
    # The cause is fixed (the bad index goes); the refused alert is sent again.
    store.client.indices.delete(index="phiwatch-alerts-bv-khac-2026.11")
    config_p = es_config(osmem_clone.url, tmp_path / "p")
    resent = resend_rejected(config_p, store)
    assert (resent.read, resent.result) == (1, WriteResult(inserted=1))
    assert "1 new" in format_resend(resent)
    assert not (tmp_path / "p" / "spool" / "rejected.ndjson").exists()
    assert resend_rejected(config_p, store).read == 0
    assert store.count(AlertQuery()) == 5
    store.close()


def test_an_invalid_revision_is_refused_before_sending(osmem_clone: Any, tmp_path: Path) -> None:
    store = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    result = store.write([make_alert(1), dataclasses.replace(make_alert(2), revision=-1)])
    assert result == WriteResult(inserted=1, rejected=1)
    [entry] = read_rejected(tmp_path / "spool" / "rejected.ndjson")
    assert "revision -1" in entry["reason"]
    store.close()


def test_503_and_per_item_429_are_retried_with_backoff(osmem_clone: Any, tmp_path: Path) -> None:
    failures = {"503": 2, "429": 1}

    def flaky(seen: Seen) -> tuple[int, dict[str, str], bytes] | None:
        if not seen.path.startswith("/_bulk"):
            return None
        if failures["503"]:
            failures["503"] -= 1
            return 503, _JSON, b'{"error":"unavailable","status":503}'
        if failures["429"]:
            failures["429"] -= 1
            n = seen.body.count(b"\n") // 2
            items = [{"index": {"status": 429, "error": {"type": "es_rejected_execution_exception",
                                                          "reason": "queue full"}}}] * n
            return 200, _JSON, orjson.dumps({"errors": True, "items": items})
        return None

    with recording_proxy(osmem_clone.url) as proxy:
        proxy.responder = flaky
        store = ElasticsearchAlertStore(es_config(proxy.url, tmp_path, max_retries=3),
                                        background=False)
        result = store.write([make_alert(n) for n in range(5)])
        assert store.writer is not None
        assert store.writer.stats.retries == 3
        store.close()
    assert result == WriteResult(inserted=5)
    assert len(_bulks(proxy.seen)) == 4


def test_alerts_spool_when_retries_run_out_and_drain_when_it_is_back(
    osmem_clone: Any, tmp_path: Path
) -> None:
    down = {"on": True}

    def overloaded(seen: Seen) -> tuple[int, dict[str, str], bytes] | None:
        if down["on"] and seen.path.startswith("/_bulk"):
            return 429, _JSON, b'{"error":"too many requests","status":429}'
        return None

    with recording_proxy(osmem_clone.url) as proxy:
        proxy.responder = overloaded
        store = ElasticsearchAlertStore(es_config(proxy.url, tmp_path, max_retries=1),
                                        background=False)
        assert store.write([make_alert(n) for n in range(4)]) == WriteResult(spooled=4)
        assert store.writer is not None and store.writer.down
        sent = len(_bulks(proxy.seen))
        assert sent == 2  # the try and one retry
        # While the circuit is open, writes go straight to the spool, behind the others.
        assert store.write([make_alert(n) for n in range(4, 6)]) == WriteResult(spooled=2)
        assert len(_bulks(proxy.seen)) == sent
        assert store.spool_depth == 6
        gauges = store.stats()
        assert gauges["es_cluster_down"] == 1.0 and gauges["es_spool_depth"] == 6
        assert gauges["es_outages_total"] == 1 and gauges["es_bulk_retries_total"] == 1
        down["on"] = False
        assert store.flush(timeout=10)
        assert store.count(AlertQuery()) == 6
        # Back to direct writes.
        assert store.write([make_alert(7)]) == WriteResult(inserted=1)
        store.close()


def test_an_unreachable_cluster_spools_and_another_host_takes_over(
    osmem_clone: Any, tmp_path: Path
) -> None:
    alone = ElasticsearchAlertStore(es_config(_dead_url(), tmp_path / "a", max_retries=0),
                                    background=False)
    assert alone.write([make_alert(1)]) == WriteResult(spooled=1)
    assert alone.writer is not None and "ConnectionError" in (alone.writer.last_error or "")
    alone.close()
    pair = ElasticsearchAlertStore(
        es_config(_dead_url(), tmp_path / "b").model_copy(
            update={"hosts": [_dead_url(), osmem_clone.url]}),
        background=False,
    )
    assert pair.write([make_alert(n) for n in range(3)]) == WriteResult(inserted=3)
    pair.close()


def test_the_drainer_thread_sends_the_spool_without_being_asked(
    osmem_clone: Any, tmp_path: Path
) -> None:
    blocked = {"on": True}

    def gate(seen: Seen) -> tuple[int, dict[str, str], bytes] | None:
        if blocked["on"] and seen.path.startswith("/_bulk"):
            return 503, _JSON, b'{"error":"down","status":503}'
        return None

    with recording_proxy(osmem_clone.url) as proxy:
        proxy.responder = gate
        store = ElasticsearchAlertStore(es_config(proxy.url, tmp_path, max_retries=0))
        assert store.write([make_alert(n) for n in range(3)]).spooled == 3
        blocked["on"] = False
        for _ in range(200):
            if store.spool_depth == 0:
                break
            time.sleep(0.05)
        assert store.spool_depth == 0
        assert store.count(AlertQuery()) == 3
        store.close()


def test_a_full_spool_refuses_what_does_not_fit(tmp_path: Path) -> None:
    store = ElasticsearchAlertStore(
        es_config(_dead_url(), tmp_path, max_retries=0, spool_max_alerts=3), background=False)
    with pytest.raises(SpoolFullError) as full:
        store.write([make_alert(n) for n in range(5)])
    assert len(full.value.refused) == 2
    assert store.spool_depth == 3
    assert store.stats()["es_spool_refused_total"] == 2
    store.close()
