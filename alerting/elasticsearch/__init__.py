"""The Elasticsearch (and OpenSearch) alert store: template, writer, spool, queries.

Public surface::

    from alerting.elasticsearch import ElasticsearchConfig, ElasticsearchAlertStore
    from alerting.elasticsearch import setup, check, prune_indices, resend_rejected …

Incidents (status history, compare-and-set writes) are in ``incidents``; the store has
the ``IncidentStore`` methods too.
"""

from alerting.elasticsearch.commands import (
    CheckReport,
    ResendReport,
    SetupReport,
    check,
    prune_indices,
    resend_rejected,
    setup,
)
from alerting.elasticsearch.config import Compat, ElasticsearchConfig
from alerting.elasticsearch.connection import ServerInfo, build_client
from alerting.elasticsearch.retention import PruneReport, prune
from alerting.elasticsearch.spool import SpoolFullError
from alerting.elasticsearch.store import ElasticsearchAlertStore
from alerting.elasticsearch.writer import ClusterUnavailable

__all__ = [
    "CheckReport",
    "ClusterUnavailable",
    "Compat",
    "ElasticsearchAlertStore",
    "ElasticsearchConfig",
    "PruneReport",
    "ResendReport",
    "ServerInfo",
    "SetupReport",
    "SpoolFullError",
    "build_client",
    "check",
    "prune",
    "prune_indices",
    "resend_rejected",
    "setup",
]
