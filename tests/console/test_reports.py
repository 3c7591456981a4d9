"""Reports in the console over HTTP on both backends: hospital IT drafts and approves from
an incident's page and the API reads back what was done; a late approval without its
reason shows the API's answer and changes nothing; the Department reads in its inbox
what the hospital's phiwatch really sent (by webhook, to this instance's inbox); a
failed delivery is sent again; who may open and post what; forms without their CSRF
token are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest
from apikit import world_on
from consolekit import HOSTILE_USER, Console, csrf, incident_ids
from consolereports import COMMENT, ReportWorld, confirm, report_rows

import api.console.routes.inbox as inbox_routes
from phiwatch.service import AuditRecord, open_api_store


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ReportWorld]:
    yield from world_on(request, tmp_path_factory.mktemp(f"console-reports-{request.param}"),
                        ReportWorld)


@pytest.fixture(scope="module")
def console(world: ReportWorld) -> Console:
    return world.serve_console()


def _approve(c: httpx.Client, incident: str, page: str, **fields: str) -> httpx.Response:
    return c.post(f"/console/incidents/{incident}/reports/approve",
                  data={"csrf": csrf(page), **fields})


def test_hospital_it_drafts_and_approves_and_the_api_reads_it_back(
        console: Console, world: ReportWorld) -> None:
    lan = console.sign_in("lan")
    incident = world.incidents["on_time"]
    before = lan.get(f"/console/incidents/{incident}").text
    assert 'class="clock clock-ok"' in before and 'id="reports"' in before
    assert "draft-form" not in before and "approve-form" not in before   # not confirmed
    page = confirm(lan, incident)                # confirming drafts both (API's trigger)
    drafts = report_rows(page)
    assert [s for _, s in drafts] == ["draft", "draft"]
    assert 'id="approve-form"' in page and "Soạn lại dự thảo" in page
    assert 'id="delay-reason"' not in page       # on time: no reason asked

    pdf = lan.get(f"/console/reports/{drafts[0][0]}/documents/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].endswith('-du-thao.pdf"')
    assert lan.get(f"/console/reports/{drafts[0][0]}/documents/jws").status_code == 404
    assert lan.get(f"/console/reports/{drafts[0][0]}/documents/exe").status_code == 422

    r = lan.post(f"/console/incidents/{incident}/reports/draft", data={
        "csrf": csrf(page), "measures_taken": "Khóa tài khoản nv70300\n\n  Thu hồi quyền  "})
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/incidents/{incident}?done=draft"
    api = console.api("lan")
    facts = api.get(f"/reports/{drafts[0][0]}").json()["facts"]
    taken = [m["text"] for m in facts["measures_taken"]]
    assert "Khóa tài khoản nv70300" in taken and "Thu hồi quyền" in taken

    blank = _approve(lan, incident, page, comment="   ")
    assert blank.status_code == 422 and "Duyệt báo cáo cần có ý kiến duyệt." in blank.text
    done = _approve(lan, incident, page, comment=COMMENT)
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/incidents/{incident}?done=approve"

    issued = api.get(f"/incidents/{incident}/reports").json()
    assert [(x["state"], x["issued_by"], x["late"]) for x in issued] == [
        ("issued", "lan", False), ("issued", "lan", False)]
    numbers = [x["number_text"] for x in issued]
    assert numbers[0].endswith("/BC-BVTD") and numbers[1].endswith("/TB-BVTD")
    after = api.get(f"/incidents/{incident}").json()
    assert (after["status"], after["clock"]) == ("reported", "sent")
    assert after["history"][-1]["actor"] == "lan" and COMMENT in after["history"][-1]["comment"]

    shown = lan.get(f"/console/incidents/{incident}?done=approve").text
    assert "Đã duyệt: văn bản đã được đánh số" in shown and 'class="clock clock-sent"' in shown
    assert all(n in shown for n in numbers)
    assert "approve-form" not in shown and "draft-form" not in shown
    assert f"/console/reports/{drafts[0][0]}/documents/jws" in shown
    jws = lan.get(f"/console/reports/{drafts[0][0]}/documents/jws")
    assert jws.status_code == 200 and jws.headers["content-type"] == "application/jose"
    assert jws.content.count(b".") == 2


def test_a_late_approval_without_its_reason_shows_the_apis_answer_and_changes_nothing(
        console: Console, world: ReportWorld) -> None:
    lan = console.sign_in("lan")
    incident = world.incidents["late"]
    page = confirm(lan, incident)
    assert 'class="clock clock-overdue"' in page
    assert re.search(r'<textarea name="delay_reason" id="delay-reason"[^>]* required>', page)
    r = _approve(lan, incident, page, comment="Đã duyệt", delay_reason="  ")
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    shown = unescape(r.text)
    api = console.api("lan")
    answer = api.post(f"/incidents/{incident}/reports/approve", json={"comment": "Đã duyệt"})
    assert answer.status_code == 422 and answer.json()["field"] == "body.delay_reason"
    on_page = re.search(r'<p class="msg error" role="alert">([^<]+)</p>', shown)
    assert on_page, shown[:2000]

    def lateness(message: str) -> str:          # how late it is moves on between the two
        return re.sub(r" is .+? past the ", " is … past the ", message)

    assert lateness(on_page.group(1)) == lateness(answer.json()["message"])
    assert on_page.group(1).startswith("body.delay_reason: the notification is ")
    assert "Traceback" not in shown and ">Đã duyệt</textarea>" in shown
    unchanged = api.get(f"/incidents/{incident}/reports").json()
    assert [(x["state"], x["number"]) for x in unchanged] == [("draft", None)] * 2
    assert api.get(f"/incidents/{incident}").json()["status"] == "confirmed_leak"

    reason = "Máy chủ nhật ký gián đoạn <script>alert(1)</script> \u202eevil"
    done = _approve(lan, incident, page, comment="Đã duyệt", delay_reason=reason)
    assert done.status_code == 303
    issued = api.get(f"/incidents/{incident}/reports").json()
    assert all(x["late"] and x["state"] == "issued" for x in issued)
    assert "<script>alert(1)</script>" in issued[0]["delay_reason"]
    assert api.get(f"/incidents/{incident}").json()["clock"] == "sent_late"
    shown = lan.get(f"/console/incidents/{incident}").text
    assert "<script>alert(1)" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "\u202e" not in shown and 'class="clock clock-sent_late"' in shown


def test_the_department_reads_what_the_hospital_sent_and_a_failure_is_sent_again(
        console: Console, world: ReportWorld) -> None:
    lan = console.sign_in("lan")
    incident = world.incidents["failing"]
    page = confirm(lan, incident)
    assert _approve(lan, incident, page, comment=COMMENT).status_code == 303
    world.deliver()                       # the run loop: webhook to the Department's inbox
    page = lan.get(f"/console/incidents/{incident}").text
    (bc, bc_state), (tb, tb_state) = report_rows(page)
    assert (bc_state, tb_state) == ("delivered", "failed")
    assert "retry-form" in page and "404" in page          # the refusal, as recorded
    numbers = [x["number_text"] for x in console.api("lan").get(
        f"/incidents/{incident}/reports").json()]

    so = console.sign_in("so")
    inbox = so.get("/console/inbox").text
    assert numbers[0] in inbox and numbers[1] not in inbox
    number = numbers[0].split("/")[0]
    row = re.search(rf'data-id="(tu-du-\d{{4}}-{number}-bc)"', inbox)
    assert row, inbox[:3000]
    detail = so.get(f"/console/inbox/{row.group(1)}")
    assert detail.status_code == 200 and numbers[0] in detail.text
    assert "Bệnh viện Từ Dũ" in detail.text and "BN-" in detail.text   # the annex
    assert not re.search(r"TD\d{8}", detail.text) and "BN2026" not in detail.text
    hospital_pdf = lan.get(f"/console/reports/{bc}/documents/pdf").content
    got = so.get(f"/console/inbox/{row.group(1)}/documents/pdf")
    assert got.status_code == 200 and got.content == hospital_pdf
    assert numbers[0] not in so.get("/console/inbox", params={"hospital": "cho-ray"}).text
    assert numbers[0] in console.sign_in("thanh").get("/console/inbox").text

    r = lan.post(f"/console/reports/{tb}/retry", data={"csrf": csrf(page),
                                                       "back": "incident"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/incidents/{incident}?done=retry"
    again = console.api("lan").get(f"/reports/{tb}").json()
    assert again["state"] == "issued" and again["deliveries"][0]["state"] == "pending"
    world.deliver()                                        # refused again
    listing = lan.get("/console/reports", params={"state": "failed"}).text
    assert (tb, "failed") in report_rows(listing)
    r = lan.post(f"/console/reports/{tb}/retry", data={"csrf": csrf(listing),
                                                       "back": "reports"})
    assert r.status_code == 303 and r.headers["location"] == "/console/reports?done=retry"
    assert "Đã xếp hàng gửi lại." in lan.get(r.headers["location"]).text
    for bad in ({"state": "sent"}, {"kind": "letter"}, {"offset": "-1"}):
        assert lan.get("/console/reports", params=bad).status_code == 422, bad
    assert lan.get("/console/reports", params={"hospital": "cho-ray"}).status_code == 403
    assert tb in lan.get("/console/reports", params={"kind": "breach_notification"}).text
    assert tb not in lan.get("/console/reports", params={"kind": "department_report"}).text


def test_inbox_pages_stay_put_while_reports_arrive(console: Console, world: ReportWorld,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        world.receive("cho-ray" if n % 2 else "nhi-dong-1", f"inbox-{n}")
    monkeypatch.setattr(inbox_routes, "PAGE", 2)
    so = console.sign_in("so")

    def walk(arrive: Any = None) -> list[str]:
        seen: list[str] = []
        url: str | None = "/console/inbox"
        while url:
            page = so.get(url).text
            seen += re.findall(r'<tr data-id="([^"]+)"', page)
            if arrive is not None and len(seen) <= 2:
                arrive()
            found = re.search(r'rel="next" href="([^"]+)"', page)
            url = unescape(found.group(1)) if found else None
        return seen

    whole = walk()
    assert len(whole) == len(set(whole)) >= 3
    paged = walk(lambda: world.receive("cho-ray", "inbox-arrival"))
    assert paged == whole                  # the arrival sorts first; later pages stay put
    assert len(walk()) == len(whole) + 1
    r = so.get("/console/inbox", params={"after": "forged.cursor"})
    assert r.status_code == 422 and "query.cursor" in r.text


def _audit(world: ReportWorld, console: Console) -> list[AuditRecord]:
    store = open_api_store(console.running.config)
    try:
        found: list[AuditRecord] = []
        while batch := store.audit_records(found[-1].seq if found else 0, 1000):
            found += batch
        return found
    finally:
        store.close()


def test_who_may_open_and_post_what(console: Console, world: ReportWorld) -> None:
    incident = world.incidents["rights"]
    lan = console.sign_in("lan")
    page = confirm(lan, incident)
    (draft, _), _ = report_rows(page)
    users = {u: console.sign_in(u) for u in ("thanh", "minh", "so", "root")}
    token = {u: csrf(c.get("/console/").text) for u, c in users.items() if u != "root"}
    posts = [(f"/console/incidents/{incident}/reports/draft", {}),
             (f"/console/incidents/{incident}/reports/approve", {"comment": "x"}),
             (f"/console/reports/{draft}/retry", {})]
    doc = f"/console/reports/{draft}/documents/pdf"

    thanh = users["thanh"]
    seen = thanh.get(f"/console/incidents/{incident}").text
    assert report_rows(seen) == [] and "approve-form" not in seen and "draft-form" not in seen
    assert "dự thảo chỉ bệnh viện xem được" in seen
    assert thanh.get(doc).status_code == 404                # drafts stay in the hospital
    assert draft not in thanh.get("/console/reports").text
    minh = users["minh"]
    assert minh.get(f"/console/incidents/{incident}").status_code == 404
    assert minh.get(doc).status_code == 404
    assert draft not in minh.get("/console/reports").text
    so = users["so"]
    for path in (f"/console/incidents/{incident}", doc, "/console/reports"):
        assert so.get(path).status_code == 403, path
    for path in ("/console/reports", "/console/inbox", doc):
        assert users["root"].get(path).status_code == 403, path
    assert lan.get("/console/inbox").status_code == 403
    for path, data in posts:
        assert thanh.post(path, data={**data, "csrf": token["thanh"]}).status_code == 403
        assert so.post(path, data={**data, "csrf": token["so"]}).status_code == 403
        assert minh.post(path, data={**data, "csrf": token["minh"]}).status_code == 404, path
    assert [x["state"] for x in console.api("lan").get(
        f"/incidents/{incident}/reports").json()] == ["draft", "draft"]   # nothing done

    assert _approve(lan, incident, page, comment=COMMENT).status_code == 303
    before = len(_audit(world, console))
    seen = thanh.get(f"/console/incidents/{incident}").text
    assert [s for _, s in report_rows(seen)] == ["issued", "issued"]
    assert "retry-form" not in seen and "approve-form" not in seen
    got = thanh.get(doc)
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    new = _audit(world, console)[before:]
    reads = [r for r in new if r.entry.route == "/console/reports/{report_id}/documents/{name}"]
    assert reads and reads[0].entry.actor == "thanh" and draft in reads[0].entry.objects
    nav = thanh.get("/console/").text
    assert 'href="/console/reports"' in nav and 'href="/console/inbox"' in nav
    nav = lan.get("/console/").text
    assert 'href="/console/reports"' in nav and 'href="/console/inbox"' not in nav
    nav = so.get("/console/").text
    assert 'href="/console/reports"' not in nav and 'href="/console/inbox"' in nav


def test_report_forms_without_their_csrf_token_are_refused(console: Console,
                                                           world: ReportWorld) -> None:
    lan = console.sign_in("lan")
    incident = world.incidents["rights"]
    record = f"{incident}-tb"
    other = csrf(console.sign_in("lan").get("/console/").text)   # another session's token
    for path, data in [(f"/console/incidents/{incident}/reports/draft", {}),
                       (f"/console/incidents/{incident}/reports/approve",
                        {"comment": "x", "delay_reason": "y"}),
                       (f"/console/reports/{record}/retry", {})]:
        for token in (None, "forged", other):
            body = dict(data) if token is None else {**data, "csrf": token}
            r = lan.post(path, data=body)
            assert r.status_code == 403 and "security token" in unescape(r.text), path
        r = lan.post(path, content=b"{}", headers={"content-type": "application/json"})
        assert r.status_code == 403


def test_text_from_logs_stays_text_in_reports_and_the_inbox(console: Console,
                                                            world: ReportWorld) -> None:
    lan = console.sign_in("lan")
    (incident,) = incident_ids(lan.get("/console/incidents",
                                       params={"user": HOSTILE_USER}).text)
    page = confirm(lan, incident)                     # detected long ago: late
    done = _approve(lan, incident, page, comment="Duyệt <b>ngay</b>",
                    delay_reason="Phát hiện muộn \x1b[31m <img src=x onerror=alert(1)>")
    assert done.status_code == 303
    world.deliver()
    number = console.api("lan").get(f"/incidents/{incident}/reports").json()[0]["number"]
    so = console.sign_in("so")
    inbox = so.get("/console/inbox").text
    row = re.search(rf'data-id="(tu-du-\d{{4}}-{number}-bc)"', inbox)
    assert row
    for shown in (inbox, so.get(f"/console/inbox/{row.group(1)}").text,
                  lan.get(f"/console/incidents/{incident}").text,
                  lan.get("/console/reports").text):
        assert "<script>alert" not in shown and "<img src=x" not in shown
        assert "\x1b" not in shown and "\u202e" not in shown
        assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    detail = so.get(f"/console/inbox/{row.group(1)}").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in detail    # the cause
    assert "TD00000999" not in detail                  # patient ids only as pseudonyms
