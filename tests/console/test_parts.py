"""The console's parts on their own: the sign-in throttle and signed-out sessions (one
SQLite file, shared and kept) on a driven clock, chart geometry, the two catalogues,
filter parsing, and the routes' declared roles."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from consolekit import Clock

from api.console.charts import SERIES, day_stacks, nice_ceiling, row_stacks
from api.console.filters import Filters
from api.console.i18n import CATALOGUES, catalogue, translator
from api.console.mount import check_console_routes
from api.console.routes import PUBLIC, ROUTERS
from api.console.signins import SignIns
from api.console.templating import TEMPLATES, environment
from api.errors import Invalid
from api.roles import declared_roles
from phiwatch.service import reports

TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']""")


def signins(path: Path, clock: Clock, per_account: int, per_address: int, window: float,
            max_keys: int = 10_000) -> SignIns:
    return SignIns(path / "console-signins.db", per_account=per_account,
                   per_address=per_address, window=window, clock=clock, max_keys=max_keys)


def test_throttle_counts_names_and_addresses_on_the_clock(tmp_path: Path) -> None:
    clock = Clock()
    t = signins(tmp_path, clock, per_account=3, per_address=5, window=900)
    for _ in range(3):
        assert t.retry_after("lan", "10.0.0.1") is None
        t.failed("lan", "10.0.0.1")
    wait = t.retry_after("lan", "10.0.0.2")  # the name is locked from any address
    assert wait is not None and 899 <= wait <= 900
    assert t.retry_after("minh", "10.0.0.1") is None  # the address is not yet
    clock.advance(600)
    assert t.retry_after("lan", "10.0.0.1") is not None
    clock.advance(301)
    assert t.retry_after("lan", "10.0.0.1") is None  # the oldest failures left the window
    for name in ("a", "b", "c", "d", "e"):
        t.failed(name, "10.0.0.9")
    assert t.retry_after("someone-else", "10.0.0.9") is not None  # the address is locked
    assert t.retry_after("someone-else", "10.0.0.8") is None
    t.close()


def test_success_clears_the_name_but_not_the_address(tmp_path: Path) -> None:
    clock = Clock()
    t = signins(tmp_path, clock, per_account=2, per_address=3, window=60)
    t.failed("lan", "10.0.0.1")
    t.failed("minh", "10.0.0.1")
    t.succeeded("lan")
    t.failed("lan", "10.0.0.1")
    assert t.retry_after("lan", "10.0.0.2") is None  # one failure since the success
    assert t.retry_after("x", "10.0.0.1") is not None  # three from this address
    t.close()


def test_throttle_memory_is_bounded(tmp_path: Path) -> None:
    clock = Clock()
    t = signins(tmp_path, clock, per_account=5, per_address=5, window=60, max_keys=50)
    for i in range(500):
        t.failed(f"user{i}", f"10.0.{i // 250}.{i % 250}")
    assert t.remembered_keys() <= 50
    assert t.retry_after("user499", "10.9.9.9") is None  # one failure: still allowed
    clock.advance(61)
    t.failed("late", "10.0.0.1")  # what left the window is deleted as new rows come
    assert t.remembered_keys() == 2
    t.close()


def test_processes_share_failures_and_a_restart_keeps_them(tmp_path: Path) -> None:
    """Two console processes on one host (``phiwatch run`` and ``phiwatch api``) open the
    same file: a guesser gets no extra tries from the other; a restart forgets nothing."""
    clock = Clock()
    one = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    two = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    one.failed("lan", "10.0.0.1")
    two.failed("lan", "10.0.0.2")
    one.failed("lan", "10.0.0.3")
    assert one.retry_after("lan", "10.0.0.4") is not None
    assert two.retry_after("lan", "10.0.0.4") is not None
    one.close()
    two.close()
    again = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    assert again.retry_after("lan", "10.0.0.4") is not None
    again.close()


def test_signed_out_sessions_stay_out_across_processes_and_restarts(tmp_path: Path
                                                                    ) -> None:
    clock = Clock()
    one = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    two = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    one.revoke("jti-1", clock() + 60)
    one.revoke("jti-2", clock() + 3600)
    assert two.revoked("jti-1") and two.revoked("jti-2") and not two.revoked("jti-3")
    one.close()
    two.close()
    clock.advance(120)
    again = signins(tmp_path, clock, per_account=3, per_address=10, window=900)
    assert again.revoked("jti-1") and again.revoked("jti-2")
    again.revoke("jti-3", clock() + 60)  # writing deletes what expired: jti-1
    assert not again.revoked("jti-1") and again.revoked("jti-2") and again.revoked("jti-3")
    again.close()


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 45, 101, 999)] == \
        [1, 1, 5, 10, 20, 50, 200, 1000]


