"""Console accounts in Elasticsearch: ``<prefix>-accounts``, the username as ``_id``.

Created with ``op_type=create`` (a name is taken once), replaced with ``op_type=index``
after a real-time ``GET`` confirms the account is there; ``refresh=true`` so a listing
right after shows the change.
"""

from __future__ import annotations

from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch import ConflictError as EsConflict

from alerting.accounts import Account, AccountExists, AccountNotFound
from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.indices import KW, ensure_index
from alerting.elasticsearch.writer import ClusterUnavailable

ACCOUNT_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "username": KW, "role": KW, "hospital": KW, "created_at": {"type": "date"},
        "sessions_after": {"type": "date"}, "disabled": {"type": "boolean"},
        # The hash is kept, not searched.
        "password_hash": {"type": "keyword", "index": False, "doc_values": False},
    },
}


def accounts_index(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-accounts"


class ElasticsearchAccounts:
    """The ``AccountStore`` methods, mixed into ``ElasticsearchAlertStore``."""

    client: Elasticsearch
    config: ElasticsearchConfig

    def create_account(self, account: Account) -> Account:
        index = accounts_index(self.config)
        try:
            ensure_index(self.client, index, ACCOUNT_MAPPINGS)
            self.client.index(index=index, id=account.username, document=account.to_dict(),
                              op_type="create", refresh="true")
        except EsConflict:
            raise AccountExists(account.username) from None
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return account

    def replace_account(self, account: Account) -> Account:
        if self.get_account(account.username) is None:
            raise AccountNotFound(account.username)
        try:
            self.client.index(index=accounts_index(self.config), id=account.username,
                              document=account.to_dict(), refresh="true")
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return account

    def get_account(self, username: str) -> Account | None:
        try:
            got = self.client.get(index=accounts_index(self.config), id=username).body
        except NotFoundError:
            return None
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return Account.from_dict(got["_source"]) if got.get("found") else None

    def list_accounts(self) -> list[Account]:
        try:
            hits = self.client.search(
                index=accounts_index(self.config), query={"match_all": {}},
                sort=[{"username": {"order": "asc"}}], size=10_000,
                allow_no_indices=True, ignore_unavailable=True,
            ).body["hits"]["hits"]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return [Account.from_dict(h["_source"]) for h in hits]
