"""Opens the alert store the configuration chooses: Elasticsearch if configured, else SQLite."""

from __future__ import annotations

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertStore
from phiwatch.config import Config


def open_store(config: Config, *, read_only: bool = False) -> AlertStore:
    """The configured store. ``read_only`` (for queries) starts no spool drainer."""
    es = config.store.elasticsearch
    if es is None:
        return SQLiteAlertStore(config.sqlite_path)
    from alerting.elasticsearch.store import ElasticsearchAlertStore

    return ElasticsearchAlertStore(es, state_dir=config.state_dir, read_only=read_only)


def store_exists(config: Config) -> bool:
    """Whether there is anything to read yet (an Elasticsearch store always 'exists')."""
    return config.store.elasticsearch is not None or config.sqlite_path.exists()
