"""The console over HTTP on both backends: headers, cookies, CSRF, who may open what,
tenancy and pseudonyms, the access audit, hostile text, sessions ending, triage."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest
from apikit import PREFIX, World, patient
from consolekit import ACCOUNTS, HOSTILE_USER, PASSWORD, Console, csrf, incident_ids, serve, sign_in

from api.console.config import ConsoleConfig
from api.console.headers import CSP
from api.console.routes import PUBLIC, ROUTERS
from api.roles import declared_roles
from phiwatch.service import (
    AuditRecord,
    IncidentQuery,
    open_api_store,
    set_disabled,
    set_password,
    walk_incidents,
)

PAGES = ["/console/", "/console/incidents", "/console/alerts", "/console/rules"]


def _incident_of(c: httpx.Client, hospital: str | None = None, user: str | None = None
                 ) -> str:
    params = {k: v for k, v in (("hospital", hospital), ("user", user)) if v}
    ids = incident_ids(c.get("/console/incidents", params=params).text)
    assert ids
    return ids[0]


def test_pages_carry_a_strict_csp_and_safe_headers(console: Console) -> None:
    c = console.sign_in("thanh")
    for path in [*PAGES[:3], "/console/login", "/console/no-such-page"]:
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert csp == CSP
        assert "unsafe-inline" not in csp and "script-src" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["server-timing"].startswith("app;dur=")
        assert "<script" not in r.text and " style=" not in r.text
    assert c.get("/console/no-such-page").status_code == 404
    assert "content-security-policy" not in c.get("/health").headers


def test_the_session_cookie_is_httponly_strict_and_scoped(console: Console) -> None:
    c = console.client()
    r = sign_in(c, "thanh")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("phiwatch_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the next test
    assert r.headers["location"] == "/console/"


def test_secure_cookie_when_asked(sqlite_world: World) -> None:
    secure = serve(sqlite_world, {"secure_cookie": True})
    # Over plain HTTP a client keeps such a cookie to itself: the pre-session cookie of
    # the sign-in form is Secure as the session cookie is.
    r = secure.client().get("/console/login")
    assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


def test_forms_without_their_csrf_token_are_refused(console: Console) -> None:
    lan = console.sign_in("lan")
    incident = _incident_of(lan)
    root = console.sign_in("root")
    for user, client, path, data in [
        ("lan", lan, f"/console/incidents/{incident}/status",
         {"to": "investigating", "comment": "x"}),
        ("lan", lan, f"/console/incidents/{incident}/notes", {"text": "x"}),
        ("lan", lan, "/console/logout", {}),
        ("root", root, "/console/rules/phiwatch-his-bulk-patient-lookup/enabled",
         {"enabled": "false", "comment": "x"}),
    ]:
        for token in (None, "forged", csrf(console.sign_in("thanh").get("/console/").text)):
            body = dict(data) if token is None else {**data, "csrf": token}
            r = client.post(path, data=body)
            assert r.status_code == 403, (user, path, token, r.status_code)
            assert "security token" in unescape(r.text)
        r = client.post(path, content=b'{"to": "investigating"}',
                        headers={"content-type": "application/json"})
        assert r.status_code == 403
    fresh = console.client()
    r = fresh.post("/console/login", data={"username": "lan", "password": "x", "csrf": "y"})
    assert r.status_code == 403  # no pre-session cookie: the sign-in form was never shown
    assert lan.get("/console/").status_code == 200  # still signed in: nothing happened


def test_who_may_open_what(console: Console) -> None:
    clients = {user: console.sign_in(user) for user in ACCOUNTS}
    table = declared_roles(ROUTERS)
    for (method, path), roles in table.items():
        if method != "GET" or (method, path) in PUBLIC or "{" in path:
            continue
        for user, (role, _) in ACCOUNTS.items():
            r = clients[user].get(path)
            if role in roles:
                assert r.status_code in (200, 303), (user, path, r.status_code)
            else:
                assert r.status_code == 403, (user, path, r.status_code)
        anonymous = console.client().get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/console/login?next=")
    assert clients["root"].get("/console/").headers["location"] == "/console/rules"


def test_hospital_it_sees_its_own_hospital_only(console: Console) -> None:
    lan = console.sign_in("lan")
    page = lan.get("/console/incidents").text
    assert ">tu-du<" in page and ">cho-ray<" not in page and ">nhi-dong-1<" not in page
    assert patient("tu-du", 0)[:4] in page  # real ids of its own patients
    other = _incident_of(console.sign_in("minh"), user=None)
    r = lan.get(f"/console/incidents/{other}")
    assert r.status_code == 404
    assert lan.get("/console/incidents", params={"hospital": "cho-ray"}).status_code == 403
    assert lan.get("/console/alerts", params={"hospital": "cho-ray"}).status_code == 403


def test_the_overview_shows_the_open_incidents_of_the_callers_hospitals(
        console: Console, world: World) -> None:
    """Its total and nearest deadlines are those of a walk over the caller's open
    incidents (detected earliest, then by id)."""
    store = world.open_store()
    try:
        for user, org in (("thanh", None), ("lan", "tu-du"), ("minh", "cho-ray")):
            page = console.sign_in(user).get("/console/").text
            walked = sorted((i for s in ("new", "investigating", "confirmed_leak")
                             for i in walk_incidents(store, IncidentQuery(
                                 status=s, organization_id=org))),
                            key=lambda i: (i.detected_at, i.id))
            assert walked and f'<span class="big">{len(walked)}</span>' in page, user
            table = page.split('id="deadlines"', 1)[1].split("</table>", 1)[0]
            shown = re.findall(r'href="/console/incidents/([0-9a-f]{32})"', table)
            assert shown == [i.id for i in walked[:ConsoleConfig().deadline_rows]], user
            if org is not None:
                assert {i.organization_id for i in walked} == {org}
    finally:
        store.close()


def test_inspectors_see_pseudonyms_everywhere(console: Console) -> None:
    thanh = console.sign_in("thanh")
    listing = thanh.get("/console/incidents").text
    assert all(f">{h}<" in listing for h in ("tu-du", "cho-ray", "nhi-dong-1"))
    for hospital in ("tu-du", "cho-ray"):
        incident = _incident_of(thanh, hospital=hospital)
        page = thanh.get(f"/console/incidents/{incident}").text
        assert "BN-" in page
        assert not re.search(rf"{PREFIX[hospital]}\d{{8}}", page), hospital
    for path in ("/console/", "/console/alerts"):
        assert not re.search(r"(TD|CR|ND)\d{8}", thanh.get(path).text), path
    assert "BN-" in thanh.get("/console/alerts").text


def test_pages_with_patient_ids_are_in_the_access_audit(console: Console, world: World
                                                        ) -> None:
    store = open_api_store(console.running.config)
    try:
        def records() -> list[AuditRecord]:
            found: list[AuditRecord] = []
            while batch := store.audit_records(found[-1].seq if found else 0, 1000):
                found += batch
            return found

        before = len(records())
        thanh = console.sign_in("thanh")
        incident = _incident_of(thanh, hospital="nhi-dong-1")
        thanh.get(f"/console/incidents/{incident}")
        new = records()[before:]
        routes = [(r.entry.route, r.entry.actor, r.entry.role) for r in new]
        assert ("/console/incidents", "thanh", "inspector") in routes
        assert ("/console/incidents/{incident_id}", "thanh", "inspector") in routes
        one = next(r for r in new if r.entry.route == "/console/incidents/{incident_id}")
        assert incident in one.entry.objects and one.entry.identifiers > 0
        count = len(records())
        console.sign_in("root").get("/console/rules")  # rules: no patient identifiers
        console.sign_in("so").get("/console/alerts")  # refused: nothing shown
        assert len(records()) == count
    finally:
        store.close()


def test_text_from_logs_stays_text(console: Console) -> None:
    for user in ("lan", "thanh"):
        c = console.sign_in(user)
        incident = _incident_of(c, user=HOSTILE_USER)
        for page in (c.get(f"/console/incidents/{incident}").text,
                     c.get("/console/incidents", params={"user": HOSTILE_USER}).text,
                     c.get("/console/alerts", params={"user": HOSTILE_USER}).text):
            assert "<script>alert" not in page and "<img src=x" not in page
            assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
            assert "{{ 7*7 }}" in page and "{% raw %}" in page and ">49<" not in page
            assert "\x1b" not in page and "\u202e" not in page
            assert "\\x1b[31mred" in page and "\\u202eevil" in page


def test_sessions_end_on_expiry_sign_out_and_account_changes(sqlite_world: World) -> None:
    c = serve(sqlite_world, {"session_minutes": 30})
    thanh = c.sign_in("thanh")
    assert thanh.get("/console/").status_code == 200
    c.clock.advance(29 * 60)
    assert thanh.get("/console/").status_code == 200
    c.clock.advance(2 * 60)
    r = thanh.get("/console/incidents")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    assert "phiwatch_session=\"\"" in r.headers.get("set-cookie", "") or \
        "Max-Age=0" in r.headers.get("set-cookie", "")

    # A fresh server: the moved clock would issue tokens python-jose finds not yet valid.
    c = serve(sqlite_world)
    thanh = c.sign_in("thanh")
    cookie = thanh.cookies.get("phiwatch_session")
    page = thanh.get("/console/").text
    assert thanh.post("/console/logout", data={"csrf": csrf(page)}).status_code == 303
    replay = c.client()
    replay.cookies.set("phiwatch_session", cookie or "", path="/console")
    assert replay.get("/console/").status_code == 303  # the signed-out token is refused
    # ... and stays refused by a restarted server, and by another process on this host.
    restarted = serve(sqlite_world)
    replay = restarted.client()
    replay.cookies.set("phiwatch_session", cookie or "", path="/console")
    assert replay.get("/console/").status_code == 303
    fresh = restarted.sign_in("thanh")  # a new session of the same person is not
    assert fresh.get("/console/").status_code == 200

    def at() -> datetime:
        return datetime.fromtimestamp(c.clock(), UTC)

    store = sqlite_world.open_store()
    try:
        so = c.sign_in("so")
        c.clock.advance(1)
        set_disabled(store, "so", True, now=at())
        assert so.get("/console/").status_code == 303
        set_disabled(store, "so", False, now=at())
        so = c.sign_in("so")
        assert so.get("/console/").status_code == 200
        c.clock.advance(1)
        set_password(store, "so", "a brand new password", now=at())
        assert so.get("/console/").status_code == 303
        assert sign_in(c.client(), "so").status_code == 401
        assert sign_in(c.client(), "so", "a brand new password").status_code == 303
        set_password(store, "so", PASSWORD, now=at())
    finally:
        store.close()


def test_triage_over_http_and_read_back_through_the_api(console: Console) -> None:
    lan = console.sign_in("lan")
    incident = _incident_of(lan, user="nv00002")
    page = lan.get(f"/console/incidents/{incident}").text
    version = re.search(r'name="expected_version" value="(\d+)"', page)
    assert version
    token = csrf(page)
    blank = lan.post(f"/console/incidents/{incident}/status",
                     data={"csrf": token, "to": "investigating", "comment": "   ",
                           "expected_version": version.group(1)})
    assert blank.status_code == 422 and "kèm lý do" in blank.text
    stale = lan.post(f"/console/incidents/{incident}/status",
                     data={"csrf": token, "to": "investigating", "comment": "xác minh",
                           "expected_version": str(int(version.group(1)) + 5)})
    assert stale.status_code == 409
    done = lan.post(f"/console/incidents/{incident}/status",
                    data={"csrf": token, "to": "investigating",
                          "comment": "đang xác minh với khoa <b>",
                          "expected_version": version.group(1)})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/incidents/{incident}?done=status"
    illegal = lan.post(f"/console/incidents/{incident}/status",
                       data={"csrf": token, "to": "reported", "comment": "báo cáo"})
    assert illegal.status_code == 409 and "not allowed" in illegal.text
    note = lan.post(f"/console/incidents/{incident}/notes",
                    data={"csrf": token, "text": "đã gọi điện cho khoa"})
    assert note.status_code == 303
    got = console.api("lan").get(f"/incidents/{incident}").json()
    assert got["status"] == "investigating"
    last = got["history"][-1]
    assert (last["actor"], last["role"], last["comment"]) == (
        "lan", "hospital_it", "đang xác minh với khoa <b>")
    assert got["notes"][-1]["text"] == "đã gọi điện cho khoa"
    thanh = console.sign_in("thanh")
    page = thanh.get(f"/console/incidents/{incident}").text
    assert "status-form" not in page  # inspectors read, they do not triage
    r = thanh.post(f"/console/incidents/{incident}/status",
                   data={"csrf": csrf(page), "to": "closed", "comment": "x"})
    assert r.status_code == 403
    r = thanh.post(f"/console/incidents/{incident}/evidence-requests",
                   data={"csrf": csrf(page), "text": "xin gửi nhật ký gốc"})
    assert r.status_code == 303
    assert "xin gửi nhật ký gốc" in lan.get(f"/console/incidents/{incident}").text


def test_language_switch_and_no_open_redirect(console: Console) -> None:
    c = console.sign_in("thanh")
    assert "Tổng quan" in c.get("/console/").text
    r = c.get("/console/lang/en", params={"next": "/console/incidents"})
    assert r.status_code == 303 and r.headers["location"] == "/console/incidents"
    assert "Incidents" in c.get("/console/incidents").text
    for target in ("https://evil.example/", "//evil.example/", "/console\\..\\x", "/api"):
        r = c.get("/console/lang/vi", params={"next": target})
        assert r.headers["location"] == "/console/"
    page = console.client().get("/console/login", params={"next": "https://evil.example/"})
    assert 'value="/console/"' in page.text


@pytest.mark.parametrize("query", [{"status": "open"}, {"severity": "x"},
                                   {"start": "22/11/2026"}, {"after": "forged.cursor"}])
def test_bad_filters_are_a_page_saying_which(console: Console, query: dict[str, str]
                                             ) -> None:
    r = console.sign_in("thanh").get("/console/incidents", params=query)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "query." in r.text


def test_pages_follow_the_cursor(console: Console) -> None:
    c = console.sign_in("thanh")
    seen: list[str] = []
    url: str | None = "/console/incidents"
    while url:
        page = c.get(url).text
        seen += incident_ids(page)
        found = re.search(r'rel="next" href="([^"]+)"', page)
        url = unescape(found.group(1)) if found else None
    assert len(seen) == len(set(seen)) == 3 * 12 + 1


def test_admins_switch_rules_with_a_comment(console: Console) -> None:
    root = console.sign_in("root")
    page = root.get("/console/rules").text
    assert "phiwatch-his-bulk-patient-lookup" in page and "Tất cả quy tắc hợp lệ" in page
    path = "/console/rules/phiwatch-his-bulk-patient-lookup/enabled"
    blank = root.post(path, data={"csrf": csrf(page), "enabled": "false", "comment": " "})
    assert blank.status_code == 422
    off = root.post(path, data={"csrf": csrf(page), "enabled": "false",
                                "comment": "quá nhiều báo động nhầm ở khoa Dược"})
    assert off.status_code == 303
    listed = console.api("root").get("/rules")
    assert listed.status_code == 200, (listed.status_code, listed.text[:500])
    rules = {r["id"]: r for r in listed.json()}
    rule = rules["phiwatch-his-bulk-patient-lookup"]
    assert (rule["enabled"], rule["disabled_by"], rule["comment"]) == (
        False, "root", "quá nhiều báo động nhầm ở khoa Dược")
    assert "quá nhiều báo động nhầm ở khoa Dược" in root.get("/console/rules").text
    on = root.post(path, data={"csrf": csrf(page), "enabled": "true", "comment": "bật lại"})
    assert on.status_code == 303
    assert root.post("/console/rules/no-such-rule/enabled",
                     data={"csrf": csrf(page), "enabled": "false",
                           "comment": "x"}).status_code == 404
