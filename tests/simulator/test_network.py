"""The simulated network capture: readable by phiwatch and tshark alike, consistent with
the HIS log, quiet under the network rules when ordinary, loud where the labels say."""

from __future__ import annotations

import re
import shutil
import struct
from bisect import bisect_right
from collections import defaultdict
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
import yaml
from simkit import frames, ground_truth, read_csv, read_log

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import load_config
from phiwatch.groundtruth import expected_rules
from phiwatch.replay import replay
from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.flows import FlowReader, NetworkConfig, NetworkTagger
from sensors.flows.conversations import compare, conversations, run_tshark_conv
from simulator import HospitalSpec, SimulationResult, simulate
from simulator.netplan import BACKUP, HIS_APP, HIS_DB, RESOLVER
from simulator.spec import INCIDENT_KINDS, NETWORK_INCIDENT_KINDS

ROOT = Path(__file__).resolve().parents[2]
NET_PACK = ROOT / "rules" / "packs" / "net"
TUNNEL = {"phiwatch-net-dns-tunnel-encoded-names", "phiwatch-net-dns-tunnel-unique-names",
          "phiwatch-net-dns-tunnel-record-types"}
#: A hospital of 25 people: seconds to simulate, every network incident still fits but
#: the ward harvest (it needs a ward's nurses harvesting another's mothers:
#: test_ward_harvest).
TINY = HospitalSpec(
    organization_id="bv-nho", history_days=10, outpatients_per_day=30, emergency_per_day=0,
    births_per_day=25,
    staff={"tiep-nhan": {"receptionist": 8}, "tai-chinh": {"billing_clerk": 4},
           "cntt": {"it_admin": 3}, "san-a": {"doctor": 3, "midwife": 5},
           "xet-nghiem": {"lab_tech": 4}, "doi-tac": {"vendor": 1}},
    incident_kinds=INCIDENT_KINDS[:4], network_incident_kinds=NETWORK_INCIDENT_KINDS[:4],
)


def network_config(result: SimulationResult) -> NetworkConfig:
    assert result.network_config is not None
    return NetworkConfig.model_validate(
        yaml.safe_load(result.network_config.read_text())["network"])


def net_alerts(pcap: Path, config: NetworkConfig, pack: RuleSet) -> list[Alert]:
    """The network pack on one capture, as a replay feeds it (tagged, in time order)."""
    tagger, engine = NetworkTagger(config), Engine(pack)
    alerts: list[Alert] = []
    for ev in sorted(FlowReader(pcap), key=attrgetter("epoch")):
        alerts.extend(engine.process(tagger.tag(ev)))
    alerts.extend(engine.flush())
    assert engine.late == 0 and engine.rule_failures == 0
    return alerts


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    ruleset = load_rules([NET_PACK])
    assert not [e for e in ruleset.errors if e.is_error], ruleset.errors
    return ruleset


@pytest.fixture(scope="module")
def small_net_alerts(small: SimulationResult, pack: RuleSet) -> list[Alert]:
    return net_alerts(small.pcap_files[0], network_config(small), pack)


def _network_incidents(result: SimulationResult) -> dict[str, dict[str, Any]]:
    return {i["kind"]: i for i in ground_truth(result.out_dir)
            if i["kind"] in NETWORK_INCIDENT_KINDS}


# -- the files --------------------------------------------------------------------------


def test_capture_and_network_block_are_written(small: SimulationResult) -> None:
    assert [p.relative_to(small.out_dir).as_posix() for p in small.pcap_files] == [
        "net/capture-2026-11-16.pcap"]
    assert small.network_config == small.out_dir / "net" / "network.yaml"
    assert set(small.files) >= {*small.pcap_files, small.network_config}
    head = small.pcap_files[0].read_bytes()[:24]
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("<IHHiIII", head)
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 65535, 1)
    doc = yaml.safe_load(small.network_config.read_text())
    assert set(doc) == {"network"}
    config = load_config(small.network_config).network  # a complete configuration too
    assert config == network_config(small)
    own = [r["cidr"] for r in read_csv(small.networks)]
    assert config.internal == own and "10.10.1.0/24" in own
    assert config.server_groups == {"his_app": list(HIS_APP), "his_db": [HIS_DB],
                                    "infra": [RESOLVER]}
    assert "cloud_backup" in config.known_external
    truth = small.ground_truth.read_text()
    assert '"config": "net/network.yaml"' in truth


