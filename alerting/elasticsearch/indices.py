"""Small ordinary indices phiwatch creates on first use (notes, the access audit log).

They are created with explicit mappings (``dynamic: false``) rather than from a template:
there are few of them, they are never rolled over, and an index that is already there
(made by another process a moment before) is simply used.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

KW: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}


def ensure_index(client: Elasticsearch, name: str, mappings: dict[str, Any]) -> None:
    """Create ``name`` with ``mappings`` unless it exists."""
    if client.indices.exists(index=name):
        return
    try:
        client.indices.create(index=name, mappings=mappings,
                              settings={"index": {"number_of_shards": 1,
                                                  "auto_expand_replicas": "0-1"}})
    except BadRequestError as e:
        if e.error != "resource_already_exists_exception":
            raise
