"""A confirmed leak, end to end over real HTTP on both backends: the hospital's phiwatch
drafts when hospital IT confirms, hospital IT reviews and approves, the report goes by
webhook to the Department's phiwatch (real uvicorn) and the breach notification by email
(aiosmtpd), failures are retried, every attempt is recorded; the Department reads what
it received; forgeries and replays are refused; late reports need their reason."""

from __future__ import annotations

import base64
import io
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from reportkit import HOSPITAL, LATE_PAIRS, Deployment, Mailbox, free_port

from alerting.reports.inbox import ENVELOPE_TYPE, envelope
from alerting.reports.outbox import Attachment, Parcel, State
from alerting.reports.payload import SignedReport
from alerting.reports.signing import SigningKey, load_signing_key, peek, sign_report
from alerting.reports.webhook import DOCX_TYPE, WebhookChannel, WebhookSettings
from phiwatch.service import reports

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="pip install aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[Deployment, Mailbox]]:
    box = Mailbox()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    folder = tmp_path_factory.mktemp(f"reports-{request.param}")
    try:
        if request.param == "sqlite":
            d = Deployment("sqlite", folder, smtp_port=port)
            d.department.start()
            d.hospital.start()
            yield d, box
            d.close()
            return
        server = request.getfixturevalue("osmem_server")
        with server.clone() as a, server.clone() as b:
            d = Deployment("elasticsearch", folder, (str(a.url), str(b.url)), smtp_port=port)
            d.department.start()
            d.hospital.start()
            yield d, box
            d.close()
    finally:
        smtp.stop()


