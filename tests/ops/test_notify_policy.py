"""Which alerts become notifications: threshold, once per alert, realert on event time,
digests, retries and a restart, with recording channels on a real SQLite state file."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import orjson
from opskit import SENDER, T0, Recorder, alert, notify_config

from alerting.notify.notifier import Notifier
from alerting.notify.status import notify_status, requeue_failed
from alerting.reports.outbox import Outcome, State

WEBHOOK = {"type": "webhook", "name": "it-webhook", "url": "https://siem.bv.local/hook",
           "secret": "s" * 32}
MAIL = {"type": "email", "name": "it-mail", "host": "mail.bv.local", "sender": "pw@bv.local",
        "to": ["it@bv.local", "ciso@bv.local"]}


def _notifier(tmp_path: Path, *channels: dict[str, object], rec: dict[str, Recorder] | None = None,
              **top: object) -> tuple[Notifier, dict[str, Recorder]]:
    config = notify_config(*(channels or (WEBHOOK,)), **top)
    rec = rec if rec is not None else {c.name: Recorder() for c in config.channels}
    return Notifier(config, sender=SENDER, state_dir=tmp_path, channels=rec), rec


def _sent_ids(r: Recorder) -> list[str]:
    return [p.report_id for p, _, _ in r.sent]


def test_threshold_and_one_notification_per_alert(tmp_path: Path) -> None:
    n, rec = _notifier(tmp_path, min_severity="high")
    low = alert(severity="medium", user="nv1")
    a = alert()
    n.submit([low, a], now=T0)
    n.submit([a], now=T0)                       # re-raised after a restart: same id
    n.run_due(T0)
    (parcel, target, _), = rec["it-webhook"].sent
    assert parcel.report_id == f"it-webhook/alert/{a.id}/0" and target == WEBHOOK["url"]
    assert orjson.loads(parcel.jws)["alerts"][0]["id"] == a.id
    s = n.stats()["it-webhook"]
    assert (s.queued, s.below_severity, s.duplicate, s.delivered) == (1, 1, 1, 1)


def test_later_versions_and_final_are_sent_only_when_asked(tmp_path: Path) -> None:
    ws = T0 - timedelta(minutes=55)
    first, grown, final = (alert(window_start=ws, revision=r, final=f, at=T0 + timedelta(minutes=m))
                           for r, f, m in ((0, False, 0), (1, False, 5), (2, True, 20)))
    quiet, rq = _notifier(tmp_path / "a")
    for a in (first, grown, final):
        quiet.submit([a], now=T0)
    quiet.run_due(T0)
    assert _sent_ids(rq["it-webhook"]) == [f"it-webhook/alert/{first.id}/0"]
    assert quiet.stats()["it-webhook"].version_skipped == 2

    final_only, rf = _notifier(tmp_path / "b", send_final=True)
    for a in (first, grown, final):
        final_only.submit([a], now=T0)
    final_only.run_due(T0)
    assert _sent_ids(rf["it-webhook"]) == [f"it-webhook/alert/{first.id}/0",
                                           f"it-webhook/alert/{first.id}/2"]
    assert "đợt đã kết thúc" in rf["it-webhook"].sent[1][0].subject

    every, re_ = _notifier(tmp_path / "c", send_updates=True, send_final=True)
    for a in (first, grown, grown, final, first):
        every.submit([a], now=T0)
    every.run_due(T0)
    assert [i.rsplit("/", 1)[1] for i in _sent_ids(re_["it-webhook"])] == ["0", "1", "2"]


def test_realert_is_one_per_rule_and_group_per_period_of_event_time(tmp_path: Path) -> None:
    n, rec = _notifier(tmp_path, realert_minutes=60)
    at = [T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=59, seconds=59),
          T0 + timedelta(minutes=60)]
    alerts = [alert(at=t) for t in at]
    other_user = alert(at=at[1], user="nv09999")
    other_rule = alert(at=at[1], rule="phiwatch-his-bulk-export", title="Bulk export")
    # Submitted long after the events (a replay): the period is event time, not wall time.
    for a in [*alerts, other_user, other_rule]:
        n.submit([a], now=T0 + timedelta(days=30))
    n.submit([alert(at=at[1], revision=1, final=True,
                    window_start=alerts[1].window_start)], now=T0)   # throttled episode
    n.run_due(T0 + timedelta(days=30))
    assert sorted(_sent_ids(rec["it-webhook"])) == sorted(
        f"it-webhook/alert/{a.id}/0" for a in (alerts[0], alerts[3], other_user, other_rule))
    assert n.stats()["it-webhook"].throttled == 3


def test_per_channel_settings_override_the_defaults(tmp_path: Path) -> None:
    n, rec = _notifier(tmp_path, {**WEBHOOK, "min_severity": "critical"},
                       {**MAIL, "realert_minutes": 0}, min_severity="medium")
    n.submit([alert(), alert(at=T0 + timedelta(minutes=1))], now=T0)
    n.run_due(T0)
    assert rec["it-webhook"].sent == []
    assert len(rec["it-mail"].sent) == 4               # 2 alerts x 2 recipients
    assert {t for _, t, _ in rec["it-mail"].sent} == {"it@bv.local", "ciso@bv.local"}


def test_digest_collects_by_event_time_and_sends_one_message(tmp_path: Path) -> None:
    n, rec = _notifier(tmp_path, {**WEBHOOK, "digest_minutes": 15}, realert_minutes=0)
    a1 = alert(user="nv1", at=T0)
    a2 = alert(user="nv2", at=T0 + timedelta(minutes=3))
    n.submit([a1, a2], now=T0 + timedelta(minutes=3))
    n.run_due(T0 + timedelta(minutes=14, seconds=59))
    assert rec["it-webhook"].sent == []
    assert n.status().channels[0].in_digest == 2
    # An update of a listed alert replaces it in the digest, it is not listed twice.
    n.submit([alert(user="nv2", at=T0 + timedelta(minutes=4), revision=1,
                    window_start=a2.window_start)], now=T0 + timedelta(minutes=4))
    # An alert 15 min of event time after the first closes the digest before joining.
    a3 = alert(user="nv3", at=T0 + timedelta(minutes=15))
    n.submit([a3], now=T0 + timedelta(minutes=15))
    n.run_due(T0 + timedelta(minutes=15))
    (parcel, _, _), = rec["it-webhook"].sent
    doc = orjson.loads(parcel.jws)
    assert doc["kind"] == "digest" and doc["count"] == 2
    assert [x["group"]["user.id"] for x in doc["alerts"]] == ["nv1", "nv2"]
    assert doc["alerts"][1]["revision"] == 1
    assert parcel.subject.startswith("[phiwatch] Tổng hợp 2 cảnh báo / Digest of 2 alerts")
    body = parcel.body
    assert body.index("2 cảnh báo") < body.index("— English —") < body.index("2 alerts")
    # The clock closes the second one.
    n.run_due(T0 + timedelta(minutes=29, seconds=59))
    assert len(rec["it-webhook"].sent) == 1
    n.run_due(T0 + timedelta(minutes=30))
    assert [orjson.loads(p.jws)["alerts"][0]["group"]["user.id"]
            for p, _, _ in rec["it-webhook"].sent] == ["nv1", "nv3"]


def test_failures_are_retried_with_backoff_and_visible(tmp_path: Path) -> None:
    rec = {"it-webhook": Recorder([Outcome.retry("HTTP 503", status=503),
                                   Outcome.retry("HTTP 503", status=503)])}
    n, _ = _notifier(tmp_path, rec=rec, retry_base_seconds=30)
    n.submit([alert()], now=T0)
    n.run_due(T0)
    st = n.status().channels[0]
    assert (st.pending, st.failed, st.last_error) == (1, 0, "HTTP 503")
    assert n.run_due(T0 + timedelta(seconds=29)) == []
    n.run_due(T0 + timedelta(seconds=30))
    assert n.run_due(T0 + timedelta(seconds=89)) == []        # 60 s after the second try
    (a,) = n.run_due(T0 + timedelta(seconds=90))
    assert a.result is State.DELIVERED
    s = n.stats()["it-webhook"]
    assert (s.retried, s.delivered, s.pending_now) == (2, 1, 0)
    assert len({k for _, _, k in rec["it-webhook"].sent}) == 1   # one idempotency key


def test_refused_for_good_shows_as_failed_and_can_be_requeued(tmp_path: Path) -> None:
    rec = {"it-webhook": Recorder([Outcome.failed("HTTP 401 Unauthorized", status=401)])}
    n, _ = _notifier(tmp_path, rec=rec)
    n.submit([alert()], now=T0)
    n.run_due(T0)
    status = notify_status(n.config, tmp_path)
    assert not status.ok
    assert (status.channels[0].failed, status.channels[0].last_error) == \
        (1, "HTTP 401 Unauthorized")
    assert n.stats()["it-webhook"].failed == 1
    assert requeue_failed(n.config, tmp_path, now=T0 + timedelta(minutes=1)) == 1
    n.run_due(T0 + timedelta(minutes=1))
    assert notify_status(n.config, tmp_path).ok
    assert notify_status(n.config, tmp_path).channels[0].delivered == 1


def test_a_restart_continues_pending_notifications_and_digests(tmp_path: Path) -> None:
    config_channels = (WEBHOOK, {**MAIL, "digest_minutes": 10})
    first, _ = _notifier(tmp_path, *config_channels)
    a = alert()
    first.submit([a], now=T0)              # queued, never sent: the process dies here
    del first
    again, rec = _notifier(tmp_path, *config_channels)
    again.submit([a], now=T0 + timedelta(seconds=5))  # re-raised from the logs after restart
    again.run_due(T0 + timedelta(seconds=5))
    assert _sent_ids(rec["it-webhook"]) == [f"it-webhook/alert/{a.id}/0"]
    assert rec["it-mail"].sent == []                       # the digest waits its 10 minutes
    again.run_due(T0 + timedelta(minutes=10))
    assert {t for _, t, _ in rec["it-mail"].sent} == {"it@bv.local", "ciso@bv.local"}
    assert orjson.loads(rec["it-mail"].sent[0][0].jws)["count"] == 1


def test_status_without_a_state_file_is_all_zero(tmp_path: Path) -> None:
    config = notify_config(WEBHOOK, MAIL)
    status = notify_status(config, tmp_path / "nowhere")
    assert [(c.channel, c.kind, c.pending, c.failed) for c in status.channels] == \
        [("it-webhook", "webhook", 0, 0), ("it-mail", "email", 0, 0)]
    assert not (tmp_path / "nowhere").exists()


def test_the_background_thread_sends_and_stops(tmp_path: Path) -> None:
    n, rec = _notifier(tmp_path)
    n.start(interval_seconds=0.05)
    try:
        n.submit([alert()])
        for _ in range(200):
            if rec["it-webhook"].sent:
                break
            time.sleep(0.05)
    finally:
        n.stop()
    assert len(rec["it-webhook"].sent) == 1