def test_frames_in_time_order_within_the_day(small: SimulationResult) -> None:
    got = frames(small.pcap_files[0])
    assert len(got) == sum(small.packets_per_day.values())
    times = [f[0] for f in got]
    assert times == sorted(times)
    day = datetime.fromisoformat("2026-11-16T00:00:00+07:00").timestamp()
    assert day <= times[0] and times[-1] < day + 86400
    for _, _, _, proto, wirelen, caplen in got:
        assert caplen <= wirelen
        assert caplen == wirelen or proto == 6  # only TCP is sliced


def test_same_seed_same_capture_other_seed_other(tmp_path: Path) -> None:
    a = simulate(TINY, tmp_path / "a", days=1, seed=5)
    b = simulate(TINY, tmp_path / "b", days=1, seed=5)
    c = simulate(TINY, tmp_path / "c", days=1, seed=6)
    assert a.pcap_files[0].read_bytes() == b.pcap_files[0].read_bytes()
    assert a.network_config and b.network_config
    assert a.network_config.read_bytes() == b.network_config.read_bytes()
    assert a.pcap_files[0].read_bytes() != c.pcap_files[0].read_bytes()
    assert {i["kind"] for i in a.incidents} >= set(NETWORK_INCIDENT_KINDS[:4])


def test_without_pcap_no_capture_and_the_same_his_incidents(tmp_path: Path) -> None:
    with_net = simulate(TINY, tmp_path / "a", days=2, seed=5)
    without = simulate(TINY, tmp_path / "b", days=2, seed=5, pcap=False)
    assert without.pcap_files == [] and without.network_config is None
    assert not (tmp_path / "b" / "net").exists()
    his = [i for i in with_net.incidents if i["kind"] not in NETWORK_INCIDENT_KINDS]
    assert without.incidents == his
    assert [p.name for p in with_net.pcap_files] == ["capture-2026-11-16.pcap",
                                                     "capture-2026-11-17.pcap"]


# -- read by phiwatch and by tshark ------------------------------------------------------


def test_every_frame_decodes(small: SimulationResult) -> None:
    reader = FlowReader(small.pcap_files[0])
    events = list(reader)
    c = reader.counters
    assert c.packets == sum(small.packets_per_day.values()) > 100_000
    assert c.ip_packets == c.packets and not c.non_ip and not c.decode_errors
    assert not c.dns_errors and c.dns_events > 1000 and c.truncated_records == 0
    assert c.flows == sum(1 for e in events if e.fields["event.dataset"] == "network.flow")


def test_conversations_equal_tshark(small: SimulationResult) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    path = small.pcap_files[0]
    ours = conversations(path)
    theirs = run_tshark_conv(path, tshark).get("IPv4", [])
    assert compare(ours, theirs) == []
    assert len(ours) == len(theirs) > 100


# -- consistent with the HIS log ---------------------------------------------------------


