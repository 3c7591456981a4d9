"""Real SigmaHQ community rules (tests/fixtures/sigma_community) on phiwatch's own events.

The rules are copied verbatim; they load through ``rules.taxonomy``'s field mapping and
are run on events made the way phiwatch makes them: DNS events from a capture file of
raw DNS messages (scapy writes it, ``FlowReader`` and ``sensors/flows/dns.py`` read it,
``NetworkTagger`` tags it), Zeek ``dns.log`` records through ``zeek_events``, proxy events
from Squid access-log lines through ``SquidParser``, flows from TCP packets. Each rule that
fires on its malicious event is also shown a benign one it must leave alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path

import orjson
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.event import Event
from sensors.flows import FlowReader, NetworkTagger, zeek_events
from sensors.parsers import SquidParser, SquidParserConfig

ROOT = Path(__file__).resolve().parents[2]
COMMUNITY = ROOT / "tests" / "fixtures" / "sigma_community"
T0 = 1_795_420_800.0  # 2026-11-24 00:00 UTC
CLIENT, RESOLVER = "10.20.3.45", "10.0.0.53"


@pytest.fixture(scope="module")
def community() -> RuleSet:
    return load_rules([COMMUNITY])


def fired(rules: RuleSet, events: Iterable[Event]) -> dict[str, list[str]]:
    """Rule title → the refs of the events it alerted on, tagging and ordering as a
    replay does."""
    tagger = NetworkTagger()
    engine = Engine(rules)
    alerts: list[Alert] = []
    for ev in sorted(events, key=attrgetter("epoch")):
        alerts.extend(engine.process(tagger.tag(ev)))
    alerts.extend(engine.flush())
    assert engine.rule_failures == 0 and engine.late == 0
    out: dict[str, list[str]] = {}
    for a in alerts:
        out.setdefault(a.rule_title, []).append(a.first_event.ref)
    return out


# -- loading ------------------------------------------------------------------------------

LOADED = {
    "dns": {"net_dns_external_service_interaction_domains.yml", "net_dns_mal_cobaltstrike.yml",
            "net_dns_mal_dnscat2_tunneling.yml", "net_dns_pua_cryptocoin_mining_xmr.yml",
            "net_dns_query_exfil_domain_or_suspicious_tld.yml", "net_dns_susp_b64_queries.yml",
            "net_dns_susp_telegram_api.yml", "net_dns_tunneling_null_record_query.yml"},
    "zeek": {"zeek_dns_kerberos_coercion_via_dns_object_spn_spoofing.yml",
             "zeek_dns_nkn.yml", "zeek_dns_torproxy.yml"},
    "proxy": {"proxy_base64_encoded_url.yml", "proxy_download_susp_dyndns.yml",
              "proxy_raw_paste_service_access.yml", "proxy_telegram_api.yml",
              "proxy_ua_bitsadmin_susp_ip.yml", "proxy_ua_empty.yml", "proxy_ua_powershell.yml",
              "proxy_ua_rclone.yml", "proxy_webdav_search_ms.yml"},
    "firewall": {"net_firewall_apt_equationgroup_c2.yml"},
}  # fmt: skip

#: file → (level, words of the message). Every other community rule loads.
REPORTED = {
    # Fields phiwatch has no data for: a warning naming the field, not a silent never-match.
    "net_dns_susp_txt_exec_strings.yml": ("warning", "field 'answer' has no counterpart"),
    "zeek_dns_mining_pools.yml": ("warning", "field 'answers' has no counterpart"),
    "zeek_dns_susp_zbit_flag.yml": ("warning", "field 'Z' has no counterpart"),
    "evilginx_microsoft_cookie_exfiltration.yml": ("warning", "'cs-cookie' has no counterpart"),
    "net_firewall_cleartext_protocols.yml": ("warning", "field 'action' has no counterpart"),
    # Rejected by pySigma itself, before phiwatch sees them.
    "net_dns_high_requests_rate.yml": ("error", "pipe syntax in Sigma conditions"),
    "proxy_hktl_cobalt_strike_malleable_c2_requests.yml": ("error", "obsoletes is not"),
}  # fmt: skip


def test_community_rules_load_through_the_mapping(community: RuleSet) -> None:
    loaded = {Path(d.path).name: sorted(d.datasets) for d in community.detections}
    assert set(loaded) == set().union(*LOADED.values())
    assert len(community) == 21
    assert all(loaded[n] == ["network.dns"] for n in LOADED["dns"] | LOADED["zeek"])
    assert all(loaded[n] == ["network.proxy"] for n in LOADED["proxy"])
    assert loaded["net_dns_query_exfil_domain_or_suspicious_tld.yml"] == ["network.dns"]
    reported = {Path(e.path).name: (e.level, e.message) for e in community.errors}
    assert set(reported) == set(REPORTED)
    for name, (level, words) in REPORTED.items():
        assert reported[name][0] == level and words in reported[name][1], reported[name]
    assert "not evaluated" in reported["zeek_dns_mining_pools.yml"][1]


def test_an_unsupported_modifier_is_named(tmp_path: Path) -> None:
    """None of the copied rules uses a modifier phiwatch lacks; this copy of one is changed
    to use ``base64offset`` (the rule is otherwise as published)."""
    text = (COMMUNITY / "dns" / "net_dns_susp_b64_queries.yml").read_text()
    (tmp_path / "b64offset.yml").write_text(
        text.replace("query|contains: '==.'", "query|base64offset|contains: 'exfil'"))
    ruleset = load_rules([tmp_path])
    assert len(ruleset) == 0
    [error] = ruleset.errors
    assert error.is_error and "modifier 'base64offset'" in error.message
    assert "not supported" in error.message


def test_an_unknown_community_field_is_an_error(tmp_path: Path) -> None:
    text = (COMMUNITY / "proxy" / "proxy_ua_rclone.yml").read_text()
    (tmp_path / "typo.yml").write_text(text.replace("c-useragent|", "c-user-agent|"))
    [error] = load_rules([tmp_path]).errors
    assert error.is_error and "field 'c-user-agent' is not a field of phiwatch's proxy" in (
        error.message)


def test_own_packs_are_unaffected() -> None:
    packs = load_rules([ROOT / "rules" / "packs"])
    assert not packs.errors
    # An own rule keeps its ECS names, so the mapping changes nothing about it.
    tunnel = next(d for d in packs.detections if d.name == "net_dns_encoded_label")
    assert tunnel.requirement == ("dns.type", frozenset({"query"}))


def test_community_and_own_rules_load_side_by_side(tmp_path: Path) -> None:
    shutil.copytree(COMMUNITY, tmp_path / "community")
    both = load_rules([ROOT / "rules" / "packs", tmp_path / "community"])
    assert len(both) == len(load_rules([ROOT / "rules" / "packs"])) + 21


# -- DNS ----------------------------------------------------------------------------------

#: query name (and type) → the community rule it must set off; None: benign, none may.
DNS_QUERIES: list[tuple[str, str, str | None]] = [
    ("aaa.stage.123456.cdn-static.net", "A", "Cobalt Strike DNS Beaconing"),
    ("api.telegram.org", "A", "Telegram Bot API Request"),
    ("dnscat.4a6f8e0b2c1d9e77.tunnel.example.org", "TXT", "Potential DNScat2 DNS Tunneling"),
    ("ZXhmaWwtcGF0aWVudHM==.x.exfil-example.net", "A",
     "Suspicious DNS Query with B64 Encoded String"),
    ("c2vfk1a8d9.oast.fun", "A", "DNS Query to External Service Interaction Domains"),
    ("pool.supportxmr.com", "A", "Monero Crypto Coin Mining Pool Lookup"),
    ("t1.biillpi.com", "NULL", "DNS Query Using NULL Record Type"),
    ("www.mega.nz", "A", "Suspicious DNS Query to Known Exfil Domain or Uncommon TLD"),
    ("mainnet-seed-0001.nkn.org", "A", "New Kind of Network (NKN) Detection"),
    ("srv1UWhRCAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwbEAYBAAAA", "A",
     "Suspicious DNS Query Indicating Kerberos Coercion via DNS Object SPN Spoofing - Network"),
    ("tor2web.io", "A", "DNS tor proxies"),
    # Benign look-alikes.
    ("aaa.example.com", "A", None),
    ("web.telegram.org", "A", None),
    ("dnscatalog.example.org", "A", None),
    ("www.example.fun", "A", None),
    ("www.supportxmr-news.org", "A", None),
    ("t1.biillpi.com", "A", None),
    ("benhvien.example.vn", "A", None),
    ("seed.nkn.example.org", "A", None),
    ("torproject.org", "A", None),
]  # fmt: skip


def dns_capture(path: Path) -> Path:
    """One UDP query per name, client to the hospital resolver, a second apart."""
    packets = []
    for i, (name, qtype, _) in enumerate(DNS_QUERIES):
        pkt = (Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
               / IP(src=CLIENT, dst=RESOLVER) / UDP(sport=40000 + i, dport=53)
               / DNS(id=i + 1, rd=1, qd=DNSQR(qname=name, qtype=qtype)))  # fmt: skip
        pkt.time = T0 + i
        packets.append(pkt)
    wrpcap(str(path), packets)
    return path


def test_dns_rules_fire_on_dns_events_from_raw_messages(
    community: RuleSet, tmp_path: Path
) -> None:
    reader = FlowReader(dns_capture(tmp_path / "dns.pcap"))
    events = [e for e in reader if e.get("event.dataset") == "network.dns"]
    assert len(events) == len(DNS_QUERIES) and reader.counters.dns_errors == {}
    by_ref = {e.ref: e.get("dns.question.name") + "/" + e.get("dns.question.type")
              for e in events}
    alerts = fired(community, events)
    got = {title: sorted(by_ref[r] for r in refs) for title, refs in alerts.items()}
    want: dict[str, list[str]] = {}
    for name, qtype, title in DNS_QUERIES:
        if title is not None:
            want.setdefault(title, []).append(f"{name}/{qtype}")
    assert got == want


def test_zeek_dns_log_records_set_off_the_zeek_rules(community: RuleSet, tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    rows = [
        orjson.dumps({"ts": T0 + i, "uid": f"C{i}", "id.orig_h": CLIENT, "id.orig_p": 5353,
                      "id.resp_h": RESOLVER, "id.resp_p": 53, "proto": "udp", "trans_id": i,
                      "query": name, "qtype_name": "A", "rcode_name": "NOERROR",
                      "answers": ["192.0.2.1"]}).decode()
        for i, name in enumerate(["mainnet-seed-0001.nkn.org", "seed.nkn.example.org"])
    ]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    events = list(zeek_events(path))
    assert len(events) == 4  # query and answer of each
    alerts = fired(community, events)
    assert list(alerts) == ["New Kind of Network (NKN) Detection"]
    assert [r.rsplit(":", 1)[1] for r in alerts["New Kind of Network (NKN) Detection"]] == [
        "1", "1"]  # the query and the answer record of the first line


# -- proxy --------------------------------------------------------------------------------

UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
UA_PS = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4648"


def native(i: int, method: str, url: str, peer: str = "HIER_DIRECT/203.0.113.10") -> str:
    return f"{T0 + i:.3f}    120 {CLIENT} TCP_MISS/200 5120 {method} {url} - {peer} -"


def combined(method: str, url: str, agent: str) -> str:
    return (f'{CLIENT} - nv01234 [24/Nov/2026:07:00:00 +0700] "{method} {url} HTTP/1.1" 200 '
            f'5120 "-" "{agent}" TCP_MISS:HIER_DIRECT')


SEARCH_MS = ("http://198.51.100.7/open?target=search-ms:query=invoice&crumb=location:"
             "%5C%5Cwebdav.198.51.100.7%5Cshare")
#: (logformat, line, the rule it must set off or None)
PROXY_LINES: list[tuple[str, str, str | None]] = [
    ("squid", native(1, "GET", "http://paste.ee/r/AbCd1"), "Raw Paste Service Access"),
    ("squid", native(2, "CONNECT", "api.telegram.org:443", "HIER_DIRECT/149.154.167.220"),
     "Telegram API Access"),
    ("squid", native(3, "GET", "http://update.hopto.org/files/hoa_don.exe"),
     "Download from Suspicious Dyndns Hosts"),
    ("squid", native(4, "GET", SEARCH_MS, "HIER_DIRECT/198.51.100.7"),
     "Search-ms and WebDAV Suspicious Indicators in URL"),
    ("squid", native(5, "GET", "http://r.example.net/go?u=aHR0cHM6Ly9ldmlsLmV4YW1wbGUvcA"),
     "Base64 Encoded URL In Web Request"),
    ("combined", combined("PUT", "http://s3.example-cloud.net/b/benh_an.zip", "rclone/v1.66.0"),
     "Rclone Activity via Proxy"),
    ("combined", combined("GET", "http://a.example.org/x", ""),
     "HTTP Request With Empty User Agent"),
    ("combined", combined("GET", "http://a.example.org/p.ps1", UA_PS),
     "Windows PowerShell User Agent"),
    ("combined", combined("GET", "http://45.77.10.3/a.bin", "Microsoft BITS/7.8"),
     "Bitsadmin to Uncommon IP Server Address"),
    # Benign counterparts.
    ("squid", native(11, "GET", "http://pastebin.example.org/about"), None),
    ("combined", combined("POST", "http://api.telegram.org/bot1/sendMessage",
                          "TelegramBot (like TwitterBot)"), None),
    ("squid", native(12, "GET", "http://download.example.com/files/setup.exe"), None),
    ("squid", native(13, "GET", "http://update.hopto.org/index.html"), None),
    ("squid", native(14, "GET", SEARCH_MS, "HIER_DIRECT/10.1.1.5"), None),  # internal server
    ("squid", native(15, "GET", "http://r.example.net/go?u=https%3A%2F%2Fmoh.gov.vn"), None),
    ("combined", combined("GET", "http://rclone.org/downloads/", UA_FIREFOX), None),
    ("combined", combined("GET", "http://a.example.org/y", "-"), None),  # no header at all
    ("combined", combined("GET", "http://download.windowsupdate.com/c/x.cab",
                          "Microsoft BITS/7.8"), None),
]  # fmt: skip


def test_proxy_rules_fire_on_squid_lines(community: RuleSet) -> None:
    parsers = {fmt: SquidParser(SquidParserConfig(format="squid", logformat=fmt))
               for fmt in ("squid", "combined")}
    events = [ev for i, (fmt, line, _) in enumerate(PROXY_LINES)
              for ev in parsers[fmt].parse(line.encode(), f"access.log:{i}")]
    assert len(events) == len(PROXY_LINES)
    got = fired(community, events)
    want = {title: [f"access.log:{i}"] for i, (_, _, title) in enumerate(PROXY_LINES)
            if title is not None}
    assert got == want


# -- flows --------------------------------------------------------------------------------


def test_firewall_rule_fires_on_a_flow(community: RuleSet, tmp_path: Path) -> None:
    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    packets = []
    for i, dst in enumerate(["69.42.98.86", "203.0.113.80"]):
        pkt = eth / IP(src=CLIENT, dst=dst) / TCP(sport=50000 + i, dport=443, flags="S")
        pkt.time = T0 + i
        packets.append(pkt)
    wrpcap(str(tmp_path / "c2.pcap"), packets)
    flows = list(FlowReader(tmp_path / "c2.pcap"))
    alerts = fired(community, flows)
    assert list(alerts) == ["Equation Group C2 Communication"]
    [ref] = alerts["Equation Group C2 Communication"]
    assert next(f for f in flows if f.ref == ref).get("destination.ip") == "69.42.98.86"
