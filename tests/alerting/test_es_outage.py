"""Nothing lost while the cluster is away, nor when phiwatch itself is killed.

* The cluster stops (the osmem-server process is closed) while alerts keep coming; a
  fresh, empty server comes up on the same address; every alert raised during the outage
  arrives exactly once, at its highest revision.
* phiwatch is killed with SIGKILL right after alerts went to the spool; the next start
  sends them.
* phiwatch dies after the cluster took a spooled batch but before the spool forgot it;
  the next start sends the batch again and the cluster counts it as already there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from es_testkit import es_config, make_alert, start_osmem

from alerting.elasticsearch import ElasticsearchAlertStore, setup
from alerting.elasticsearch.spool import Spool
from alerting.store import WriteResult

ROOT = Path(__file__).resolve().parents[2]


def _ids_once(store: ElasticsearchAlertStore) -> dict[str, int]:
    """Every stored alert id with its revision, asserting none is stored twice."""
    store.refresh()
    found = store.client.search(index="phiwatch-alerts-*", size=10_000,
                                source_includes=["event.id", "phiwatch.revision"])
    hits = found.body["hits"]["hits"]
    ids = [h["_source"]["event"]["id"] for h in hits]
    assert len(ids) == len(set(ids)), "an alert is stored twice"
    return {h["_source"]["event"]["id"]: h["_source"]["phiwatch"]["revision"] for h in hits}


def test_alerts_raised_while_the_cluster_is_down_arrive_exactly_once(tmp_path: Path) -> None:
    first = start_osmem()
    address = urlsplit(first.url).netloc
    config = es_config(first.url, tmp_path, max_retries=1, request_timeout=2)
    store = ElasticsearchAlertStore(config)  # with its drainer thread, as in production
    try:
        assert store.write([make_alert(n) for n in range(5)]) == WriteResult(inserted=5)
        first.close()

        during = [make_alert(n) for n in range(100, 160)]
        spooled = 0
        for k in range(0, len(during), 7):  # alerts keep coming, a few at a time
            spooled += store.write(during[k : k + 7]).spooled
        # Re-emissions during the outage: a later revision, then a stale one.
        later = [make_alert(n, revision=2) for n in range(100, 110)]
        stale = [make_alert(n, revision=1) for n in range(100, 110)]
        spooled += store.write(later).spooled + store.write(stale).spooled
        assert spooled == len(during) + 20
        assert store.spool_depth == len(during)  # one row per alert

        second = start_osmem(addr=address)  # empty: nothing of before survived
        try:
            assert setup(config).done["template"] == "installed"
            assert store.flush(timeout=30)
            stored = _ids_once(store)
            assert stored == {a.id: (2 if n < 10 else 0) for n, a in enumerate(during)}
            for a in later:
                got = store.get(a.id)
                assert got is not None and got.to_dict() == a.to_dict()
            # And life goes on: direct writes again.
            assert store.write([make_alert(999)]) == WriteResult(inserted=1)
        finally:
            store.close()
            second.close()
    finally:
        first.close()


def test_the_writer_reinstalls_the_template_on_a_cluster_that_came_back_empty(
    tmp_path: Path,
) -> None:
    first = start_osmem()
    address = urlsplit(first.url).netloc
    config = es_config(first.url, tmp_path, max_retries=0, request_timeout=2)
    store = ElasticsearchAlertStore(config, background=False)
    store.write([make_alert(1)])
    first.close()
    assert store.write([make_alert(2)]).spooled == 1
    second = start_osmem(addr=address)
    try:
        assert store.flush(timeout=30)  # no setup() call this time
        mapping = store.client.indices.get_mapping(index="phiwatch-alerts-*").body
        [index] = mapping.values()
        assert index["mappings"]["properties"]["source"]["properties"]["ip"]["type"] == "ip"
    finally:
        store.close()
        second.close()


_CHILD = textwrap.dedent("""
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from pathlib import Path
    from es_testkit import es_config, make_alert
    from alerting.elasticsearch import ElasticsearchAlertStore
    config = es_config({url!r}, Path({folder!r}), max_retries=0, request_timeout=1)
    store = ElasticsearchAlertStore(config, background=False)
    total = 0
    for k in range(0, 40, 8):
        total += store.write([make_alert(n) for n in range(k, k + 8)]).spooled
    print("SPOOLED", total, flush=True)
    sys.stdin.read()  # wait to be killed
""")


def test_spooled_alerts_survive_kill_9(osmem_clone: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}"
    code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests" / "support"), url=nowhere,
                         folder=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["SPOOLED", "40"]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    store = ElasticsearchAlertStore(es_config(osmem_clone.url, tmp_path), background=False)
    assert store.spool_depth == 40
    assert store.flush(timeout=30)
    assert len(_ids_once(store)) == 40
    store.close()


def test_a_batch_sent_but_not_forgotten_before_a_crash_is_not_duplicated(
    osmem_clone: Any, tmp_path: Path
) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    spool = Spool(config.spool_path(), config.spool_max_alerts)
    spool.append([make_alert(n, revision=1) for n in range(30)])
    spool.close()
    store = ElasticsearchAlertStore(config, background=False)
    assert store.writer is not None
    # What a drain does up to the moment of the crash: the cluster takes the batch...
    taken = store.writer._send([e.alert for e in store.writer.spool.peek(30)], retries=0)
    assert taken.count("created") == 30
    store.writer.spool.close()  # ... and the process dies before acknowledging it.
    store.client.close()

    again = ElasticsearchAlertStore(config, background=False)
    assert again.writer is not None and again.spool_depth == 30
    assert again.flush(timeout=30)
    assert again.writer.stats.unchanged == 30 and again.writer.stats.created == 0
    assert len(_ids_once(again)) == 30
    again.close()
