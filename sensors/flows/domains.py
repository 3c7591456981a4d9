"""DNS name features for the tunnelling and file-sharing rules: registered domain, labels,
entropy, membership in a domain list.

Why here and cached: the same names are asked again and again (a workstation resolves
``www.bing.com`` every few minutes), so each feature is computed once per distinct name.

The registered domain ("biillpi.com" of "x1.t1.biillpi.com") comes from the Public Suffix
List through the ``publicsuffixlist`` package when it is installed — small, pure Python and
updated with the list every month. Without it a documented heuristic stands in: the last
two labels, or the last three when the last two are one of the common two-level public
suffixes (``com.vn``, ``gov.vn``, ``co.uk``, … in :data:`TWO_LEVEL_SUFFIXES`). Both give
the same answer for ordinary names; the list also knows private suffixes such as
``s3.amazonaws.com`` and ``github.io``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

#: Second-level public suffixes the heuristic knows: Vietnam's in full, and the common
#: ones of other countries (a name under them is registered one label further down).
TWO_LEVEL_SUFFIXES: frozenset[str] = frozenset(
    [f"{sld}.vn" for sld in ("com", "net", "org", "edu", "gov", "int", "ac", "biz", "info",
                             "name", "pro", "health", "id", "io")]
    + [f"{sld}.uk" for sld in ("co", "org", "ac", "gov", "nhs", "net", "ltd", "plc", "me")]
    + [f"{sld}.{cc}" for cc in ("au", "nz", "za", "sg", "my", "th", "ph", "id", "cn", "hk",
                                "tw", "kr", "jp", "in", "br", "ar", "mx", "tr", "il")
       for sld in ("com", "co", "net", "org", "edu", "gov", "ac", "or", "ne", "go")]
)  # fmt: skip


def _heuristic(name: str) -> str | None:
    labels = name.split(".")
    if len(labels) < 2:
        return None
    if len(labels) >= 3 and ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _registered_domain_function() -> tuple[Callable[[str], str | None], str]:
    try:
        from publicsuffixlist import PublicSuffixList  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - depends on the environment
        return _heuristic, "heuristic"
    psl = PublicSuffixList()

    def by_list(name: str) -> str | None:
        found = psl.privatesuffix(name)
        return found if isinstance(found, str) else None

    return by_list, "publicsuffixlist"


_registered, REGISTERED_DOMAIN_METHOD = _registered_domain_function()


def registered_domain(name: str, *, heuristic: bool = False) -> str | None:
    """The registered domain of ``name`` (lower case, no trailing dot), or None for a
    bare suffix or a single label; ``heuristic=True`` forces the last-labels rule."""
    name = name.rstrip(".").lower()
    if not name or "." not in name:
        return None
    return _heuristic(name) if heuristic else _registered(name)


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for an empty string). Random base32/64 or hex
    data, what a tunnel encodes into names, scores 3.5–6; words and host names less."""
    if not text:
        return 0.0
    n = len(text)
    return max(0.0, -sum(c / n * math.log2(c / n) for c in Counter(text).values()))


class NameFeatures(NamedTuple):
    """What the DNS rules read about one query name."""

    registered_domain: str | None
    subdomain: str
    top_level_domain: str
    longest_label: int
    entropy: float


@lru_cache(maxsize=65536)
def name_features(name: str) -> NameFeatures:
    """Features of a query name. Entropy is over the subdomain without its dots: that is
    the part a tunnel fills with encoded data; the registered domain is the tunnel's."""
    name = name.rstrip(".")
    reg = registered_domain(name)
    labels = name.split(".")
    # The subdomain keeps its case: base64 tunnels use both, and entropy should see it.
    sub = name[: -len(reg) - 1] if reg is not None and len(name) > len(reg) else ""
    longest = max((len(label) for label in labels), default=0)
    tld = labels[-1].lower() if len(labels) > 1 else ""
    return NameFeatures(reg, sub, tld, longest, round(shannon_entropy(sub.replace(".", "")), 3))


#: ``phiwatch.dns.domain`` of a question name the capture cut before its end. Its real
#: domain is unknown; this keeps such names together per host for the encoded-names rule,
#: and apart from every real domain (and out of per-domain counts, which need
#: ``dns.question.registered_domain``).
CUT_DOMAIN = "(a domain the capture cut off)"


class CutNameFeatures(NamedTuple):
    """What the DNS rules can still read about a question name the capture cut short."""

    longest_label: int
    longest_seen: int
    entropy: float


def cut_name_features(name: str, lengths: Iterable[int]) -> CutNameFeatures:
    """Features of the captured start of a cut name. Its end, and so its registered
    domain and subdomain, are unknown; what is known is each label's length (from its
    length byte, even when the label itself was cut) and the characters captured. A
    tunnel fills its labels with encoded data, so the longest label seen, whole or cut,
    stands for the subdomain: its length and entropy (per character). Labels are never
    joined, so the one-character labels of a long ``ip6.arpa`` name, cut before its
    ``arpa``, do not add up to a random-looking string."""
    pieces = name.split(".") if name else []
    seen = max(pieces, key=len, default="")
    longest = max(lengths, default=0)
    return CutNameFeatures(max(longest, len(seen)), len(seen), round(shannon_entropy(seen), 3))


class DomainSet:
    """A set of domains matched with their subdomains: ``dropbox.com`` matches
    ``www.dropbox.com`` and ``dl.dropbox.com`` but not ``notdropbox.com``."""

    def __init__(self, domains: Iterable[str]) -> None:
        self.domains = frozenset(d.strip().strip(".").lower() for d in domains if d.strip())
        self._cache: dict[str, str | None] = {}

    def match(self, name: str) -> str | None:
        """The listed domain that ``name`` is or is under, or None."""
        cache = self._cache
        if name in cache:
            return cache[name]
        found = None
        labels = name.rstrip(".").lower().split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.domains:
                found = candidate
                break
        if len(cache) >= 65536:
            cache.clear()
        cache[name] = found
        return found

    def __len__(self) -> int:
        return len(self.domains)


def read_domain_list(path: Path | None = None, shipped: str = "filesharing_domains.txt",
                     ) -> list[str]:  # fmt: skip
    """Domains of a list file: one per line, ``#`` starts a comment. ``None`` reads the
    shipped list ``shipped`` in ``sensors/flows/data/`` (file-sharing, paste and messaging
    services; or ``dynamic_dns_domains.txt``)."""
    if path is None:
        text = (resources.files("sensors.flows") / "data" / shipped).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry)
    return out
