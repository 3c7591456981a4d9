"""The operations parts wired as ``phiwatch run`` will wire them (``phiwatch.operations``):
a real pipeline over HIS log lines with injected incidents, the notifier posting to a
local webhook, the metrics scraped over HTTP."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from runkit import hospital_lines

from alerting.notify.status import notify_status
from phiwatch.assembly import assemble
from phiwatch.config import load_config
from phiwatch.operations import Operations
from phiwatch.stores import open_store


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_alerts_reach_the_webhook_and_the_metrics(tmp_path: Path,
                                                  webhook: tuple[str, list[bytes]]) -> None:
    url, received = webhook
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_bytes(b"".join(hospital_lines(3000)))
    (tmp_path / "phiwatch.yaml").write_text(f"""
organization: {{id: bv-test, name: Bệnh viện Thử}}
state_dir: state
sources: [{{name: his, paths: [logs/*.log]}}]
notify:
  min_severity: medium
  channels:
    - {{type: webhook, name: it, url: "{url}", secret: 0123456789abcdef0123, allow_http: true}}
metrics: {{listen: "127.0.0.1:0"}}
logging: {{format: json}}
""", encoding="utf-8")
    cfg = load_config(tmp_path / "phiwatch.yaml")
    ops = Operations.open(cfg, background=False)           # rounds driven below
    store = open_store(cfg)
    raised = []
    pipeline = assemble(cfg, store, live=False, dead_letter=cfg.dead_letter_dir / "r.ndjson",
                        on_alert=ops.alert_callback(raised.append))
    try:
        pipeline.inputs.add_files([tmp_path / "logs" / "access.log"])
        for batch in pipeline.inputs.batches(500):
            pipeline.processor.process(batch)
        pipeline.processor.commit(pipeline.engine.flush())
        assert ops.notifier is not None and ops.server is not None
        ops.notifier.run_due()                              # now: the wall clock
        assert ops.publish(pipeline, force=True)
        with urllib.request.urlopen(ops.server.url, timeout=10) as r:
            text = r.read().decode()
    finally:
        ops.close()
        pipeline.close()
        store.close()
    wanted = [a for a in raised if a.severity in ("medium", "high", "critical")]
    assert wanted
    notified = [a for body in received for a in json.loads(body)["alerts"]]
    ids = [a["id"] for a in notified]
    assert len(ids) == len(set(ids))                            # one notification per alert
    assert set(ids) <= {a.id for a in wanted}                   # nothing below the threshold
    # Every rule and user that raised an alert worth it was heard of (realert keeps one).
    assert {(a["rule_id"], a["group"].get("user.id")) for a in notified} == \
        {(a.rule_id, a.group.get("user.id")) for a in wanted}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert sum(v for (name, _), v in samples.items() if name == "phiwatch_alerts_total") \
        == len(raised)
    assert samples[("phiwatch_notifications_total",
                    (("channel", "it"), ("result", "delivered")))] == len(received)
    assert samples[("phiwatch_source_events_total", (("source", "his"),))] == 3000
    status = notify_status(cfg.notify, cfg.state_dir)            # as the CLI will show it
    assert status.ok and status.channels[0].delivered == len(received)
