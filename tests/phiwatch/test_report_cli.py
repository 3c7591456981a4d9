"""``phiwatch report`` as an operator runs it: keygen, draft, approve, write, verify, send."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from apikit import make_alert

from alerting.grouping import IncidentGrouper
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.cli import app

ORG = "tu-du"


def phiwatch(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_the_report_commands(tmp_path: Path) -> None:
    cfg = tmp_path / "phiwatch.yaml"
    cfg.write_text(yaml.safe_dump({
        "organization": {"id": ORG}, "state_dir": "var",
        "reports": {"hospital": {"name": "Bệnh viện Từ Dũ", "code": "BVTD",
                                 "signer": {"name": "Trần Ngọc Hải"},
                                 "data_protection": {"name": "An", "phone": "028",
                                                     "email": "a@tudu.vn"}}}},
        allow_unicode=True), encoding="utf-8")
    store = SQLiteAlertStore(tmp_path / "var" / "alerts.db")
    pair = [make_alert(ORG, 0), make_alert(ORG, 1)]
    store.write(pair)
    IncidentGrouper(store).add(pair, datetime.now(UTC) - timedelta(hours=1))
    incident = store.incident_of_alert(pair[0].id)
    assert incident is not None
    store.change_status(incident.id, "confirmed_leak", "it", "xác nhận")
    store.close()
    c = str(cfg)

    code, out = phiwatch("report", "keygen", "-c", c)
    assert code == 0 and "tu-du.pub.pem" in out and "key id:" in out
    assert (tmp_path / "var" / "reports" / "tu-du.key.pem").stat().st_mode & 0o777 == 0o600
    code, out = phiwatch("report", "keygen", "-c", c)
    assert code == 2 and "exists" in out

    code, out = phiwatch("report", "draft", incident.id, "--actor", "it.lan", "-c", c,
                         "--measure", "Khóa tài khoản")
    assert code == 0 and out.count(" draft ") == 2, out
    code, out = phiwatch("report", "approve", incident.id, "--actor", "it.lan",
                         "--comment", "duyệt", "-c", c)
    assert code == 0 and "1/BC-BVTD" in out and "2/TB-BVTD" in out, out
    code, out = phiwatch("report", "show", incident.id, "-c", c)
    assert code == 0 and "issued" in out and "no delivery" in out

    folder = tmp_path / "out"
    code, out = phiwatch("report", "write", incident.id, "--out", str(folder), "-c", c)
    assert code == 0
    year = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{stem}-{year}.{ext}" for stem in ("bao-cao-1-BC-BVTD", "thong-bao-2-TB-BVTD")
        for ext in ("docx", "jws", "pdf"))
    jws = next(folder.glob("bao-cao-*.jws"))
    pdf, docx = jws.with_suffix(".pdf"), jws.with_suffix(".docx")
    code, out = phiwatch("report", "verify", str(jws), "-c", c, "--pdf", str(pdf),
                         "--docx", str(docx))
    assert code == 0 and "verified" in out and "DOCX and PDF matched" in out, out
    code, out = phiwatch("report", "verify", str(jws), "--key",
                         str(tmp_path / "var" / "reports" / "tu-du.pub.pem"))
    assert code == 0 and "verified" in out
    other = next(folder.glob("thong-bao-*.pdf"))
    code, out = phiwatch("report", "verify", str(jws), "-c", c, "--pdf", str(other))
    assert code == 1 and "NOT VERIFIED" in out and "does not match" in out

    head, payload, sig = jws.read_bytes().split(b".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    claims["facts"]["patients_count"] = 1
    forged = tmp_path / "forged.jws"
    forged.write_bytes(b".".join([head, base64.urlsafe_b64encode(orjson.dumps(
        claims, option=orjson.OPT_SORT_KEYS)).rstrip(b"="), sig]))
    code, out = phiwatch("report", "verify", str(forged), "-c", c)
    assert code == 1 and "NOT VERIFIED" in out and "bad signature" in out

    code, out = phiwatch("report", "send", "-c", c)
    assert code == 2 and "--due" in out
    code, out = phiwatch("report", "send", "--due", "-c", c)
    assert code == 0 and "0 delivered" in out
