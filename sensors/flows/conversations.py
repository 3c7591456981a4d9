"""Per-IP-pair conversations, counted exactly as ``tshark -q -z conv,ip`` counts them.

Why: tshark's conversation table is the reference the flow sensor is checked against
(tests and ``bench/flow_throughput.py``), so this module reproduces its rules and parses
its output. How tshark 4.0 counts, established by running it on hand-built captures:

* One count per IP header its ``ip``/``ipv6`` taps see in a frame, each adding 1 frame and
  the frame's length on the wire (``frame.len``, not the captured length). A tunnelled
  packet (6in4, IP-in-IP, GRE/ERSPAN, VXLAN, Geneve, GTP-U, Teredo, L2TP, MPLS
  pseudowires) counts in the outer *and* the inner conversation; VLAN and MPLS labels
  are just skipped.
* Every IPv4 fragment counts (its header is complete); what is inside a fragmented
  datagram counts once, with the length of the frame that completes reassembly. IPv6
  fragments count only on that completing frame (non-final IPv6 fragments never count).
* IP headers quoted in ICMP errors never count. An IPv4 header counts only if all its
  ``ihl*4`` bytes were captured and it is sane (version 4, ihl >= 5, total length 0 or
  >= ihl*4); an IPv6 header only if its 40 bytes and all its extension headers were.
* Side A of a pair is the source of the first frame counted for it; "->" is A to B.
  When A equals B (loopback) every frame counts as "->".
* Above 9,999 bytes tshark prints sizes rounded *down* to whole kB/MB/GB (powers of
  1000): "16 kB" for 16,479 bytes. :func:`format_bytes` renders ours the same way.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sensors.flows.conversation_table import Conversation
from sensors.flows.reader import FlowReader


def conversations(path: str | Path) -> list[Conversation]:
    """The IPv4 and IPv6 conversations of a capture file, as tshark counts them."""
    reader = FlowReader(path, conversations=True, dns=False)
    for _ in reader:
        pass
    return reader.conversations()


# -- tshark's output ---------------------------------------------------------------------

_SIZE_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_ROW = re.compile(
    r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB|TB)\s+(\d+)\s+(\d+)\s+"
    r"(bytes|kB|MB|GB|TB)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB|TB)"
)


@dataclass(frozen=True, slots=True)
class TsharkConversation:
    """One row of ``tshark -z conv,ip``: sizes as printed, and the floor they imply."""

    a: str
    b: str
    frames_ba: int  # the "<-" column
    bytes_ba: str
    frames_ab: int  # the "->" column
    bytes_ab: str

    def pair(self) -> frozenset[str]:
        """The unordered address pair."""
        return frozenset((self.a, self.b))


def format_bytes(n: int) -> str:
    """A byte count as tshark 4 prints it (``format_size``, SI units, rounded down)."""
    for unit, scale in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if n // scale >= 10:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def parse_size(text: str) -> int:
    """The lower bound of a printed size: ``"16 kB"`` -> 16000, ``"9217 bytes"`` -> 9217."""
    number, _, unit = text.partition(" ")
    return int(number) * _SIZE_UNITS[unit or "bytes"]


def parse_tshark_conv(text: str) -> dict[str, list[TsharkConversation]]:
    """Parse the output of ``tshark -q -z conv,ip [-z conv,ipv6]``.

    Returns the rows per table title (``"IPv4"``, ``"IPv6"``).
    """
    tables: dict[str, list[TsharkConversation]] = {}
    current: list[TsharkConversation] | None = None
    for line in text.splitlines():
        title = re.match(r"^(IPv4|IPv6) Conversations", line)
        if title:
            current = tables.setdefault(title.group(1), [])
            continue
        m = _ROW.match(line)
        if m and current is not None:
            current.append(
                TsharkConversation(
                    a=m.group(1), b=m.group(2),
                    frames_ba=int(m.group(3)), bytes_ba=f"{m.group(4)} {m.group(5)}",
                    frames_ab=int(m.group(6)), bytes_ab=f"{m.group(7)} {m.group(8)}",
                )
            )  # fmt: skip
    return tables


def run_tshark_conv(
    path: str | Path, tshark: str = "tshark"
) -> dict[str, list[TsharkConversation]]:
    """Run ``tshark -q -z conv,ip -z conv,ipv6`` on a capture and parse its tables."""
    proc = subprocess.run(
        [tshark, "-n", "-q", "-r", str(path), "-z", "conv,ip", "-z", "conv,ipv6"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return parse_tshark_conv(proc.stdout)


def compare(ours: list[Conversation], theirs: list[TsharkConversation]) -> list[str]:
    """Differences between our table and tshark's, as readable lines (empty: equal).

    Frames must match exactly; bytes must print identically (exact below 10,000).
    """
    problems: list[str] = []
    mine = {c.pair(): c for c in ours}
    for t in theirs:
        c = mine.pop(t.pair(), None)
        if c is None:
            problems.append(f"missing {t.a} <-> {t.b}")
            continue
        if c.a != t.a and c.a != c.b:
            problems.append(f"{t.a} <-> {t.b}: side A is {c.a}, tshark says {t.a}")
        got = (c.frames_ba, format_bytes(c.bytes_ba), c.frames_ab, format_bytes(c.bytes_ab))
        want = (t.frames_ba, t.bytes_ba, t.frames_ab, t.bytes_ab)
        if got != want:
            problems.append(f"{t.a} <-> {t.b}: ours {got}, tshark {want}")
    problems.extend(f"extra {c.a} <-> {c.b}" for c in mine.values())
    return problems