def confirm(it: httpx.Client, incident: str) -> dict[str, Any]:
    r = it.post(f"/incidents/{incident}/status",
                json={"to": "confirmed_leak", "comment": "Đối chiếu lịch trực: không có "
                      "lý do công việc; xác nhận lộ lọt"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pdf_text(pdf: bytes) -> str:
    try:
        return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf,
                              check=True, capture_output=True).stdout.decode()
    except FileNotFoundError:
        pytest.skip("pdftotext is not installed: apt-get install poppler-utils")


def test_confirm_draft_approve_deliver_and_receive(deployment: tuple[Deployment, Mailbox]
                                                  ) -> None:
    d, box = deployment
    incident = d.incidents[0]
    with d.hospital.client("hospital_it", HOSPITAL, "it.lan") as it, \
            d.hospital.client("inspector") as inspector, \
            d.hospital.client("admin") as admin:
        before = it.get(f"/incidents/{incident}").json()
        assert before["clock"] == "ok" and before["deadline"]
        confirmed = confirm(it, incident)
        assert confirmed["status"] == "confirmed_leak"
        drafts = it.get(f"/incidents/{incident}/reports").json()
        assert [(r["kind"], r["state"], r["number"]) for r in drafts] == [
            ("department_report", "draft", None), ("breach_notification", "draft", None)]
        assert drafts[0]["counts_basis"] == "evidence"      # read back from the log lines
        draft_id = drafts[0]["id"]
        draft_pdf = it.get(f"/reports/{draft_id}/documents/pdf")
        assert draft_pdf.status_code == 200 and draft_pdf.headers["content-type"] == \
            "application/pdf"
        assert "DỰ THẢO" in pdf_text(draft_pdf.content)
        assert it.get(f"/reports/{draft_id}/documents/jws").status_code == 404  # not signed
        # Drafts stay in the hospital.
        assert inspector.get(f"/incidents/{incident}/reports").json() == []
        assert inspector.get(f"/reports/{draft_id}").status_code == 404

        r = it.post(f"/incidents/{incident}/reports/approve",
                    json={"comment": "Giám đốc đã duyệt"})
        assert r.status_code == 200, r.text
        issued = r.json()
        assert [x["state"] for x in issued] == ["issued", "issued"]
        numbers = [x["number_text"] for x in issued]
        assert numbers[0].endswith("/BC-BVTD") and numbers[1].endswith("/TB-BVTD")
        assert not issued[0]["late"]
        after = it.get(f"/incidents/{incident}").json()
        assert after["status"] == "reported" and after["clock"] == "sent"
        assert numbers[0] in after["history"][-1]["comment"]
        again = it.post(f"/incidents/{incident}/reports/approve", json={"comment": "lại"})
        assert [x["number_text"] for x in again.json()] == numbers        # idempotent

        # The facts name no patient id as the hospital knows it: pseudonyms only.
        detail = it.get(f"/reports/{draft_id}", headers={"X-Phiwatch-Reason": "review"})
        assert detail.status_code == 200
        facts_text = detail.text
        assert "TD0000000" not in facts_text and "TD9000000" not in facts_text
        assert inspector.get(f"/reports/{draft_id}").status_code == 200   # issued: readable
        patients = detail.json()["facts"]["affected_patients"]
        assert patients and all(p["pseudonym"].startswith("BN-") for p in patients)
        assert "BN2026" not in facts_text                   # the evidence's ids neither
        audit = admin.get("/audit", params={"limit": 1000}).json()["items"]
        seen = [rec for rec in audit if rec["route"] == "/reports/{report_id}"]
        assert (seen[0]["actor"], seen[0]["identifiers"], seen[0]["reason"]) == (
            "it.lan", len(patients), "review")
        assert any(x["route"] == "/reports/{report_id}/documents/{name}" for x in audit)

    # Delivery, as the run loop or `phiwatch report send --due` does it.
    box.refuse = 1
    parts = d.hospital.parts()
    try:
        now = datetime.now(UTC) + timedelta(seconds=1)    # the approval queued them
        first = reports.deliver_due(parts, now)
        assert sorted(str(a.result) for a in first) == ["delivered", "pending"]
        record = parts.records.get_report(draft_id)
        assert record is not None and record.state == "delivered"
        tb = parts.records.get_report(issued[1]["id"])
        assert tb is not None and tb.state == "issued"
        assert tb.deliveries[0].attempts == 1 and "451" in tb.deliveries[0].last_error
        assert reports.deliver_due(parts, now + timedelta(seconds=5)) == []   # not due yet
    finally:
        parts.close()
    reopened = d.hospital.parts()                        # a restart loses nothing
    try:
        later = reports.deliver_due(reopened, now + timedelta(hours=1))
        assert [str(a.result) for a in later] == ["delivered"]
        tb = reopened.records.get_report(issued[1]["id"])
        assert tb is not None and tb.state == "delivered" and tb.delivered_at is not None
    finally:
        reopened.close()
    (mail,) = box.messages
    assert "Thông báo vi phạm" in str(mail["Subject"])
    assert [p.get_filename() for p in mail.iter_attachments()][-1].endswith(".jws")

    with d.hospital.client("hospital_it", HOSPITAL) as it:
        shown = it.get(f"/reports/{issued[1]['id']}").json()
        assert [(a["result"], a["status"]) for a in shown["attempts"]] == [
            ("pending", 451), ("delivered", 250)]
        hospital_pdf = it.get(f"/reports/{draft_id}/documents/pdf").content
        listed = it.get("/reports", params={"state": "delivered"}).json()
        assert {x["id"] for x in listed["items"]} >= {draft_id, issued[1]["id"]}

    # The Department received the report, with its documents, verified.
    with d.department.client("department") as dept:
        inbox = dept.get("/inbox/reports").json()
        assert inbox["total"] == 1
        (got,) = inbox["items"]
        assert got["hospital_id"] == HOSPITAL and got["number_text"] == numbers[0]
        assert sorted(got["documents"]) == ["docx", "jws", "pdf"]
        pdf = dept.get(f"/inbox/reports/{got['id']}/documents/pdf")
        assert pdf.status_code == 200 and pdf.content == hospital_pdf
        text = pdf_text(pdf.content)
        assert numbers[0] in text and "Kính gửi: Sở Y tế Thành phố Hồ Chí Minh" in text
        docx = dept.get(f"/inbox/reports/{got['id']}/documents/docx")
        from docx import Document
        body = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
        assert "BÁO CÁO" in body and numbers[0] in body
        one = dept.get(f"/inbox/reports/{got['id']}").json()
        assert one["facts"]["incident_id"] == incident
        assert dept.post("/incidents/x/reports/draft").status_code == 403


def test_the_inbox_refuses_forgeries_and_replays(deployment: tuple[Deployment, Mailbox]
                                                 ) -> None:
    d, _ = deployment
    parts = d.hospital.parts()
    try:
        delivered = [r for r in parts.records.query_reports(reports.ReportQuery(
            kind="department_report", state="delivered"))]
        assert delivered, "runs after the end-to-end test"
        record = parts.records.get_report(delivered[0].id)
    finally:
        parts.close()
    assert record is not None
    url = f"{d.department.url}/inbox/reports"
    body = envelope(record.jws, record.docx, record.pdf)
    headers = {"Content-Type": ENVELOPE_TYPE}
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 409
    assert replay.json()["error"] == "already_received" and replay.json()["identical"]
    # The hospital's webhook counts "already received, the same bytes" as delivered.
    channel = WebhookChannel(WebhookSettings(b"x" * 16, allow_http=True, documents=True))
    again = channel.send(Parcel(record.id, "s", "b", record.jws, (
        Attachment("a.docx", DOCX_TYPE, record.docx),
        Attachment("a.pdf", "application/pdf", record.pdf))), url, "k-again")
    assert again.result is State.DELIVERED and again.status == 409

    _, claims = peek(record.jws)
    head, _, sig = record.jws.split(b".")
    edited = claims | {"delay_reason": "chỉnh sửa sau khi ký"}   # the signed JSON, altered
    payload = base64.urlsafe_b64encode(orjson.dumps(edited, option=orjson.OPT_SORT_KEYS))
    tampered = b".".join([head, payload.rstrip(b"="), sig])
    r = httpx.post(url, content=tampered, headers={"Content-Type": "application/jose"})
    assert r.status_code == 401 and r.json()["error"] == "not_verified"

    # Chợ Rẫy's key signs a report claiming to be Từ Dũ's.
    other = load_signing_key(d.keys / "cho-ray.key.pem", "cho-ray")
    claims["number"] = 99
    claims["number_text"] = "99/BC-BVTD"
    forged = sign_report(SignedReport.model_validate(claims),
                         SigningKey(HOSPITAL, other.algorithm, other.private_pem))
    r = httpx.post(url, content=forged, headers={"Content-Type": "application/jose"})
    assert r.status_code == 401 and "not registered" in r.json()["message"]

    r = httpx.post(url, content=envelope(record.jws, record.docx, b"%PDF-forged"),
                   headers=headers)
    assert r.status_code == 422 and "does not match" in r.json()["message"]
    for junk, kind in ((b"not a jws", "application/jose"), (b"{", ENVELOPE_TYPE)):
        r = httpx.post(url, content=junk, headers={"Content-Type": kind})
        assert r.status_code == 422 and set(r.json()) >= {"error", "message", "request_id"}
    with d.department.client("department") as dept:
        assert dept.get("/inbox/reports").json()["total"] == 1       # nothing else stored


def test_a_late_report_needs_its_reason(deployment: tuple[Deployment, Mailbox]) -> None:
    d, _ = deployment
    incident = d.incidents[LATE_PAIRS[0]]
    with d.hospital.client("hospital_it", HOSPITAL) as it:
        assert it.get(f"/incidents/{incident}").json()["clock"] == "overdue"
        confirm(it, incident)
        r = it.post(f"/incidents/{incident}/reports/approve", json={"comment": "duyệt"})
        assert r.status_code == 422 and r.json()["field"] == "body.delay_reason"
        assert all(x["number"] is None for x in
                   it.get(f"/incidents/{incident}/reports").json())   # nothing was drawn
        reason = "Máy chủ nhật ký bị gián đoạn, phát hiện muộn khi khôi phục"
        r = it.post(f"/incidents/{incident}/reports/approve",
                    json={"comment": "duyệt", "delay_reason": reason})
        assert r.status_code == 200, r.text
        assert all(x["late"] and x["delay_reason"] == reason for x in r.json())
        pdf = it.get(f"/reports/{r.json()[0]['id']}/documents/pdf").content
        assert "Lý do báo cáo chậm" in pdf_text(pdf)
        assert it.get(f"/incidents/{incident}").json()["clock"] == "sent_late"


def test_only_a_confirmed_leak_of_its_own_hospital_is_drafted(
        deployment: tuple[Deployment, Mailbox]) -> None:
    d, _ = deployment
    with d.hospital.client("hospital_it", HOSPITAL) as it:
        r = it.post(f"/incidents/{d.incidents[5]}/reports/draft")
        assert r.status_code == 409 and "confirmed" in r.json()["message"]
        r = it.post(f"/incidents/{d.incidents[5]}/reports/approve", json={"comment": "x"})
        assert r.status_code == 409
    with d.hospital.client("hospital_it", "cho-ray") as other:
        assert other.get(f"/incidents/{d.incidents[5]}/reports").status_code == 404
        assert other.post(f"/incidents/{d.incidents[5]}/reports/draft").status_code == 404


def test_concurrent_approvals_get_distinct_consecutive_numbers(
        deployment: tuple[Deployment, Mailbox]) -> None:
    d, _ = deployment
    chosen = [d.incidents[k] for k in (1, 2, 3, 4)]
    with d.hospital.client("hospital_it", HOSPITAL) as it:
        for incident in chosen:
            confirm(it, incident)
        before = {x["number"] for x in it.get("/reports", params={"limit": 500}).json()["items"]
                  if x["number"] is not None}
    results: dict[str, list[dict[str, Any]]] = {}
    start = threading.Barrier(len(chosen))

    def approve(incident: str) -> None:
        with d.hospital.client("hospital_it", HOSPITAL) as it:
            start.wait()
            r = it.post(f"/incidents/{incident}/reports/approve", json={"comment": "duyệt"})
            assert r.status_code == 200, r.text
            results[incident] = r.json()

    threads = [threading.Thread(target=approve, args=(i,)) for i in chosen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drawn = sorted(x["number"] for rs in results.values() for x in rs)
    assert len(drawn) == 2 * len(chosen) and len(set(drawn)) == len(drawn)
    first = max(before, default=0) + 1
    assert drawn == list(range(first, first + len(drawn)))


def test_a_webhook_failure_is_retried_until_the_department_answers(
        deployment: tuple[Deployment, Mailbox]) -> None:
    d, _ = deployment
    incident = d.incidents[6]
    d.department.stop()                               # the Department's server is down
    try:
        with d.hospital.client("hospital_it", HOSPITAL) as it:
            confirm(it, incident)
            issued = it.post(f"/incidents/{incident}/reports/approve",
                             json={"comment": "duyệt"}).json()
        parts = d.hospital.parts()
        try:
            now = datetime.now(UTC) + timedelta(seconds=1)
            reports.deliver_due(parts, now)
            record = parts.records.get_report(issued[0]["id"])
            assert record is not None and record.state == "issued"
            (webhook,) = record.deliveries
            assert webhook.state == "pending" and webhook.attempts == 1
            assert "Connect" in webhook.last_error and webhook.next_attempt is not None
        finally:
            parts.close()
    finally:
        d.department.start()                          # back, on the same address
    parts = d.hospital.parts()
    try:
        reports.deliver_due(parts, now + timedelta(hours=2))
        record = parts.records.get_report(issued[0]["id"])
        assert record is not None and record.state == "delivered"
        tries = reports.attempts_of(parts, record)[0][1]
        assert [str(a.result) for a in tries][-1] == "delivered" and len(tries) >= 2
    finally:
        parts.close()
    with d.department.client("inspector") as inspector:
        numbers = {x["number_text"] for x in inspector.get("/inbox/reports").json()["items"]}
        assert issued[0]["number_text"] in numbers
