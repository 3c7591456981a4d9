"""The index template for alert indices: explicit ECS mappings, installed idempotently.

Every alert index (``<prefix>-alerts-<org>-YYYY.MM``) is created on first write from this
template. Its ``_meta`` carries a hash of the body, so ``ensure_template`` only writes when
the wanted template differs from the installed one, and reports what it did.

Text search: ``phiwatch.explanation_folded`` holds the casefolded explanation, indexed as
all its 1-, 2- and 3-grams. A search string of up to three characters is then one exact
``term``; a longer one is the ``term`` filter of its trigrams, and the store confirms each
candidate in Python. No user text ever reaches a query parser.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from alerting.elasticsearch.config import ElasticsearchConfig

TemplateAction = Literal["installed", "updated", "unchanged"]

_KW: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
_REF: dict[str, Any] = {
    "properties": {"ref": _KW, "id": _KW, "@timestamp": {"type": "date"}},
}
_ENDPOINT: dict[str, Any] = {
    "properties": {
        "ip": {"type": "ip"},
        "port": {"type": "long"},
        "bytes": {"type": "long"},
        "domain": _KW,
    },
}

MAPPINGS: dict[str, Any] = {
    # Unknown fields are kept in _source but not indexed: a newer phiwatch writing a new
    # field into this month's index (made from an older template) must not be refused.
    "dynamic": False,
    "dynamic_templates": [
        {"phiwatch_metrics": {"path_match": "phiwatch.metrics.*",
                              "mapping": {"type": "double"}}},
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                           "ignore_above": 8191}}},
        "tags": _KW,
        "event": {"properties": {
            "kind": _KW, "id": _KW, "action": _KW, "module": _KW, "dataset": _KW,
            "start": {"type": "date"}, "end": {"type": "date"}, "severity": {"type": "long"},
        }},
        "rule": {"properties": {"id": _KW, "name": _KW}},
        "organization": {"properties": {"id": _KW, "name": _KW}},
        "user": {"properties": {"id": _KW, "name": _KW, "roles": _KW, "department": _KW}},
        "source": _ENDPOINT,
        "destination": _ENDPOINT,
        "network": {"properties": {"bytes": {"type": "long"}, "transport": _KW,
                                   "protocol": _KW}},
        "host": {"properties": {"name": _KW, "ip": {"type": "ip"}}},
        "dns": {"properties": {"question": {"properties": {"name": _KW}}}},
        "patient": {"properties": {"id": _KW}},
        "phiwatch": {"properties": {
            "revision": {"type": "long"},
            "final": {"type": "boolean"},
            "severity": _KW,
            "window": {"properties": {"start_us": {"type": "long"},
                                      "end_us": {"type": "long"}}},
            "event_count": {"type": "long"},
            "value_count": {"type": "long"},
            "metrics": {"type": "object", "dynamic": True},
            "group": _KW,
            "explanation_folded": {"type": "text", "analyzer": "phiwatch_grams",
                                   "index_options": "docs", "norms": False},
            "evidence": {"properties": {"first": _REF, "last": _REF, "sample": _REF}},
            # The alert exactly as written, for get/query; not indexed.
            "alert": {"type": "object", "enabled": False},
        }},
    },
}

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    # A hospital's single-node cluster stays green; a bigger one gets a replica.
    "auto_expand_replicas": "0-1",
    "max_ngram_diff": 2,
    "analysis": {
        "tokenizer": {"phiwatch_grams": {"type": "ngram", "min_gram": 1, "max_gram": 3}},
        # No lowercase filter: the writer casefolds (Unicode) before indexing.
        "analyzer": {"phiwatch_grams": {"type": "custom", "tokenizer": "phiwatch_grams"}},
    },
}


def template_name(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-alerts"


def ilm_policy_name(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-alerts-retention"


def template_body(config: ElasticsearchConfig, ilm_policy: str | None) -> dict[str, Any]:
    """The composable template; ``ilm_policy`` only where the server has ILM."""
    settings: dict[str, Any] = {"index": dict(SETTINGS)}
    if ilm_policy is not None:
        settings["index"]["lifecycle"] = {"name": ilm_policy}
    body: dict[str, Any] = {
        "index_patterns": [config.alerts_pattern],
        "priority": 200,
        "template": {"settings": settings, "mappings": MAPPINGS},
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["_meta"] = {"managed_by": "phiwatch", "hash": digest}
    return body


def ensure_template(
    client: Elasticsearch, config: ElasticsearchConfig, ilm_policy: str | None
) -> TemplateAction:
    """Install or update the alert template; write nothing when it is already current."""
    name = template_name(config)
    body = template_body(config, ilm_policy)
    current = installed_hash(client, config)
    if current == body["_meta"]["hash"]:
        return "unchanged"
    client.indices.put_index_template(name=name, **body)
    return "installed" if current is None else "updated"


def installed_hash(client: Elasticsearch, config: ElasticsearchConfig) -> str | None:
    """The hash of the installed template, ``""`` for a foreign one, ``None`` if absent."""
    try:
        found = client.indices.get_index_template(name=template_name(config)).body
    except NotFoundError:
        return None
    templates = found.get("index_templates") or []
    if not templates:
        return None
    meta = templates[0].get("index_template", {}).get("_meta") or {}
    return str(meta.get("hash", ""))