def _in_use(log: Path, lo: float, hi: float) -> dict[str, list[tuple[float, float]]]:
    """Per workstation address, when the HIS log says it is in use: login to logout of a
    user (carried over midnight: from or to the day's edge), and three minutes after any
    event from it. Merged, in order."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    opened: dict[tuple[str, str], float] = {}
    seen: set[tuple[str, str]] = set()
    for x in read_log(log):
        key = (x.user, x.ip)
        spans[x.ip].append((x.t, x.t + 180))
        if x.action == "login":
            opened[key] = x.t
        elif x.action == "logout":
            start = opened.pop(key, lo if key not in seen else None)
            if start is not None:
                spans[x.ip].append((start, x.t))
        elif x.action != "login_failed" and key not in opened and key not in seen:
            opened[key] = lo
        seen.add(key)
    for (_, ip), start in opened.items():
        spans[ip].append((start, hi))
    merged: dict[str, list[tuple[float, float]]] = {}
    for ip, items in spans.items():
        out: list[tuple[float, float]] = []
        for a, b in sorted(items):
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        merged[ip] = out
    return merged


def _workstation(ip: str) -> bool:
    return ip.startswith(("10.20.", "10.250.0."))


def test_workstations_talk_only_while_in_use(small: SimulationResult) -> None:
    lo = datetime.fromisoformat("2026-11-16T00:00:00+07:00").timestamp()
    use = _in_use(small.log_files[0], lo, lo + 86400)
    stations = {r["ip"] for r in read_csv(small.workstations)}
    talking: set[str] = set()
    for t, src, dst, *_ in frames(small.pcap_files[0]):
        for ip in (src, dst):
            if _workstation(ip):
                talking.add(ip)
                spans = use[ip]
                i = bisect_right(spans, (t, float("inf"))) - 1
                assert i >= 0 and spans[i][0] <= t <= spans[i][1], (ip, t)
    assert talking <= set(use) <= stations | {ip for ip in use if not _workstation(ip)}
    assert len(talking) >= 0.9 * len([ip for ip in use if _workstation(ip)])


def test_his_servers_and_addresses(small: SimulationResult) -> None:
    pairs = {(src, dst) for _, src, dst, *_ in frames(small.pcap_files[0])}
    # the application servers hear from workstations and their database only
    assert {s for s, d in pairs if d in HIS_APP} - {HIS_DB} == {
        s for s, d in pairs if d in HIS_APP and _workstation(s)}
    # the HIS servers never speak to the outside; the database only to its backup
    for s, d in pairs:
        if s in (*HIS_APP, HIS_DB):
            assert d.startswith("10.") or (s, d) == (HIS_DB, BACKUP[1]), (s, d)


# -- the rules ---------------------------------------------------------------------------


def test_ordinary_traffic_raises_no_network_alert(tmp_path: Path, pack: RuleSet) -> None:
    spec = HospitalSpec.small().model_copy(update={"network_incident_kinds": ()})
    result = simulate(spec, tmp_path, days=1, seed=7)
    config = network_config(result)
    assert net_alerts(result.pcap_files[0], config, pack) == []
    # the nightly backup is big enough to alert, were its service not declared
    backup = sum(w for _, s, d, _, w, _ in frames(result.pcap_files[0])
                 if (s, d) == (HIS_DB, BACKUP[1]))
    assert backup > 50_000_000
    undeclared = config.model_copy(update={"known_external": {}})
    fired = {a.rule_id for a in net_alerts(result.pcap_files[0], undeclared, pack)}
    assert "phiwatch-net-large-upload" in fired and "phiwatch-net-his-server-external" in fired


def test_each_network_incident_raises_its_rules(small: SimulationResult,
                                                small_net_alerts: list[Alert]) -> None:
    incidents = _network_incidents(small)
    assert set(incidents) == set(NETWORK_INCIDENT_KINDS[:4])  # the demo's
    shipped = {r.name or r.id for r in load_rules([ROOT / "rules" / "packs"]).rules}
    for inc in incidents.values():
        a, b = (datetime.fromisoformat(inc[k]) for k in ("start", "end"))
        mine = {x.rule_id for x in small_net_alerts
                if inc["source.ip"] == x.group.get("source.ip", inc["source.ip"])
                and x.group.get("dns.question.registered_domain",
                                inc["destination.domain"]) == inc["destination.domain"]
                and x.window_start <= b and x.window_end >= a}
        assert "expected_rules" not in inc
        net_rules = {r for r in expected_rules(inc) if r.startswith("phiwatch-net-")}
        assert net_rules <= mine, (inc["kind"], mine)
        assert set(expected_rules(inc)) <= shipped
    assert set(expected_rules(incidents["dns_tunnel"])) == TUNNEL
    # nothing else: every alert belongs to an incident
    ips = {i["source.ip"] for i in incidents.values()}
    for x in small_net_alerts:
        assert x.group.get("source.ip", incidents["dns_tunnel"]["source.ip"]) in ips, x.group


def test_ground_truth_of_network_incidents(small: SimulationResult) -> None:
    stations = {r["host_name"]: r["ip"] for r in read_csv(small.workstations)}
    for kind, inc in _network_incidents(small).items():
        assert inc["id"].startswith("inc-") and inc["description"].endswith(".")
        assert stations[inc["host.name"]] == inc["source.ip"]
        assert inc["bytes"] == inc["counts"]["bytes"] > 0
        assert inc["destination.ip"] and inc["destination.domain"]
        assert inc["start"] < inc["end"]
        if kind == "lookup_then_upload":
            assert inc["user.id"] and inc["patients"] >= 150
        else:
            assert inc["user.id"] is None and inc["logged_in.user.id"]
            assert inc["events"] == inc["patients"] == 0
    inc = _network_incidents(small)
    assert inc["net_exfil_upload"]["bytes"] >= 60_000_000
    assert inc["dns_tunnel"]["counts"]["queries"] >= 900
    assert inc["beaconing"]["counts"]["connections"] >= 180


def test_lookup_then_upload_comes_from_the_lookup_workstation(small: SimulationResult) -> None:
    inc = _network_incidents(small)["lookup_then_upload"]
    a = datetime.fromisoformat(inc["start"]).timestamp()
    lookup_end = datetime.fromisoformat(inc["lookup.end"]).timestamp()
    upload = datetime.fromisoformat(inc["upload.start"]).timestamp()
    rows = [x for x in read_log(small.log_files[0])
            if x.user == inc["user.id"] and a <= x.t <= lookup_end]
    assert rows and {(x.ip, x.host) for x in rows} == {(inc["source.ip"], inc["host.name"])}
    views = {x.patient for x in rows if x.action == "view"}
    assert len(views) == inc["patients"] and 150 <= len(views) <= 300
    assert rows[-1].t - rows[0].t <= 3600
    assert 5 * 60 <= upload - lookup_end <= 25 * 60
    sent = [(t, w) for t, s, d, _, w, _ in frames(small.pcap_files[0])
            if (s, d) == (inc["source.ip"], inc["destination.ip"])]
    assert int(sent[0][0]) == int(upload)
    assert sum(w for _, w in sent) == inc["bytes"] >= 60_000_000


def test_replay_finds_the_correlated_case(small: SimulationResult, tmp_path: Path) -> None:
    """HIS log and capture replayed together: one critical alert naming the user, the
    workstation, the patients and the bytes."""
    inc = _network_incidents(small)["lookup_then_upload"]
    assert small.network_config is not None
    config = load_config(small.network_config).model_copy(update={"state_dir": tmp_path})
    store = SQLiteAlertStore(tmp_path / "alerts.db")
    replay(config, [*small.log_files, *small.pcap_files], store)
    found = [a for a in store.query(AlertQuery(limit=10_000))
             if a.rule_id == "phiwatch-his-net-lookup-then-upload"]
    store.close()
    assert len(found) == 1, [a.explanation for a in found]
    alert = found[0]
    assert alert.severity == "critical" and alert.group == {"source.ip": inc["source.ip"]}
    said = re.search(r"harvested patient records on (\S+) .* opened (\d+) distinct "
                     r"patients' records .* most of it to (\S+) \((\d+) bytes\)", alert.explanation)
    assert said is not None and inc["user.id"] in alert.explanation, alert.explanation
    # the lookup rule counts the user's whole hour (a few of their own patients too); the
    # upload is the one to its destination
    assert said[1] == inc["host.name"] and int(said[2]) >= inc["patients"]
    assert inc["bytes"] <= int(said[4]) < inc["bytes"] + 5_000_000
