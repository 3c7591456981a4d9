"""Triage over HTTP on both backends: status changes (comment mandatory, actor from the
token, time recorded, illegal transitions and stale versions 409), notes, evidence
requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from apikit import Running, World


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[Running]:
    yield world.serve()


class Incidents:
    """Hands out a fresh incident of a hospital to each test (they change them)."""

    def __init__(self, running: Running, org: str) -> None:
        with running.client(running.token("hospital_it", org)) as c:
            items = c.get("/incidents", params={"limit": 100, "status": "new",
                                                "sort": "oldest"}).json()["items"]
        self.ids = [i["id"] for i in items]
        self.versions = {i["id"]: i["version"] for i in items}

    def take(self) -> str:
        return self.ids.pop()


@pytest.fixture(scope="module")
def incidents(api: Running) -> Incidents:
    return Incidents(api, "cho-ray")


def post(api: Running, token: str, path: str, body: dict[str, Any]) -> Any:
    with api.client(token) as c:
        return c.post(path, json=body)


def test_a_status_change_records_who_when_and_why(api: Running, incidents: Incidents) -> None:
    iid = incidents.take()
    v = incidents.versions[iid]
    token = api.token("hospital_it", "cho-ray", subject="it-hoa")
    before = datetime.now(UTC)
    r = post(api, token, f"/incidents/{iid}/status",
             {"to": "investigating", "comment": "đang xác minh với khoa", "expected_version": v})
    after = datetime.now(UTC)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "investigating" and body["version"] == v + 1
    last = body["history"][-1]
    assert (last["actor"], last["role"], last["from_status"], last["to_status"],
            last["comment"]) == ("it-hoa", "hospital_it", "new", "investigating",
                                 "đang xác minh với khoa")
    at = datetime.fromisoformat(last["at"].replace("Z", "+00:00"))
    assert at.tzinfo is not None and before <= at <= after
    assert set(body["next_statuses"]) == {"confirmed_leak", "false_positive"}
    # Without expected_version it applies to what is current.
    r = post(api, token, f"/incidents/{iid}/status",
             {"to": "confirmed_leak", "comment": "xác nhận lộ lọt"})
    assert r.status_code == 200 and r.json()["version"] == v + 2


def test_illegal_transitions_and_stale_versions_are_409(api: Running,
                                                        incidents: Incidents) -> None:
    iid = incidents.take()
    token = api.token("hospital_it", "cho-ray")
    r = post(api, token, f"/incidents/{iid}/status", {"to": "reported", "comment": "x"})
    assert r.status_code == 409 and r.json()["error"] == "illegal_transition"
    assert "new -> reported is not allowed" in r.json()["message"]
    r = post(api, token, f"/incidents/{iid}/status",
             {"to": "investigating", "comment": "x",
              "expected_version": incidents.versions[iid] + 5})
    assert r.status_code == 409 and r.json()["error"] == "stale_version"
    r = post(api, token, f"/incidents/{iid}/status", {"to": "closed", "comment": "x"})
    assert r.status_code == 409  # closing a new incident: not a transition


@pytest.mark.parametrize(("body", "field"), [
    ({"to": "investigating"}, "body.comment"),
    ({"to": "investigating", "comment": ""}, "body.comment"),
    ({"to": "investigating", "comment": "   \n "}, "body.comment"),
    ({"to": "done", "comment": "x"}, "body.to"),
    ({"to": "investigating", "comment": "x", "expected_version": -1},
     "body.expected_version"),
    ({"to": "investigating", "comment": "x", "actor": "someone-else"}, "body.actor"),
])
def test_a_change_without_a_proper_comment_or_status_is_422(
        api: Running, incidents: Incidents, body: dict[str, Any], field: str) -> None:
    iid = incidents.ids[0]
    r = post(api, api.token("hospital_it", "cho-ray"), f"/incidents/{iid}/status", body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_two_analysts_with_the_same_version_one_wins(api: Running,
                                                     incidents: Incidents) -> None:
    iid = incidents.take()
    v = incidents.versions[iid]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def change(to: str, who: str) -> None:
        token = api.token("hospital_it", "cho-ray", subject=who)
        barrier.wait()
        r = post(api, token, f"/incidents/{iid}/status",
                 {"to": to, "comment": f"{who} decided", "expected_version": v})
        results.append(r.status_code)

    threads = [threading.Thread(target=change, args=("investigating", "a")),
               threading.Thread(target=change, args=("false_positive", "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    with api.client(api.token("inspector")) as c:
        history = c.get(f"/incidents/{iid}").json()["history"]
    assert len(history) == 2  # creation and exactly one decision


def test_notes_and_evidence_requests_join_the_incident_in_order(
        api: Running, incidents: Incidents) -> None:
    iid = incidents.take()
    it = api.token("hospital_it", "cho-ray", subject="it-hoa")
    inspector = api.token("inspector", subject="thanh-tra-02")
    assert post(api, it, f"/incidents/{iid}/notes",
                {"text": "Đã khoá tài khoản nv00001"}).status_code == 201
    r = post(api, inspector, f"/incidents/{iid}/evidence-requests",
             {"text": "Đề nghị gửi nhật ký truy cập 22/11"})
    assert r.status_code == 201 and r.json()["kind"] == "evidence_request"
    assert post(api, inspector, f"/incidents/{iid}/notes",
                {"text": "  "}).status_code == 422
    assert post(api, it, f"/incidents/{iid}/evidence-requests",
                {"text": "x"}).status_code == 403
    with api.client(inspector) as c:
        notes = c.get(f"/incidents/{iid}").json()["notes"]
    assert [(n["actor"], n["role"], n["kind"]) for n in notes] == [
        ("it-hoa", "hospital_it", "note"), ("thanh-tra-02", "inspector", "evidence_request")]
    # The grouper and triage never race the notes: the incident's version is unchanged.
    with api.client(it) as c:
        assert c.get(f"/incidents/{iid}").json()["version"] == incidents.versions[iid]
