"""The ``store.elasticsearch`` section of the configuration file.

Unknown keys are errors, like everywhere else in the configuration: a misspelt
``spool_max_alert`` must not silently leave the default in force. Secrets are
``SecretStr`` so a report or a log line never prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from sensors.errors import ConfigKeyError

#: How the client labels its requests. ``es9`` is the 9.x client as it is;
#: ``es8`` asks a 8.x server for 8.x behaviour (``compatible-with=8``); ``opensearch``
#: sends plain ``application/json``, which OpenSearch (and osmem-server) require.
Compat = Literal["es9", "es8", "opensearch"]


class ElasticsearchConfig(BaseModel):
    """Where the Elasticsearch (or OpenSearch) cluster is and how phiwatch writes to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: One or more node URLs, ``https://es1.bv.local:9200``; requests are spread over them.
    hosts: Annotated[list[str], Field(min_length=1)]
    #: PEM file of the CA that signed the cluster's certificate (hospital-internal PKI).
    ca_file: Path | None = None
    #: Only for a lab: never turn off certificate checks in production.
    verify_certs: bool = True
    username: str | None = None
    password: SecretStr | None = None
    #: The password in a file (0640, root:phiwatch) rather than in the configuration:
    #: rotating it is replacing the file and restarting.
    password_file: Path | None = None
    #: Base64 ``id:key`` as Kibana shows it; exclusive with username/password.
    api_key: SecretStr | None = None
    #: … or in a file.
    api_key_file: Path | None = None
    request_timeout: Annotated[float, Field(gt=0, le=600)] = 10.0
    compat: Compat = "es9"
    #: Indices are ``<prefix>-alerts-<organization>-YYYY.MM``.
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")] = "phiwatch"
    #: An alert is kept at least this long; whole monthly indices are deleted after.
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = 365
    #: Install an ILM policy for retention where the server has ILM (Elasticsearch).
    ilm: bool = True
    #: ``wait_for`` makes each write visible to searches before it returns (slower).
    refresh: Literal["false", "true", "wait_for"] = "false"
    #: Alerts per bulk request.
    bulk_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    #: Retries of a bulk request on connection errors and 429/502/503/504 before spooling.
    max_retries: Annotated[int, Field(ge=0, le=20)] = 3
    initial_backoff_seconds: Annotated[float, Field(ge=0, le=60)] = 0.5
    max_backoff_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    #: The on-disk spool; default ``<state_dir>/es-spool``.
    spool_dir: Path | None = None
    #: Distinct alerts the spool holds at most; beyond that writes fail loudly.
    spool_max_alerts: Annotated[int, Field(ge=1, le=100_000_000)] = 1_000_000
    #: Fill ratio at which the spool starts warning.
    spool_warn_ratio: Annotated[float, Field(gt=0, le=1)] = 0.8
    #: How often the background drainer looks at the spool while the cluster is away.
    drain_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    #: Alerts the cluster refused (mapping conflicts …); default ``<spool_dir>/rejected.ndjson``.
    dead_letter_path: Path | None = None

    @field_validator("refresh", mode="before")
    @classmethod
    def _yaml_bool(cls, v: object) -> object:
        """YAML reads ``refresh: false`` as a boolean: take it as meant."""
        if isinstance(v, bool):
            return "true" if v else "false"
        return v

    @field_validator("hosts")
    @classmethod
    def _urls(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            parts = urlsplit(host)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{host!r} is not a node URL (expected http(s)://host:port, "
                    f"for example https://es1.hospital.local:9200)"
                )
            if parts.username or parts.password:
                raise ValueError(f"{host!r}: put credentials in username/password or api_key, "
                                 f"not in the URL")
        return hosts

    @model_validator(mode="after")
    def _auth(self) -> ElasticsearchConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("give api_key or api_key_file, not both")
        has_password = self.password is not None or self.password_file is not None
        has_key = self.api_key is not None or self.api_key_file is not None
        if has_key and (self.username or has_password):
            raise ValueError("give either api_key or username/password, not both")
        if (self.username is None) == has_password:
            raise ValueError("username and password go together")
        if self.ca_file is not None and not any(h.startswith("https:") for h in self.hosts):
            raise ValueError("ca_file is set but no host uses https://")
        return self

    def client_auth(self) -> dict[str, str | tuple[str, str]]:
        """The client's credentials: ``{"api_key": …}``, ``{"basic_auth": (user,
        password)}`` or none; a ``*_file`` is read now (``ConfigKeyError`` naming the key
        when it cannot be)."""
        if self.api_key is not None:
            return {"api_key": self.api_key.get_secret_value()}
        if self.api_key_file is not None:
            return {"api_key": _secret(self.api_key_file, "store.elasticsearch.api_key_file")}
        if self.username is None:
            return {}
        password = (self.password.get_secret_value() if self.password is not None else
                    _secret(self.password_file, "store.elasticsearch.password_file")
                    if self.password_file is not None else "")
        return {"basic_auth": (self.username, password)}

    def spool_path(self, state_dir: Path | None = None) -> Path:
        """The spool folder: configured, else under the state folder, else ``var``."""
        if self.spool_dir is not None:
            return self.spool_dir
        return (state_dir or Path("var")) / "es-spool"

    def dead_letter_file(self, state_dir: Path | None = None) -> Path:
        return self.dead_letter_path or self.spool_path(state_dir) / "rejected.ndjson"

    @property
    def alerts_pattern(self) -> str:
        """Every alert index of this installation."""
        return f"{self.index_prefix}-alerts-*"


def _secret(path: Path, key: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigKeyError(key, f"cannot read the file: {e.strerror}", file=str(path)) from e
    if not value:
        raise ConfigKeyError(key, "the file is empty", file=str(path))
    return value