def test_day_stacks_sum_per_day_and_group_the_rest() -> None:
    days = [date(2026, 11, d) for d in range(1, 8)]
    counts = [(days[0], f"rule-{k}", k + 1) for k in range(10)] + [(days[3], "rule-0", 4)]
    chart = day_stacks(days, counts, day_label=lambda d: d.strftime("%d/%m"), other="Khác")
    assert chart.total == sum(n for _, _, n in counts)
    assert len(chart.legend) == SERIES  # six biggest and "other"
    assert chart.legend[-1].label == "Khác"
    assert sum(item.total for item in chart.legend) == chart.total
    first_day = [b for b in chart.bars if b.title.startswith("01/11")]
    assert sum(b.h for b in first_day) == pytest.approx(
        (chart.bottom - chart.top) * 55 / nice_ceiling(55), abs=0.5)
    assert all(b.cls.startswith("s") for b in chart.bars)


def test_row_stacks_one_bar_per_status() -> None:
    chart = row_stacks([("Mới", [1, 0, 2, 0, 0]), ("Đang xác minh", [0, 0, 0, 0, 0])],
                       ["<1d", "1-3d", "3-7d", "7-30d", ">30d"])
    assert chart.total == 3
    assert [b.cls for b in chart.bars] == ["a0", "a2"]
    assert [t.label for t in chart.yticks] == ["Mới (3)", "Đang xác minh (0)"]


def test_chart_labels_are_escaped_when_drawn() -> None:
    days = [date(2026, 11, 1)]
    chart = day_stacks(days, [(days[0], "<script>x</script>", 2)], day_label=str,
                       other="other")
    env = environment()
    page = env.from_string('{% from "_charts.html" import stacked with context %}'
                           "{{ stacked(chart, label) }}").render(
        chart=chart, label="<b>", num=str)
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<b>" not in page


def test_catalogues_hold_the_same_keys_and_every_key_the_templates_use() -> None:
    vi, en = catalogue("vi"), catalogue("en")
    assert set(vi) == set(en)
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(TEMPLATE_KEY.findall(path.read_text(encoding="utf-8")))
    for path in (Path(__file__).parents[2] / "api" / "console").rglob("*.py"):
        used |= {k for k in re.findall(r'"((?:signin|incident|rules|reports)\.[a-z_]+)"',
                                       path.read_text(encoding="utf-8"))}
    used = {k for k in used if not k.endswith(".html")}
    dynamic = [k for k in used if k.endswith(".")]
    assert not (used - set(vi) - set(dynamic)), sorted(used - set(vi))
    for prefix, values in (("status.", ("new", "investigating", "confirmed_leak",
                                        "false_positive", "reported", "closed")),
                           ("severity.", ("informational", "low", "medium", "high",
                                          "critical")),
                           ("role.", ("hospital_it", "inspector", "department", "admin")),
                           ("clock.", ("ok", "warn", "urgent", "overdue", "sent", "sent_late",
                                       "dismissed")),
                           ("report.state.", reports.REPORT_STATES),
                           ("report.kind.", reports.KINDS),
                           ("delivery.", ("pending", "sending", "delivered", "failed",
                                          "gave_up"))):
        assert all(f"{prefix}{v}" in vi for v in values)
    for path in CATALOGUES.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    assert translator("en")("deadline.left", hours=3) == "3 h left"
    assert translator("vi")("no.such.key") == "no.such.key"


def test_filters_read_days_and_refuse_unknown_values() -> None:
    f = Filters.read(kind="incidents", hospital=" ", status="new", severity="", rule=None,
                     user="nv01", start="2026-11-01", end="2026-11-02", words="  ",
                     sort="active")
    assert f.hospital is None and f.words is None and f.status == "new"
    assert f.start_time is not None and f.end_time is not None
    assert (f.end_time - f.start_time).days == 2
    assert f.params() == {"status": "new", "user": "nv01", "start": "2026-11-01",
                          "end": "2026-11-02", "sort": "active"}
    for bad in ({"status": "open"}, {"severity": "huge"}, {"start": "1/11/2026"},
                {"sort": "random"}, {"start": "2026-11-03", "end": "2026-11-01"}):
        args = {"hospital": None, "status": None, "severity": None, "rule": None,
                "user": None, "start": None, "end": None, "words": None, "sort": None}
        with pytest.raises(Invalid):
            Filters.read(kind="incidents", **{**args, **bad})


def test_every_console_route_declares_roles_or_is_public() -> None:
    check_console_routes()
    table = declared_roles(ROUTERS)
    assert set(PUBLIC) <= set(table)
    assert all(roles for key, roles in table.items() if key not in PUBLIC)
    posts = [key for key in table if key[0] == "POST"]
    assert len(posts) >= 6
