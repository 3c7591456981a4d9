"""A Squid access.log goes all the way to alerts: community SigmaHQ proxy rules (copied
unmodified into ``tests/fixtures/sigma_community/proxy``) fire on the events the Squid
parser emits, through ``phiwatch replay`` as a hospital would run it."""

from __future__ import annotations

from pathlib import Path

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import load_config
from phiwatch.replay import replay

PROXY_RULES = Path(__file__).parents[1] / "fixtures" / "sigma_community" / "proxy"

# Squid 6, built-in 'squid' logformat: a raw paste fetched in clear HTTP, then an ordinary
# page; a line Squid never writes goes to the dead-letter file.
NATIVE = (
    b"1795405200.123    180 10.20.3.45 TCP_MISS/200 4120 GET "
    b"http://www.pastebin.com/raw/Xy12AbCd - HIER_DIRECT/104.20.67.143 text/plain\n"
    b"1795405201.000     20 10.20.3.45 TCP_MISS/200 1200 GET "
    b"http://www.moh.gov.vn/ - HIER_DIRECT/203.162.10.1 text/html\n"
    b"this is not squid\n"
)
# Squid 6, built-in 'combined' logformat: rclone uploading an archive to a cloud bucket.
COMBINED = (
    b'10.20.3.45 - nv01234 [23/Nov/2026:08:15:02 +0700] "PUT '
    b'http://s3.example-cloud.net/bucket/benh_an.zip HTTP/1.1" 200 512 "-" '
    b'"rclone/v1.66.0" TCP_MISS:HIER_DIRECT\n'
    b'10.20.3.46 - - [23/Nov/2026:08:16:00 +0700] "GET http://www.moh.gov.vn/ HTTP/1.1" '
    b'200 900 "-" "Mozilla/5.0" TCP_MISS:HIER_DIRECT\n'
)


def test_squid_logs_raise_community_proxy_alerts(tmp_path: Path) -> None:
    (tmp_path / "proxy").mkdir()
    native = tmp_path / "proxy" / "access.log"
    combined = tmp_path / "proxy" / "combined.log"
    native.write_bytes(NATIVE)
    combined.write_bytes(COMBINED)
    cfg_path = tmp_path / "phiwatch.yaml"
    cfg_path.write_text(
        "state_dir: state\n"
        f"rules: {{paths: ['{PROXY_RULES}']}}\n"
        "sources:\n"
        "  - {name: squid, paths: [proxy/access.log], parse: {format: squid}}\n"
        "  - {name: squid-combined, paths: [proxy/combined.log],"
        " parse: {format: squid, logformat: combined}}\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, [native, combined], store)
    assert report.events == 4
    assert report.dead_letters == {"parse": 1}
    fired = {a.rule_title: a for a in store.query(AlertQuery())}
    assert set(fired) == {"Raw Paste Service Access", "Rclone Activity via Proxy"}
    paste = fired["Raw Paste Service Access"]
    assert paste.context["url.original"] == "http://www.pastebin.com/raw/Xy12AbCd"
    assert fired["Rclone Activity via Proxy"].context["source.ip"] == "10.20.3.45"
    store.close()
