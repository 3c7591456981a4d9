"""The network model: direction, server groups, known services, DNS name features."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sensors.event import Event
from sensors.flows.domains import (
    CUT_DOMAIN,
    DomainSet,
    name_features,
    read_domain_list,
    registered_domain,
    shannon_entropy,
)
from sensors.flows.network_model import NetworkConfig, NetworkTagger

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def flow(src: str, dst: str, **extra: Any) -> Event:
    fields: dict[str, Any] = {"event.dataset": "network.flow", "source.ip": src,
                              "destination.ip": dst, "source.bytes": 100,
                              "destination.bytes": 300}  # fmt: skip
    fields.update(extra)
    return Event(T0, fields)


def dns(name: str, resolved: str | None = None) -> Event:
    """A query for ``name``, or with ``resolved`` the answer giving that address."""
    fields: dict[str, Any] = {"event.dataset": "network.dns", "source.ip": "10.1.1.5",
                              "destination.ip": "10.0.0.53", "dns.type": "query",
                              "dns.question.name": name, "dns.question.type": "A"}  # fmt: skip
    if resolved is not None:
        fields.update({"dns.type": "answer", "dns.resolved_ip": [resolved]})
    return Event(T0, fields)


CONFIG = NetworkConfig(
    server_groups={"his_db": ["10.10.1.0/24"], "his_db_primary": ["10.10.1.5"],
                   "his_app": ["10.10.2.10", "10.10.2.11"]},
    known_external={"bhxh": ["203.162.0.0/16", "baohiemxahoi.gov.vn"],
                    "microsoft": ["microsoft.com"]},
)  # fmt: skip


@pytest.mark.parametrize(
    ("src", "dst", "direction"),
    [
        ("10.1.1.5", "10.10.1.7", "internal"),
        ("10.1.1.5", "8.8.8.8", "outbound"),
        ("8.8.8.8", "192.168.3.4", "inbound"),
        ("8.8.8.8", "1.1.1.1", "external"),
        ("fd00::1", "2001:db8::1", "outbound"),
        ("10.1.1.5", "224.0.0.252", "internal"),  # LLMNR: multicast never leaves
        ("10.1.1.5", "255.255.255.255", "internal"),
        ("fe80::1", "ff02::1:3", "internal"),
        ("127.0.0.1", "127.0.0.1", "internal"),
    ],
)
def test_direction(src: str, dst: str, direction: str) -> None:
    f = NetworkTagger().tag(flow(src, dst)).fields
    assert f["network.direction"] == direction
    assert f["phiwatch.source.internal"] is (direction in ("internal", "outbound"))
    assert f["phiwatch.destination.internal"] is (direction in ("internal", "inbound"))


def test_configured_internal_replaces_default() -> None:
    tagger = NetworkTagger(NetworkConfig(internal=["100.64.0.0/10"]))
    assert tagger.tag(flow("100.64.1.1", "10.0.0.1")).fields["network.direction"] == "outbound"


def test_server_groups_most_specific_wins() -> None:
    tagger = NetworkTagger(CONFIG)
    f = tagger.tag(flow("10.10.1.5", "8.8.8.8")).fields
    assert f["phiwatch.source.server_group"] == "his_db_primary"
    assert "phiwatch.destination.server_group" not in f
    f = tagger.tag(flow("10.1.1.5", "10.10.1.9")).fields
    assert f["phiwatch.destination.server_group"] == "his_db"
    f = tagger.tag(flow("10.10.2.11", "10.10.1.9")).fields
    assert f["phiwatch.source.server_group"] == "his_app"


def test_known_external_by_address_and_by_domain() -> None:
    tagger = NetworkTagger(CONFIG)
    assert (
        tagger.tag(flow("10.1.1.5", "203.162.4.1")).fields["phiwatch.destination.known"] == "bhxh"
    )
    assert tagger.tag(flow("203.162.4.1", "10.10.1.5")).fields["phiwatch.source.known"] == "bhxh"
    # A DNS answer names the address; the flow to it is then known by its domain.
    tagger.tag(dns("portal.baohiemxahoi.gov.vn", "14.1.2.3"))
    f = tagger.tag(flow("10.1.1.5", "14.1.2.3")).fields
    assert f["destination.domain"] == "portal.baohiemxahoi.gov.vn"
    assert f["destination.registered_domain"] == "baohiemxahoi.gov.vn"
    assert f["phiwatch.destination.known"] == "bhxh"
    assert (
        tagger.tag(dns("settings-win.data.microsoft.com")).fields["phiwatch.dns.known"]
        == "microsoft"
    )
    assert "phiwatch.dns.known" not in tagger.tag(dns("notmicrosoft.com")).fields


def test_passive_dns_names_flows_and_flags_filesharing() -> None:
    tagger = NetworkTagger()
    tagger.tag(dns("www.dropbox.com", "162.125.1.1"))
    f = tagger.tag(flow("10.1.1.5", "162.125.1.1")).fields
    assert f["destination.domain"] == "www.dropbox.com"
    assert f["phiwatch.destination.filesharing"] is True
    assert f["phiwatch.destination.dynamic_dns"] is False
    f = tagger.tag(flow("10.1.1.5", "162.125.9.9")).fields
    assert "destination.domain" not in f
    assert f["phiwatch.destination.filesharing"] is False


def test_passive_dns_is_bounded() -> None:
    tagger = NetworkTagger(NetworkConfig(dns_cache_size=2))
    for i in range(3):
        tagger.tag(dns(f"h{i}.example.com", f"1.1.1.{i}"))
    assert "destination.domain" not in tagger.tag(flow("10.0.0.1", "1.1.1.0")).fields
    assert tagger.tag(flow("10.0.0.1", "1.1.1.2")).fields["destination.domain"] == "h2.example.com"


def test_upload_ratio() -> None:
    f = NetworkTagger().tag(flow("10.1.1.5", "8.8.8.8")).fields
    assert f["phiwatch.flow.upload_ratio"] == 0.25
    f = (
        NetworkTagger()
        .tag(flow("10.1.1.5", "8.8.8.8", **{"source.bytes": 0, "destination.bytes": 0}))
        .fields
    )
    assert "phiwatch.flow.upload_ratio" not in f


def test_dns_features() -> None:
    f = NetworkTagger().tag(dns("laczi1dwmfbaywb0fm5xhkrgz0heotzq.t1.biillpi.com")).fields
    assert f["dns.question.registered_domain"] == f["phiwatch.dns.domain"] == "biillpi.com"
    assert f["dns.question.subdomain"] == "laczi1dwmfbaywb0fm5xhkrgz0heotzq.t1"
    assert f["dns.question.top_level_domain"] == "com"
    assert f["phiwatch.dns.longest_label"] == 32
    assert f["phiwatch.dns.subdomain_length"] == 35
    assert f["phiwatch.dns.entropy"] > 4.0
    assert f["phiwatch.dns.filesharing"] is False
    f = NetworkTagger().tag(dns("www.espn.com")).fields
    assert f["phiwatch.dns.entropy"] == 0.0
    assert f["network.direction"] == "internal"
    f = NetworkTagger().tag(dns("pastebin.com")).fields
    assert f["phiwatch.dns.filesharing"] is True
    assert "dns.question.subdomain" not in f
    assert f["phiwatch.dns.subdomain_length"] == 0
    f = NetworkTagger().tag(dns("originwealth.ydns.eu")).fields
    assert f["phiwatch.dns.dynamic_dns"] is True


def cut(name: str, lengths: list[int], seen: int | None = None) -> Event:
    """A query whose name the capture cut (as ``parse_cut_dns`` reports it)."""
    ev = dns(name)
    ev.fields.update({"dns.truncated_capture": True, "phiwatch.dns.name_cut": True,
                      "phiwatch.dns.label_lengths": lengths})  # fmt: skip
    del ev.fields["dns.question.type"]
    if seen is not None:
        ev.fields["phiwatch.dns.cut_label_seen"] = seen
    return ev


def test_cut_name_features() -> None:
    f = NetworkTagger().tag(cut("147901b8d3df9cc46c59d600078b3316ce.biillp", [34, 7], 6)).fields
    # no domain, subdomain or top-level domain: the name's end was not captured
    assert not {"dns.question.registered_domain", "dns.question.subdomain",
                "dns.question.top_level_domain"} & set(f)  # fmt: skip
    assert f["phiwatch.dns.domain"] == CUT_DOMAIN
    assert (f["phiwatch.dns.longest_label"], f["phiwatch.dns.subdomain_length"]) == (34, 34)
    seen = "147901b8d3df9cc46c59d600078b3316ce"
    assert f["phiwatch.dns.entropy"] == round(shannon_entropy(seen), 3)
    # a label whose length byte was captured counts at its full length
    assert NetworkTagger().tag(cut("0.r747", [1, 63], 4)).fields["phiwatch.dns.longest_label"] == 63
    assert NetworkTagger().tag(cut("", [60], 0)).fields["phiwatch.dns.longest_label"] == 60


def test_cut_names_match_no_domain_list() -> None:
    """A name is matched on its end, which a cut name has not: this could be
    ``www.dropbox.com.attacker.example``."""
    tagger = NetworkTagger(NetworkConfig(known_external={"ms": ["microsoft.com"]}))
    f = tagger.tag(cut("www.dropbox.com", [3, 7, 3])).fields
    assert not {"phiwatch.dns.filesharing", "phiwatch.dns.dynamic_dns", "phiwatch.dns.known",
                "dns.question.registered_domain"} & set(f)  # fmt: skip
    assert "phiwatch.dns.known" not in tagger.tag(cut("settings-win.data.microsoft.com",
                                                      [12, 4, 9, 3])).fields  # fmt: skip


def test_cut_reverse_lookup_is_not_random() -> None:
    """An ip6.arpa name cut before its ``arpa`` is one-character labels, never joined."""
    name = "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1"
    f = NetworkTagger().tag(cut(name, [1] * 21)).fields
    assert (f["phiwatch.dns.longest_label"], f["phiwatch.dns.subdomain_length"]) == (1, 1)
    assert f["phiwatch.dns.entropy"] == 0.0


@pytest.mark.parametrize("heuristic", [False, True])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.b.biillpi.com", "biillpi.com"),
        ("x.dns2tcp.hsc.fr.", "hsc.fr"),
        ("www.benhvientudu.com.vn", "benhvientudu.com.vn"),
        ("syt.hochiminhcity.gov.vn", "hochiminhcity.gov.vn"),
        ("A.B.NHS.CO.UK", "nhs.co.uk"),
        ("example.com", "example.com"),
        ("localhost", None),
        ("", None),
    ],
)
def test_registered_domain(name: str, expected: str | None, heuristic: bool) -> None:
    assert registered_domain(name, heuristic=heuristic) == expected


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("ab") == 1.0
    assert shannon_entropy("0123456789abcdef") == 4.0
    assert name_features("www.example.com").entropy == 0.0


def test_domain_set_matches_subdomains_only() -> None:
    s = DomainSet(["dropbox.com", " t.me "])
    assert s.match("dl.dropbox.com") == "dropbox.com"
    assert s.match("DROPBOX.COM.") == "dropbox.com"
    assert s.match("notdropbox.com") is None
    assert s.match("t.me") == "t.me"
    assert len(s) == 2


def test_shipped_lists_load() -> None:
    sharing = read_domain_list()
    assert "pastebin.com" in sharing and "zalo.me" in sharing
    assert all(" " not in d and not d.startswith("#") for d in sharing)
    assert "duckdns.org" in read_domain_list(None, "dynamic_dns_domains.txt")


def test_own_list_file(tmp_path: Path) -> None:
    own = tmp_path / "sharing.txt"
    own.write_text("# ours\nexample.org  # a comment\n\n")
    tagger = NetworkTagger(NetworkConfig(filesharing_domains_file=own))
    assert tagger.tag(dns("x.example.org")).fields["phiwatch.dns.filesharing"] is True
    assert tagger.tag(dns("pastebin.com")).fields["phiwatch.dns.filesharing"] is False


@pytest.mark.parametrize(
    "bad",
    [
        {"internal": ["10.0.0.0/33"]},
        {"server_groups": {"his_db": ["not-an-address"]}},
        {"filesharing_domains_file": "/nonexistent/list.txt"},
        {"internall": ["10.0.0.0/8"]},
    ],
)
def test_config_errors_name_the_key(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as err:
        NetworkConfig.model_validate(bad)
    assert next(iter(bad)) in str(err.value)


def test_other_events_untouched() -> None:
    ev = Event(T0, {"event.dataset": "his.access", "source.ip": "8.8.8.8"})
    assert NetworkTagger().tag(ev).fields == {"event.dataset": "his.access", "source.ip": "8.8.8.8"}
    ev = Event(T0, {"event.dataset": "network.flow", "source.ip": "garbage"})
    assert NetworkTagger().tag(ev).fields["network.direction"] == "external"
