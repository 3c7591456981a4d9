"""The hospital's network model — internal networks, server groups, known outside services —
and the tagger that stamps flow and DNS events with it.

Why the rules need it: "an HIS database server talking to the internet" or "bytes sent out
of the hospital" are statements about the hospital's own layout, which no packet carries.
The tagger adds that layout to each event as fields the Sigma rules can match:

* ``phiwatch.source.internal`` / ``phiwatch.destination.internal`` and ECS
  ``network.direction`` (``internal``, ``outbound``, ``inbound``, ``external``);
* ``phiwatch.source.server_group`` / ``phiwatch.destination.server_group`` (most specific
  prefix wins) and ``phiwatch.source.known`` / ``phiwatch.destination.known`` (the name of
  a declared outside service);
* on flows, ``destination.domain``/``destination.registered_domain`` from the DNS answers
  seen before (passive DNS), ``phiwatch.destination.filesharing``,
  ``phiwatch.destination.dynamic_dns`` and ``phiwatch.flow.upload_ratio`` (share of the
  flow's bytes the initiator sent);
* on DNS events, ``dns.question.registered_domain``, ``.subdomain``,
  ``.top_level_domain``, ``phiwatch.dns.longest_label``, ``phiwatch.dns.entropy``,
  ``phiwatch.dns.subdomain_length``, ``phiwatch.dns.filesharing``,
  ``phiwatch.dns.dynamic_dns``, ``phiwatch.dns.known`` and ``phiwatch.dns.domain`` (the
  registered domain, or :data:`~sensors.flows.domains.CUT_DOMAIN` for a name the capture
  cut: see :func:`~sensors.flows.domains.cut_name_features`).

Addresses that never leave the site — loopback, link-local, multicast, broadcast,
unspecified — count as internal whatever ``internal`` says, so LLMNR or mDNS chatter is
never "outbound". Lookups are cached per address and per name: the hot path is a few dict
hits per event.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensors.event import NETWORK_DNS, NETWORK_FLOW, Event
from sensors.flows.domains import (
    CUT_DOMAIN,
    DomainSet,
    cut_name_features,
    name_features,
    read_domain_list,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: RFC 1918 private IPv4, RFC 6598 shared address space is *not* included (carrier NAT),
#: and IPv6 unique local addresses (RFC 4193).
DEFAULT_INTERNAL: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
#: Cached addresses before the caches start afresh (bounded memory on a scan).
CACHE_SIZE = 65536


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as e:
        raise ValueError(f"{text!r} is not an IP address or CIDR network") from e


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return True


class NetworkConfig(BaseModel):
    """``network:`` in the configuration.

    ``server_groups`` values are addresses or CIDRs; ``known_external`` values are
    addresses, CIDRs or domains (a domain also covers its subdomains). The shipped rules
    treat groups whose name starts with ``his`` as HIS servers (``his_db``, ``his_app``).
    """

    model_config = ConfigDict(extra="forbid")

    internal: list[str] = Field(default_factory=lambda: list(DEFAULT_INTERNAL))
    server_groups: dict[str, list[str]] = Field(default_factory=dict)
    known_external: dict[str, list[str]] = Field(default_factory=dict)
    filesharing_domains_file: Path | None = None
    dynamic_dns_domains_file: Path | None = None
    #: Resolved addresses remembered from DNS answers, to name flows' destinations.
    dns_cache_size: int = Field(default=100_000, ge=0)

    @field_validator("internal")
    @classmethod
    def _check_internal(cls, v: list[str]) -> list[str]:
        for item in v:
            _network(item)
        return v

    @field_validator("server_groups")
    @classmethod
    def _check_groups(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, items in v.items():
            for item in items:
                try:
                    _network(item)
                except ValueError as e:
                    raise ValueError(f"server group {name!r}: {e}") from None
        return v

    @field_validator("filesharing_domains_file", "dynamic_dns_domains_file")
    @classmethod
    def _check_file(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"{v} is not a readable file")
        return v


class _Prefixes:
    """Named networks; ``lookup`` returns the name of the most specific one holding an
    address (longest prefix), or None."""

    def __init__(self, named: dict[str, list[str]]) -> None:
        entries = [(_network(text), name) for name, items in named.items()
                   for text in items if _is_address(text)]  # fmt: skip
        self.entries = sorted(entries, key=lambda e: -e[0].prefixlen)

    def lookup(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        for net, name in self.entries:
            if addr.version == net.version and addr in net:
                return name
        return None


class _AddressInfo:
    __slots__ = ("group", "internal", "known")

    def __init__(self, internal: bool, group: str | None, known: str | None) -> None:
        self.internal = internal
        self.group = group
        self.known = known


_UNPARSED = _AddressInfo(False, None, None)
_DIRECTIONS = {(True, True): "internal", (True, False): "outbound",
               (False, True): "inbound", (False, False): "external"}  # fmt: skip


class NetworkTagger:
    """Tags events in place with the network model: ``NetworkTagger(config).tag(event)``.

    Stateful only through its caches and the passive-DNS map from resolved addresses to
    the names asked, which is why a DNS answer must be tagged before the flows it names
    (the flow reader yields it first; a replay sorted on event time too).
    """

    def __init__(self, config: NetworkConfig | None = None) -> None:
        self.config = config = config or NetworkConfig()
        self._internal = [_network(t) for t in config.internal]
        self._groups = _Prefixes(config.server_groups)
        self._known_nets = _Prefixes(config.known_external)
        self._known_domains: dict[str, str] = {}
        for name, items in config.known_external.items():
            for item in items:
                if not _is_address(item):
                    self._known_domains[item.strip().strip(".").lower()] = name
        self._known_set = DomainSet(self._known_domains)
        self.filesharing = DomainSet(read_domain_list(config.filesharing_domains_file))
        self.dynamic_dns = DomainSet(
            read_domain_list(config.dynamic_dns_domains_file, "dynamic_dns_domains.txt")
        )
        self._addrs: dict[str, _AddressInfo] = {}
        self._resolved: dict[str, str] = {}
        self._resolved_max = config.dns_cache_size

    def address(self, ip: str) -> _AddressInfo:
        """What the model says about one address (cached)."""
        info = self._addrs.get(ip)
        if info is not None:
            return info
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return _UNPARSED
        internal = (
            addr.is_loopback or addr.is_link_local or addr.is_multicast
            or addr.is_unspecified or ip == "255.255.255.255"
            or any(addr.version == n.version and addr in n for n in self._internal)
        )  # fmt: skip
        info = _AddressInfo(internal, self._groups.lookup(addr), self._known_nets.lookup(addr))
        if len(self._addrs) >= CACHE_SIZE:
            self._addrs.clear()
        self._addrs[ip] = info
        return info

    def known_domain(self, name: str) -> str | None:
        """The ``known_external`` service whose domain ``name`` is or is under."""
        found = self._known_set.match(name)
        return self._known_domains[found] if found is not None else None

    def tag(self, event: Event) -> Event:
        """Add the network model's fields to a ``network.flow`` or ``network.dns`` event
        (others pass untouched); returns the same event."""
        fields = event.fields
        dataset = fields.get("event.dataset")
        if dataset != NETWORK_FLOW and dataset != NETWORK_DNS:
            return event
        self._tag_addresses(fields)
        if dataset == NETWORK_DNS:
            self._tag_dns(fields)
        else:
            self._tag_flow(fields)
        return event

    def _tag_addresses(self, fields: dict[str, Any]) -> None:
        src_ip, dst_ip = fields.get("source.ip"), fields.get("destination.ip")
        src = self.address(src_ip) if isinstance(src_ip, str) else _UNPARSED
        dst = self.address(dst_ip) if isinstance(dst_ip, str) else _UNPARSED
        fields["phiwatch.source.internal"] = src.internal
        fields["phiwatch.destination.internal"] = dst.internal
        fields["network.direction"] = _DIRECTIONS[src.internal, dst.internal]
        if src.group is not None:
            fields["phiwatch.source.server_group"] = src.group
        if dst.group is not None:
            fields["phiwatch.destination.server_group"] = dst.group
        if src.known is not None:
            fields["phiwatch.source.known"] = src.known
        if dst.known is not None:
            fields["phiwatch.destination.known"] = dst.known

    @staticmethod
    def _tag_cut_name(fields: dict[str, Any], name: str) -> None:
        """A question name the capture cut: no registered domain, subdomain or top-level
        domain (its end was not seen), and no domain list applies (a name is matched on
        its end: ``www.dropbox.com.evil.example`` cut after ``.com`` is not Dropbox)."""
        lengths = fields.get("phiwatch.dns.label_lengths")
        feats = cut_name_features(
            name, [n for n in lengths if isinstance(n, int)] if isinstance(lengths, list) else []
        )
        fields["phiwatch.dns.domain"] = CUT_DOMAIN
        fields["phiwatch.dns.longest_label"] = feats.longest_label
        fields["phiwatch.dns.subdomain_length"] = feats.longest_seen
        fields["phiwatch.dns.entropy"] = feats.entropy

    def _tag_flow(self, fields: dict[str, Any]) -> None:
        sent, received = fields.get("source.bytes"), fields.get("destination.bytes")
        if isinstance(sent, int) and isinstance(received, int) and sent + received > 0:
            fields["phiwatch.flow.upload_ratio"] = round(sent / (sent + received), 3)
        dst_ip = fields.get("destination.ip")
        name = fields.get("destination.domain")
        if name is None and isinstance(dst_ip, str):
            name = self._resolved.get(dst_ip)
            if name is not None:
                fields["destination.domain"] = name
        if isinstance(name, str):
            reg = name_features(name).registered_domain
            if reg is not None:
                fields["destination.registered_domain"] = reg
            fields["phiwatch.destination.filesharing"] = self.filesharing.match(name) is not None
            fields["phiwatch.destination.dynamic_dns"] = self.dynamic_dns.match(name) is not None
            if "phiwatch.destination.known" not in fields:
                known = self.known_domain(name)
                if known is not None:
                    fields["phiwatch.destination.known"] = known
        else:
            fields["phiwatch.destination.filesharing"] = False
            fields["phiwatch.destination.dynamic_dns"] = False

    def _tag_dns(self, fields: dict[str, Any]) -> None:
        name = fields.get("dns.question.name")
        if fields.get("phiwatch.dns.name_cut") is True:
            self._tag_cut_name(fields, name if isinstance(name, str) else "")
            return
        if not isinstance(name, str) or not name:
            return
        feats = name_features(name)
        if feats.registered_domain is not None:
            fields["dns.question.registered_domain"] = feats.registered_domain
            fields["phiwatch.dns.domain"] = feats.registered_domain
        if feats.subdomain:
            fields["dns.question.subdomain"] = feats.subdomain
        if feats.top_level_domain:
            fields["dns.question.top_level_domain"] = feats.top_level_domain
        fields["phiwatch.dns.longest_label"] = feats.longest_label
        fields["phiwatch.dns.subdomain_length"] = len(feats.subdomain)
        fields["phiwatch.dns.entropy"] = feats.entropy
        fields["phiwatch.dns.filesharing"] = self.filesharing.match(name) is not None
        fields["phiwatch.dns.dynamic_dns"] = self.dynamic_dns.match(name) is not None
        known = self.known_domain(name)
        if known is not None:
            fields["phiwatch.dns.known"] = known
        resolved = fields.get("dns.resolved_ip")
        if resolved and self._resolved_max:
            table = self._resolved
            for ip in resolved:
                if isinstance(ip, str):
                    if len(table) >= self._resolved_max and ip not in table:
                        del table[next(iter(table))]  # the oldest answer goes first
                    table[ip] = name.rstrip(".").lower()
