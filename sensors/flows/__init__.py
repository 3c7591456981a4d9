"""The network flow sensor: packet captures into ECS ``network.flow`` and ``network.dns`` events.

Public API, for the command line and the pipeline:

* :func:`read_flows` — flow and DNS events of a pcap/pcapng file;
* :class:`FlowReader` — the same, plus :class:`Counters` and, with ``conversations=True``,
  the tshark-style conversation table;
* :func:`conversations` — per-IP-pair frames and bytes, equal to ``tshark -z conv,ip``;
* :func:`write_events` — flows as NDJSON or CSV (``phiwatch flows --format``);
* :class:`NetworkConfig` and :class:`NetworkTagger` — the hospital's network model
  (``network:`` in the configuration) stamped on flow and DNS events for the rules;
* :func:`zeek_events` — the same events from Zeek ``conn.log``/``dns.log``;
* :class:`NetflowCollector` — from NetFlow v5/v9 and IPFIX export over UDP;
* :class:`LiveCapture` — from an interface, with a BPF filter.
"""

from sensors.flows.conversation_table import Conversation
from sensors.flows.conversations import (
    TsharkConversation,
    compare,
    conversations,
    format_bytes,
    parse_tshark_conv,
    run_tshark_conv,
)
from sensors.flows.flowtable import Flow, FlowTable, flow_event
from sensors.flows.live import LiveCapture
from sensors.flows.netflow import NetflowCollector
from sensors.flows.network_model import NetworkConfig, NetworkTagger
from sensors.flows.output import CSV_COLUMNS, write_events
from sensors.flows.pcapfile import Capture, CaptureError
from sensors.flows.reader import Counters, FlowReader, read_flows
from sensors.flows.zeek import ZeekParseError, zeek_events

__all__ = [
    "CSV_COLUMNS",
    "Capture",
    "CaptureError",
    "Conversation",
    "Counters",
    "Flow",
    "FlowReader",
    "FlowTable",
    "LiveCapture",
    "NetflowCollector",
    "NetworkConfig",
    "NetworkTagger",
    "TsharkConversation",
    "ZeekParseError",
    "compare",
    "conversations",
    "flow_event",
    "format_bytes",
    "parse_tshark_conv",
    "read_flows",
    "run_tshark_conv",
    "write_events",
    "zeek_events",
]
