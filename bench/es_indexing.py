"""How fast alerts reach Elasticsearch through the writer, and how fast a full spool drains.

Against osmem-server (in-memory, same machine), in one run:

1. index N alerts through ``ElasticsearchAlertStore.write`` in pipeline-sized batches
   (external versions, per-item checks, dead-letter/spool bookkeeping);
   peer: ``elasticsearch.helpers.bulk`` of the very same documents with plain ``index``
   actions on the same client and server, the least a Python program can do;
2. spool S alerts while the cluster is unreachable (fsync per write call), then start
   the store against the server and time ``flush`` until the spool is empty.

    .venv/bin/python bench/es_indexing.py [--alerts 20000] [--spooled 100000] [--batch 500]

The figures are for this machine and osmem-server; a real cluster differs (it refreshes,
replicates, and writes to disk). Read the ratio to the peer, not the absolute rate.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elasticsearch import helpers  # noqa: E402
from osmem_server import OsmemServer  # noqa: E402

from alerting.elasticsearch import ElasticsearchAlertStore, ElasticsearchConfig  # noqa: E402
from alerting.elasticsearch.documents import index_for, to_document  # noqa: E402
from alerting.store import AlertQuery  # noqa: E402
from rules.alert import Alert, EventRef, alert_id  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def alerts(n: int, offset: int = 0) -> list[Alert]:
    out = []
    for i in range(offset, offset + n):
        start = T0 + timedelta(seconds=37 * i)
        user = f"nv{i % 4000:05d}"
        ref = EventRef(f"/var/log/his/access.log:{i}", f"ev{i}", start)
        out.append(Alert(
            id=alert_id("phiwatch-his-bulk-patient-lookup", {"user.id": user}, start),
            rule_id="phiwatch-his-bulk-patient-lookup",
            rule_title="Bulk patient lookup by one user",
            severity=("medium", "high", "critical")[i % 3],
            group={"user.id": user},
            window_start=start,
            window_end=start + timedelta(hours=1),
            event_count=300 + i % 50,
            value_count=120 + i % 200,
            explanation=(f"{user} viewed {120 + i % 200} patients in 1 h; own 30-day p99 is "
                         f"25; nurses in san-a p99 is 41"),
            first_event=ref,
            last_event=ref,
            sample=[ref] * 5,
            organization_id="tu-du",
            tags=["attack.collection"],
            context={"user.name": "Nguyễn Thị Lan", "user.roles": ["nurse"],
                     "source.ip": "10.20.3.45", "host.name": "WS-SAN-A-03"},
            metrics={"threshold": 120.0, "own.p99": 25.0, "peer.p99": 41.0},
            revision=1,
        ))
    return out


def config(url: str, folder: Path, **extra: object) -> ElasticsearchConfig:
    return ElasticsearchConfig.model_validate({
        "hosts": [url], "compat": "opensearch", "spool_dir": str(folder),
        "spool_max_alerts": 1_000_000, "max_retries": 0, "request_timeout": 60, **extra,
    })


def bench_writer(server: OsmemServer, batch: list[Alert], size: int, folder: Path) -> float:
    with server.clone() as clone:
        store = ElasticsearchAlertStore(config(clone.url, folder), background=False)
        store.write(batch[:1])  # template, connection
        t = time.perf_counter()
        for k in range(1, len(batch), size):
            store.write(batch[k : k + size])
        elapsed = time.perf_counter() - t
        store.refresh()
        assert store.count(AlertQuery()) == len(batch)
        store.close()
    return (len(batch) - 1) / elapsed


def bench_peer(server: OsmemServer, batch: list[Alert], size: int, folder: Path) -> float:
    with server.clone() as clone:
        store = ElasticsearchAlertStore(config(clone.url, folder), background=False)
        store.write(batch[:1])  # the same template, so the server does the same work
        client = store.client
        actions = [{"_index": index_for("phiwatch", a), "_id": a.id, "_source": to_document(a)}
                   for a in batch[1:]]
        t = time.perf_counter()
        helpers.bulk(client, actions, chunk_size=size)
        elapsed = time.perf_counter() - t
        store.close()
    return len(actions) / elapsed


def bench_spool(server: OsmemServer, n: int, size: int, folder: Path) -> tuple[float, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = ElasticsearchAlertStore(config(nowhere, folder), background=False)
    batch = alerts(n, offset=10_000_000)
    t = time.perf_counter()
    for k in range(0, n, size):
        down.write(batch[k : k + size])
    spool_time = time.perf_counter() - t
    assert down.spool_depth == n
    down.close()
    with server.clone() as clone:
        up = ElasticsearchAlertStore(config(clone.url, folder, bulk_size=1000),
                                     background=False)
        t = time.perf_counter()
        assert up.flush(timeout=3600)
        drain_time = time.perf_counter() - t
        up.refresh()
        assert up.count(AlertQuery()) == n
        up.close()
    return spool_time, drain_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--spooled", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    batch = alerts(args.alerts + 1)
    with OsmemServer.start(japanese=False) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        peer = bench_peer(server, batch, args.batch, folder / "peer")
        ours = bench_writer(server, batch, args.batch, folder / "writer")
        print(f"indexing {args.alerts} alerts, {args.batch} per write, osmem-server "
              f"{server.version}:")
        print(f"  phiwatch writer       {ours:10,.0f} alerts/s")
        print(f"  peer helpers.bulk     {peer:10,.0f} alerts/s   (writer/peer {ours / peer:.2f})")
        spool_time, drain_time = bench_spool(server, args.spooled, args.batch, folder / "spool")
        print(f"spool of {args.spooled} alerts (cluster unreachable, fsync per write):")
        print(f"  spooled in            {spool_time:10.2f} s  "
              f"({args.spooled / spool_time:,.0f} alerts/s)")
        print(f"  drained in            {drain_time:10.2f} s  "
              f"({args.spooled / drain_time:,.0f} alerts/s)")


if __name__ == "__main__":
    main()
