"""Three hospitals in one store: who sees which hospital, which patient identifiers leave
as pseudonyms, and the access record every such response leaves — on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from apikit import HOSPITALS, PAIRS, Running, World, hidden_patient, patient

from alerting.reports.pseudonym import HmacPseudonymizer

RAW_ID = re.compile(r"\b(?:TD|CR|ND)\d{8}\b")
ALL = len(HOSPITALS) * 2 * PAIRS


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[Running]:
    yield world.serve()


def get(running: Running, token: str, path: str, **params: Any) -> httpx.Response:
    with running.client(token, **{"X-Phiwatch-Reason": "thanh tra"}) as c:
        return c.get(path, params=params)


def audit_tail(running: Running, after: int) -> list[dict[str, Any]]:
    with running.client(running.token("admin")) as c:
        body = c.get("/audit", params={"after": after, "limit": 1000}).json()
    return list(body["items"])


def audit_head(running: Running) -> int:
    items = audit_tail(running, 0)
    seq = 0
    while items:
        seq = items[-1]["seq"]
        items = audit_tail(running, seq)
    return seq


def pseudonym(running: Running, org: str, raw: str) -> str:
    key = (running.config.api_dir / "pseudonym.key").read_bytes()
    return HmacPseudonymizer(key, org)(raw)


def test_hospital_it_sees_its_own_hospital_with_real_ids(api: Running) -> None:
    token = api.token("hospital_it", "tu-du")
    body = get(api, token, "/alerts", limit=500).json()
    assert body["total"] == 2 * PAIRS
    assert {a["organization_id"] for a in body["items"]} == {"tu-du"}
    first = min(body["items"], key=lambda a: a["window_start"])
    assert first["context"]["patient.id"] == patient("tu-du", 0)
    assert patient("tu-du", 0) in first["explanation"]
    assert hidden_patient("tu-du", 0) in first["explanation"]
    incidents = get(api, token, "/incidents", limit=500).json()
    assert incidents["total"] == PAIRS
    assert {i["organization_id"] for i in incidents["items"]} == {"tu-du"}
    # Another hospital's alert is "not found", not "forbidden".
    other = get(api, token, "/alerts", hospital="cho-ray")
    assert other.status_code == 403


def test_inspectors_see_every_hospital_with_pseudonyms_only(api: Running) -> None:
    body = get(api, api.token("inspector"), "/alerts", limit=500)
    assert body.status_code == 200
    items = body.json()["items"]
    assert {a["organization_id"] for a in items} >= set(HOSPITALS)
    assert not RAW_ID.search(body.text), RAW_ID.search(body.text)
    for a in items:
        org = a["organization_id"]
        n = int(a["first_event"]["event_id"].split("-ev")[1].split("-")[0])
        shown = pseudonym(api, org, patient(org, n))
        assert a["context"]["patient.id"] == shown  # stable: the hospital's keyed HMAC
        assert shown in a["explanation"]
        assert pseudonym(api, org, hidden_patient(org, n)) in a["explanation"]
        assert shown in a["context"]["url.path"]
        # Staff are shown as they are.
        assert a["context"]["user.name"] == "Nguyễn Thị Lan"
        assert a["group"]["user.id"].startswith("nv")
    # One raw id, two hospitals: unrelated pseudonyms.
    assert pseudonym(api, "tu-du", "X1") != pseudonym(api, "cho-ray", "X1")


def test_the_department_sees_pseudonymized_summaries(api: Running) -> None:
    token = api.token("department")
    r = get(api, token, "/incidents", limit=500)
    assert r.status_code == 200
    assert r.json()["total"] >= len(HOSPITALS) * PAIRS
    assert not RAW_ID.search(r.text)
    assert all("BN-" in i["summary"] for i in r.json()["items"])
    assert get(api, token, "/alerts").status_code == 403
    assert get(api, token, f"/incidents/{r.json()['items'][0]['id']}").status_code == 403


def test_an_incident_shows_alerts_explanations_and_an_evidence_timeline(api: Running) -> None:
    token = api.token("inspector")
    listed = get(api, token, "/incidents", hospital="cho-ray", limit=1).json()["items"][0]
    r = get(api, token, f"/incidents/{listed['id']}")
    assert r.status_code == 200 and not RAW_ID.search(r.text)
    body = r.json()
    assert len(body["alerts"]) == body["alert_count"] == 2
    assert all(a["explanation"] for a in body["alerts"])
    times = [e["timestamp"] for e in body["evidence"]]
    assert times == sorted(times) and len(times) == 4
    assert {e["alert_id"] for e in body["evidence"]} == {a["id"] for a in body["alerts"]}
    assert all(e["ref"].startswith("/var/log/his/cho-ray/") for e in body["evidence"])
    assert body["history"][0]["to_status"] == "new"


def test_a_hospital_may_disclose_its_patients_to_inspectors(world: World) -> None:
    running = world.serve({"hospitals": {
        "tu-du": {"patient_id_patterns": [r"TD\d{8}"]},
        "cho-ray": {"patient_id_patterns": [r"CR\d{8}"]},
        "nhi-dong-1": {"patient_id_patterns": [r"ND\d{8}"], "disclose_patient_ids": True}}})
    text = get(running, running.token("inspector"), "/alerts", limit=500).text
    found = set(m[:2] for m in RAW_ID.findall(text))
    assert found == {"ND"}


def test_every_response_with_patient_ids_is_recorded_and_no_other(api: Running) -> None:
    start = audit_head(api)
    inspector = api.token("inspector", subject="thanh-tra-07")
    it = api.token("hospital_it", "tu-du", subject="it-lan")
    r = get(api, inspector, "/alerts", hospital="cho-ray", limit=3)
    ids = [a["id"] for a in r.json()["items"]]
    get(api, it, f"/alerts/{ids[0]}")  # another hospital's: 404, nothing shown
    get(api, it, "/alerts", limit=2)
    for path in ("/stats/alerts", "/stats/incidents", "/me"):
        assert get(api, inspector, path).status_code == 200
    records = audit_tail(api, start)
    assert [(x["actor"], x["role"], x["route"], x["hospital"]) for x in records] == [
        ("thanh-tra-07", "inspector", "/alerts", None),
        ("it-lan", "hospital_it", "/alerts", "tu-du")]
    first = records[0]
    assert first["objects"] == ids and first["identifiers"] == 6  # 2 per alert, 3 alerts
    assert first["reason"] == "thanh tra" and first["method"] == "GET"
    assert first["request_id"] and first["status"] == 200
    # The record itself holds no identifier, real or pseudonymous.
    assert not RAW_ID.search(json.dumps(records)) and "BN-" not in json.dumps(records)


def test_words_match_what_the_caller_is_shown_so_no_id_oracle(api: Running) -> None:
    raw = patient("tu-du", 4)
    it = get(api, api.token("hospital_it", "tu-du"), "/alerts", words=raw).json()
    assert [a["context"]["patient.id"] for a in it["items"]] == [raw] and it["total"] == 1
    inspector = get(api, api.token("inspector"), "/alerts", words=raw).json()
    assert inspector["items"] == [] and inspector["total"] is None
    incidents = get(api, api.token("department"), "/incidents", words=raw).json()
    assert incidents["items"] == [] and incidents["total"] is None
    staff = get(api, api.token("inspector"), "/alerts", words="NGUYỄN THỊ", limit=500).json()
    assert len(staff["items"]) >= ALL


def test_notes_and_comments_are_pseudonymized_too(api: Running) -> None:
    it = api.token("hospital_it", "nhi-dong-1", subject="it-minh")
    incident = get(api, it, "/incidents", limit=1, sort="oldest").json()["items"][0]
    raw = patient("nhi-dong-1", 0)
    with api.client(it) as c:
        note = c.post(f"/incidents/{incident['id']}/notes",
                      json={"text": f"Đã gọi gia đình bệnh nhân {raw}; ND12345678 cũng vậy"})
        assert note.status_code == 201 and raw in note.json()["text"]
    shown = get(api, api.token("inspector"), f"/incidents/{incident['id']}")
    assert shown.status_code == 200 and not RAW_ID.search(shown.text)
    texts = [n["text"] for n in shown.json()["notes"]]
    assert any(pseudonym(api, "nhi-dong-1", raw) in t for t in texts)
    assert any(pseudonym(api, "nhi-dong-1", "ND12345678") in t for t in texts)
