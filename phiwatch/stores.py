"""Alert stores as a registry: the configuration names a backend, the registry opens it.

A backend is a name, whether the configuration selects it, how to open it (a store with
the ``AlertStore`` and ``IncidentStore`` methods, and ``flush``) and whether there is
anything to read yet. ``elasticsearch`` is chosen when ``store.elasticsearch`` is set,
else the embedded ``sqlite`` file; ``store.backend`` names one explicitly. A new backend
registers itself with ``register_store`` (see ``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertStore
from phiwatch.config import Config
from sensors.errors import ConfigKeyError


@dataclass(frozen=True, slots=True)
class StoreBackend:
    name: str
    #: Whether the configuration asks for this backend when it names none.
    chosen_by: Callable[[Config], bool]
    #: The open store; ``read_only`` (for queries) starts no background delivery.
    open: Callable[[Config, bool], AlertStore]
    #: Whether there is anything to read (a server always "exists").
    exists: Callable[[Config], bool]


_BACKENDS: dict[str, StoreBackend] = {}


def register_store(backend: StoreBackend) -> StoreBackend:
    _BACKENDS[backend.name] = backend
    return backend


def backend_for(config: Config) -> StoreBackend:
    """The backend ``store.backend`` names, else the first registered one the
    configuration chooses (Elasticsearch when configured), else SQLite."""
    name = config.store.backend
    if name is not None:
        backend = _BACKENDS.get(name)
        if backend is None:
            raise ConfigKeyError("store.backend", f"unknown alert store {name!r} (known: "
                                 f"{', '.join(sorted(_BACKENDS))})")
        return backend
    for backend in _BACKENDS.values():
        if backend.chosen_by(config):
            return backend
    return _BACKENDS["sqlite"]


def open_store(config: Config, *, read_only: bool = False) -> AlertStore:
    """The configured store."""
    return backend_for(config).open(config, read_only)


def store_exists(config: Config) -> bool:
    """Whether there is anything to read yet."""
    return backend_for(config).exists(config)


def _open_elasticsearch(config: Config, read_only: bool) -> AlertStore:
    from alerting.elasticsearch.store import ElasticsearchAlertStore

    es = config.store.elasticsearch
    if es is None:
        raise ConfigKeyError("store.elasticsearch", "not configured (add `hosts:` under "
                             "`store: elasticsearch:`; see deploy/phiwatch.example.yaml)")
    return ElasticsearchAlertStore(es, state_dir=config.state_dir, read_only=read_only)


register_store(StoreBackend(
    "elasticsearch", lambda c: c.store.elasticsearch is not None, _open_elasticsearch,
    lambda c: True))
register_store(StoreBackend(
    "sqlite", lambda c: True, lambda c, read_only: SQLiteAlertStore(c.sqlite_path),
    lambda c: c.sqlite_path.exists()))
