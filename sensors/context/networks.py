"""The hospital's internal networks: is an event's ``source.ip`` one of ours?

The networks come from the configuration (``context.internal_networks``, CIDR notation,
RFC 1918 by default). The answer for an address is cached, because a hospital's
workstations are a few thousand addresses seen millions of times; the cache is emptied
when it reaches ``CACHE_LIMIT`` so that a scan from many addresses cannot grow it
without bound. An IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is read as IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

#: The private address ranges of RFC 1918.
RFC1918: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
CACHE_LIMIT = 65_536

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network:
    """A CIDR network; ``ValueError`` naming the text, and the intended network if it had
    host bits set (``10.20.3.0/16``), which is usually a typo."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as e:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a network in CIDR notation "
                             f"(such as 10.20.0.0/16): {e}") from None
        raise ValueError(f"{text!r} has host bits set; did you mean {loose}?") from None


class InternalNetworks:
    """Membership of addresses in a fixed list of networks, cached per address text."""

    def __init__(self, networks: Iterable[str | Network] = RFC1918) -> None:
        self.networks: tuple[Network, ...] = tuple(
            n if not isinstance(n, str) else parse_network(n) for n in networks
        )
        self._cache: dict[str, bool | None] = {}

    def contains(self, address: str) -> bool | None:
        """Whether ``address`` is inside one of the networks; ``None`` if not an address."""
        cache = self._cache
        found = cache.get(address, cache)
        if found is not cache:
            return found  # type: ignore[return-value]
        result = self._lookup(address)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[address] = result
        return result

    def _lookup(self, address: str) -> bool | None:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in n for n in self.networks)
