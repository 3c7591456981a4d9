"""The ``api:`` section of the configuration file: where the API listens, whom it trusts,
and how each hospital's patient identifiers are shown.

Unknown keys are errors, as everywhere in the configuration. Secrets never sit in the
file: the HS256 secret and the pseudonym key are named by environment variable (or the
key by a file, created with mode 0600 when missing).

Example (a hospital's own instance, tokens from ``phiwatch token issue``)::

    api:
      listen: 127.0.0.1:8080
      auth: {algorithms: [HS256], issuer: phiwatch, audience: phiwatch-api}
      patient_id_patterns: ['BN\\d{10}']

The Department's instance, tokens from its identity provider (Keycloak)::

    api:
      listen: 0.0.0.0:8443
      tls_cert_file: /etc/phiwatch/api.crt
      tls_key_file: /etc/phiwatch/api.key
      auth:
        algorithms: [RS256, ES256]
        jwks_url: https://sso.syt.hcm.gov.vn/realms/syt/protocol/openid-connect/certs
        issuer: https://sso.syt.hcm.gov.vn/realms/syt
        audience: phiwatch
        role_claim: phiwatch_role
      hospitals:
        tu-du: {patient_id_patterns: ['TD\\d{8}']}
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.console.config import ConsoleConfig

Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                    "ES256", "ES384", "ES512"]
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ORG_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: Highest leeway on ``exp``/``nbf``/``iat`` the configuration accepts, in seconds.
MAX_LEEWAY = 60


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Model):
    """How bearer tokens are verified. The algorithm list is the only one ever used: a
    token naming another algorithm (``none`` included) is refused before anything else."""

    algorithms: Annotated[list[Algorithm], Field(min_length=1)] = ["HS256"]
    #: Required ``iss`` and ``aud`` of every token.
    issuer: Annotated[str, Field(min_length=1)] = "phiwatch"
    audience: Annotated[str, Field(min_length=1)] = "phiwatch-api"
    #: Environment variable holding the HS* secret (at least 32 bytes).
    secret_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "PHIWATCH_JWT_SECRET"
    #: The identity provider's public keys (RS*/ES*): a JWKS file, or its URL.
    jwks_file: Path | None = None
    jwks_url: str | None = None
    #: How long a fetched JWKS is used before fetching again; an unknown ``kid`` fetches
    #: again at most this often too.
    jwks_cache_seconds: Annotated[float, Field(ge=10, le=86_400)] = 300.0
    #: Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (at most 60 s).
    leeway_seconds: Annotated[float, Field(ge=0, le=MAX_LEEWAY)] = 30.0
    #: Claim (dotted path) holding the phiwatch role: a string, or a list with exactly
    #: one of the roles (``realm_access.roles`` in Keycloak).
    role_claim: Annotated[str, Field(pattern=r"^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$")] = "role"
    #: Claim (dotted path) holding a hospital IT user's hospital (``organization.id``).
    hospital_claim: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$")] = "hospital"
    #: Longer tokens are refused unread.
    max_token_bytes: Annotated[int, Field(ge=1024, le=65_536)] = 8192

    @field_validator("jwks_url")
    @classmethod
    def _https(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        loopback = False
        try:
            loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("the JWKS URL must be https:// (http:// only on this machine)")
        return v

    @model_validator(mode="after")
    def _keys_for_the_algorithms(self) -> AuthConfig:
        asymmetric = [a for a in self.algorithms if a not in HMAC_ALGORITHMS]
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("give jwks_file or jwks_url, not both")
        if asymmetric and self.jwks_file is None and self.jwks_url is None:
            raise ValueError(f"{', '.join(asymmetric)} need the identity provider's public "
                             "keys: set jwks_file or jwks_url")
        return self

    @property
    def uses_secret(self) -> bool:
        return any(a in HMAC_ALGORITHMS for a in self.algorithms)


class HospitalApiConfig(_Model):
    """How one hospital's patient identifiers are shown outside its IT team."""

    #: Show real patient ids to inspectors and the Department too (default: pseudonyms).
    disclose_patient_ids: bool = False
    #: Regular expressions of this hospital's patient ids, pseudonymized wherever they
    #: appear in text (explanations, notes), besides the ids the alerts name.
    patient_id_patterns: list[str] = []

    @field_validator("patient_id_patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return _patterns(v)


class ApiConfig(_Model):
    """The HTTP API (``phiwatch api``, or inside ``phiwatch run``)."""

    #: Serve the API from ``phiwatch run`` too, in the same process.
    serve_with_run: bool = False
    #: ``HOST:PORT`` (``[::1]:8080`` for IPv6).
    listen: str = "127.0.0.1:8080"
    #: Serve HTTPS with this certificate and key (PEM); both or neither.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    auth: AuthConfig = AuthConfig()
    #: The key of the patient pseudonyms (HMAC-SHA256, mixed with the hospital id): from
    #: this environment variable, else this file (default ``<state_dir>/api/pseudonym.key``,
    #: created when missing).
    pseudonym_key_env: Annotated[str | None, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] = None
    pseudonym_key_file: Path | None = None
    #: Patient id patterns for every hospital (see ``HospitalApiConfig``).
    patient_id_patterns: list[str] = []
    #: Per hospital (``organization.id``): disclosure and id patterns.
    hospitals: dict[str, HospitalApiConfig] = {}
    page_size: Annotated[int, Field(ge=1, le=1000)] = 50
    max_page_size: Annotated[int, Field(ge=1, le=1000)] = 500
    #: Largest request head (request line and headers) the server reads; beyond it the
    #: connection is refused before the application sees it.
    max_request_head_bytes: Annotated[int, Field(ge=16_384, le=8 << 20)] = 2 << 20
    #: The web console under ``/console`` (``api.console.config.ConsoleConfig``).
    console: ConsoleConfig = ConsoleConfig()

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        parse_listen(v)
        return v

    @field_validator("patient_id_patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return _patterns(v)

    @field_validator("hospitals")
    @classmethod
    def _org_ids(cls, v: dict[str, HospitalApiConfig]) -> dict[str, HospitalApiConfig]:
        for key in v:
            if not ORG_ID.match(key):
                raise ValueError(f"{key!r} is not an organization id (lowercase letters, "
                                 "digits, '.', '_', '-')")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.page_size > self.max_page_size:
            raise ValueError("page_size must not exceed max_page_size")
        return self

    def rebased(self, rel: Callable[[Path], Path]) -> ApiConfig:
        """Relative paths taken from the configuration file's folder (``rel`` maps them)."""
        update = {name: rel(value) for name in ("tls_cert_file", "tls_key_file",
                                                 "pseudonym_key_file")
                  if (value := getattr(self, name)) is not None}
        auth = self.auth
        if auth.jwks_file is not None:
            auth = auth.model_copy(update={"jwks_file": rel(auth.jwks_file)})
        return self.model_copy(update={**update, "auth": auth})


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ``ValueError`` naming the problem."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
        raise ValueError(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _patterns(values: list[str]) -> list[str]:
    for p in values:
        try:
            compiled = re.compile(p)
            re.compile(f"(?:{p})|(?:x)")  # it is combined with others this way
        except re.error as e:
            raise ValueError(f"{p!r} is not a regular expression: {e}") from None
        if compiled.match(""):
            raise ValueError(f"{p!r} matches the empty string")
    return values
