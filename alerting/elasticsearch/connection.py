"""One client for the configured cluster, and what that cluster says it is.

Retries on HTTP status are the writer's business (it decides what goes to the spool and
what to the dead letter), so the transport itself only fails over to the next host on a
connection error and never retries on status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.node import NODE_CLASSES


def build_client(config: ElasticsearchConfig) -> Elasticsearch:
    """A client for ``config``: its hosts, TLS, credentials, timeout and dialect."""
    kwargs: dict[str, Any] = {
        "request_timeout": config.request_timeout,
        "node_class": NODE_CLASSES[config.compat],
        # Fail over across hosts on connection errors; status retries are the writer's.
        "max_retries": len(config.hosts) - 1,
        "retry_on_status": (),
        "retry_on_timeout": len(config.hosts) > 1,
        "verify_certs": config.verify_certs,
    }
    if not config.verify_certs:
        kwargs["ssl_show_warn"] = False
    if config.ca_file is not None:
        kwargs["ca_certs"] = str(config.ca_file)
    kwargs.update(config.client_auth())
    return Elasticsearch(list(config.hosts), **kwargs)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``GET /`` says: which product, which version."""

    distribution: str  # "elasticsearch" or "opensearch"
    version: str
    cluster_name: str

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    @property
    def has_ilm(self) -> bool:
        """Index lifecycle management is an Elasticsearch feature (OpenSearch has ISM)."""
        return self.distribution == "elasticsearch" and self.major >= 7

    def advice(self, compat: str) -> str | None:
        """A one-line warning when ``compat`` does not suit this server, else ``None``."""
        if self.distribution == "opensearch" and compat != "opensearch":
            return "the server is OpenSearch: set compat: opensearch"
        if self.distribution == "elasticsearch":
            if compat == "opensearch":
                return (f"the server is Elasticsearch {self.version}: compat: opensearch works "
                        f"but es{self.major} is the native dialect")
            if self.major and compat != f"es{self.major}" and self.major in (8, 9):
                return f"the server is Elasticsearch {self.version}: set compat: es{self.major}"
        return None


def server_info(client: Elasticsearch) -> ServerInfo:
    body = client.info().body
    version = body.get("version", {})
    return ServerInfo(
        distribution=str(version.get("distribution") or "elasticsearch"),
        version=str(version.get("number", "")),
        cluster_name=str(body.get("cluster_name", "")),
    )


def describe_error(e: Exception) -> str:
    """One line for the operator, with the cause the transport wraps ("TLS error" alone
    does not say that the certificate is not trusted)."""
    if isinstance(e, ApiError):
        return f"HTTP {e.status_code}: {e.message}"
    text = f"{type(e).__name__}: {e}"
    if isinstance(e, TransportError):
        # The transport keeps the cause in __cause__ (its .errors are earlier attempts);
        # urllib3 wraps the ssl error once more in .reason.
        cause: BaseException | None = e.__cause__ or (e.errors[0] if e.errors else None)
        for _ in range(5):
            inner = getattr(cause, "reason", None) or getattr(cause, "__cause__", None)
            if not isinstance(inner, BaseException):
                break
            cause = inner
        if cause is not None and str(cause) not in text:
            text += f" ({cause})"
    return text
