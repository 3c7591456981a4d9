"""Community Sigma rules on phiwatch's events: Sigma taxonomy field names → ECS field names.

SigmaHQ's network rules name fields after the Sigma taxonomy (``query``, ``c-useragent``,
``cs-host``, ``dst_ip``), after Sysmon (``DestinationIp``) or after Zeek's logs
(``id.orig_h``, ``qtype_name``); phiwatch's sensors emit ECS names (``dns.question.name``,
``user_agent.original``, ``url.domain``, ``destination.ip``). Without a translation such a
rule loads, looks fine, and never matches anything — the worst way for a monitor to fail.

The translation is a pySigma ``ProcessingPipeline``, the tool pySigma's own backends use
for the same job (pySigma-backend-elasticsearch's ECS pipelines map the same names for
Elasticsearch), applied to each rule when it is loaded:

1. a ``FieldMappingTransformation`` per group of logsources (``TABLES``) renames the names
   it knows. It only renames: an ECS name, which is what phiwatch's own rules use, passes
   through untouched, so community and own rules can be mixed in one folder;
2. a taxonomy field phiwatch has no data for (``cs-cookie``: proxies do not log cookies)
   makes the rule a *warning* naming the field and why, and the rule is not evaluated —
   as for a logsource phiwatch has no events for. Evaluating the rest of it would be wrong
   both ways: a selection on the field would never match, a ``not filter`` on it always;
3. any other bare name (no dot, so not ECS) is an *error* naming the field: a typo, or a
   name from a taxonomy phiwatch does not know.

A mapping is always one name to one name: pySigma turns one-to-many mappings into nested
detections that it can then no longer write back as plain YAML (the loader fingerprints
the rule from it), and an OR of two fields changes what a ``not`` means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaTransformationError
from sigma.processing.conditions import (
    IncludeFieldCondition,
    LogsourceCondition,
    RuleProcessingCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    DetectionItemFailureTransformation,
    FieldMappingTransformation,
    PreprocessingTransformation,
)
from sigma.rule import SigmaDetectionItem, SigmaRule

from rules.build import BuildError, sigma_message

#: (category, product, service); ``None`` matches anything, as in a Sigma logsource.
Logsource = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class FieldTable:
    """The field names of one kind of phiwatch event, as community rules write them."""

    #: For messages: "DNS", "flow", "proxy".
    name: str
    #: The logsources whose rules read this kind of event (see ``rules.logsource``).
    logsources: tuple[Logsource, ...]
    #: Community name → the ECS field phiwatch's events carry.
    mapping: Mapping[str, str]
    #: Community name → why phiwatch's events have nothing for it.
    unavailable: Mapping[str, str]


_NO_PROCESS = "flows are seen on the wire, where no process, user or host view exists"
_NO_VERDICT = "flows are seen on the wire: there is no firewall verdict"
_ANSWERS = ("answers are kept as records (dns.answers), which a rule cannot address; "
            "address answers are dns.resolved_ip")
_CODES = "phiwatch records the names, not the numbers"

DNS = FieldTable(
    name="DNS",
    logsources=(("dns", None, None), (None, "zeek", "dns")),
    mapping={
        "query": "dns.question.name",
        "QueryName": "dns.question.name",  # Windows DNS client
        "record_type": "dns.question.type",
        "qtype_name": "dns.question.type",  # Zeek dns.log, also seen under category dns
        "qclass_name": "dns.question.class",
        "rcode_name": "dns.response_code",
        "parent_domain": "dns.question.registered_domain",
        "trans_id": "dns.id",
        "src_ip": "source.ip",
        "dst_ip": "destination.ip",
        "src_port": "source.port",
        "dst_port": "destination.port",
        "id.orig_h": "source.ip",
        "id.orig_p": "source.port",
        "id.resp_h": "destination.ip",
        "id.resp_p": "destination.port",
        "proto": "network.transport",
        "uid": "zeek.session_id",
    },
    unavailable={
        "answer": _ANSWERS,
        "answers": _ANSWERS,
        "TTLs": _ANSWERS,
        "qtype": f"{_CODES} (qtype_name)",
        "qclass": f"{_CODES} (qclass_name)",
        "rcode": f"{_CODES} (rcode_name)",
        "AA": "header flags are one list (dns.header_flags), not a field per flag",
        "TC": "header flags are one list (dns.header_flags), not a field per flag",
        "RD": "header flags are one list (dns.header_flags), not a field per flag",
        "RA": "header flags are one list (dns.header_flags), not a field per flag",
        "Z": "the reserved Z bits are not recorded",
        "rejected": "whether the server rejected the query is not recorded",
        "rtt": "round-trip times are not recorded on DNS events",
        "question_length": "the name's length is not a field (phiwatch.dns.longest_label and "
                           "phiwatch.dns.subdomain_length are)",
    },
)

FLOW = FieldTable(
    name="flow",
    logsources=(("firewall", None, None), ("network_connection", None, None),
                (None, "zeek", "conn")),
    mapping={
        "src_ip": "source.ip",
        "dst_ip": "destination.ip",
        "src_port": "source.port",
        "dst_port": "destination.port",
        "SourceIp": "source.ip",  # Sysmon event 3
        "DestinationIp": "destination.ip",
        "SourcePort": "source.port",
        "DestinationPort": "destination.port",
        "DestinationHostname": "destination.domain",  # from the DNS answers seen before
        "Protocol": "network.transport",
        "id.orig_h": "source.ip",  # Zeek conn.log
        "id.orig_p": "source.port",
        "id.resp_h": "destination.ip",
        "id.resp_p": "destination.port",
        "proto": "network.transport",
        "service": "network.protocol",
        "orig_bytes": "source.bytes",  # phiwatch counts IP or frame bytes: a little more
        "resp_bytes": "destination.bytes",
        "orig_ip_bytes": "source.bytes",
        "resp_ip_bytes": "destination.bytes",
        "orig_pkts": "source.packets",
        "resp_pkts": "destination.packets",
        "conn_state": "zeek.conn.state",
        "local_orig": "phiwatch.source.internal",
        "local_resp": "phiwatch.destination.internal",
        "uid": "zeek.session_id",
    },
    unavailable={
        "action": _NO_VERDICT,
        "blocked": _NO_VERDICT,
        "username": _NO_PROCESS,
        "Image": _NO_PROCESS,
        "User": _NO_PROCESS,
        "ProcessId": _NO_PROCESS,
        "ProcessGuid": _NO_PROCESS,
        "Initiated": _NO_PROCESS,
        "SourceHostname": "source host names are not recorded",
        "SourceIsIpv6": "the address family is network.type, not a flag per side",
        "DestinationIsIpv6": "the address family is network.type, not a flag per side",
        "SourcePortName": "port names are not recorded",
        "DestinationPortName": "port names are not recorded",
        "duration": "Zeek writes seconds and event.duration is nanoseconds: a rename would "
                    "compare the wrong unit",
        "history": "Zeek's connection history is not recorded",
        "missed_bytes": "Zeek's missed bytes are not recorded",
    },
)

PROXY = FieldTable(
    name="proxy",
    logsources=(("proxy", None, None),),
    mapping={
        "c-uri": "url.original",
        "c-uri-stem": "url.path",
        "c-uri-query": "url.query",
        "c-uri-extension": "url.extension",
        "c-useragent": "user_agent.original",
        "cs-host": "url.domain",
        "r-dns": "url.domain",
        "cs-method": "http.request.method",
        "cs-referrer": "http.request.referrer",
        "cs-referer": "http.request.referrer",
        "cs-version": "http.version",
        "cs-username": "user.name",
        "sc-status": "http.response.status_code",
        "sc-bytes": "http.response.bytes",  # server to client (W3C), what Squid logs
        "src_ip": "source.ip",
        "c-ip": "source.ip",
        "dst_ip": "destination.ip",
    },
    unavailable={
        "cs-bytes": "the proxy logs the bytes sent to the client (sc-bytes), not the size "
                    "of the request",
        "cs-cookie": "proxies do not log cookies",
    },
)

TABLES: tuple[FieldTable, ...] = (DNS, FLOW, PROXY)


class FieldUnavailable(SigmaTransformationError):
    """A detection item on a field phiwatch's events do not have; ``warning`` when the field
    is a known community name without data (by design), not an unknown name (a mistake)."""

    def __init__(self, message: str, *, warning: bool, source: object = None) -> None:
        super().__init__(message, source=source)  # type: ignore[arg-type]
        self.warning = warning


@dataclass
class RefuseField(DetectionItemFailureTransformation):
    """pySigma's failure transformation, with a message that names the offending field:
    ``message`` is formatted with ``field`` and, from ``reasons``, ``reason``."""

    reasons: Mapping[str, str] = field(default_factory=dict)
    warning: bool = False

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        name = detection_item.field or ""
        text = self.message.format(field=name, reason=self.reasons.get(name, ""))
        raise FieldUnavailable(text, warning=self.warning, source=detection_item.source)


def _items(table: FieldTable) -> list[ProcessingItem]:
    """Rename, then refuse the known names without data, then refuse unknown bare names."""
    mapping: dict[str | None, str | list[str]] = {k: v for k, v in table.mapping.items()}
    key = table.name.lower()

    def item(name: str, transformation: PreprocessingTransformation,
             fields: IncludeFieldCondition | None = None) -> ProcessingItem:
        conditions: list[RuleProcessingCondition] = [
            LogsourceCondition(category=c, product=p, service=s) for c, p, s in table.logsources
        ]
        return ProcessingItem(
            transformation, identifier=f"phiwatch_{key}_{name}", rule_conditions=conditions,
            rule_condition_linking=any, field_name_conditions=[fields] if fields else [],
        )

    return [
        item("fields", FieldMappingTransformation(mapping)),
        item("unavailable", RefuseField(
            f"field '{{field}}' has no counterpart in phiwatch's {table.name} events: "
            "{reason}; the rule is not evaluated",
            reasons=table.unavailable, warning=True,
        ), IncludeFieldCondition(fields=list(table.unavailable))),
        item("unknown", RefuseField(
            f"field '{{field}}' is not a field of phiwatch's {table.name} events: neither "
            "an ECS name nor a Sigma taxonomy name phiwatch maps (see 'Community Sigma "
            "rules' in rules/README.md)",
        ), IncludeFieldCondition(fields=["^[^.]+$"], mode="re")),  # ECS names have a dot
    ]


def pipeline() -> ProcessingPipeline:
    """The whole translation as one pySigma pipeline (a new one: pipelines keep state)."""
    return ProcessingPipeline(
        name="phiwatch: Sigma taxonomy field names to phiwatch's ECS fields",
        items=[item for table in TABLES for item in _items(table)],
    )


def to_phiwatch_fields(rule: SigmaRule | SigmaCorrelationRule) -> None:
    """Rename ``rule``'s community field names in place; ``BuildError`` naming a field
    phiwatch has no data for (a warning) or does not know (an error).

    A correlation's ``group-by`` and aliases are renamed too; its references must be
    resolved first, since its logsource is that of the rules it counts. A correlation of
    correlations is left as written: pySigma would follow its references round a cycle
    for ever, and its group-by names the fields of the correlations it counts.
    """
    if isinstance(rule, SigmaCorrelationRule) and not all(
        isinstance(getattr(ref, "rule", None), SigmaRule) for ref in rule.rules or []
    ):
        return
    translation = pipeline()
    try:
        translation.apply(rule)
    except FieldUnavailable as e:
        raise BuildError(sigma_message(e), warning=e.warning) from e
    except SigmaError as e:
        raise BuildError(sigma_message(e)) from e
