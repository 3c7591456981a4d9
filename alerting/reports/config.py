"""The ``reports:`` section: who issues reports, when, how they travel, what the inbox trusts.

A hospital's instance names itself (``hospital``: the ``HospitalProfile`` printed in the
documents), its signing key, when drafts are made (on confirmation; optionally as soon as
a critical incident opens), whether an approved report needs a person (``auto_send``),
and where each kind goes (``send_report_to``: the Department; ``send_notification_to``:
the data-protection agency) by email and/or webhook. The Department's instance has a
``department`` part instead: the public keys it registered per hospital, several per
hospital during a rotation.

Secrets are never printed (``SecretStr``) or are read from files (a systemd credential,
a Docker secret). Unknown keys are errors, as everywhere.

A hospital's example::

    reports:
      hospital:
        name: Bệnh viện Phụ sản Mẫu
        code: BVPSM
        signer: {title: Giám đốc, name: Nguyễn Văn Minh}
        data_protection: {name: Trần Quốc Bảo, phone: 028 3999 1234,
                          email: dpo@bvpsmau.example.vn}
      signing_key_file: /etc/phiwatch/reports/bv-mau.key.pem
      email: {host: mail.bvpsmau.vn, sender: phiwatch@bvpsmau.vn, username: phiwatch,
              password_file: /run/credentials/phiwatch/smtp}
      webhook: {secret_file: /run/credentials/phiwatch/webhook}
      send_report_to:
        email: [baocao@syt.hcm.gov.vn]
        webhook: [https://phiwatch.syt.hcm.gov.vn/inbox/reports]

The Department's::

    reports:
      department:
        hospital_keys:
          bv-mau: [keys/bv-mau.pub.pem, keys/bv-mau-2027.pub.pem]
          tu-du: keys/tu-du.pub.pem
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerting.reports.errors import DeliveryError
from alerting.reports.profile import HospitalProfile

ORG_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
Rel = Callable[[Path], Path]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(value: SecretStr | None, path: Path | None, key: str) -> str | None:
    """The secret given inline or in a file (a trailing newline dropped)."""
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise DeliveryError(key, f"cannot read {path}: {e.strerror}") from e


def _one_of(value: object, path: object, what: str) -> None:
    if value is not None and path is not None:
        raise ValueError(f"give {what} or {what}_file, not both")


class EmailConfig(_Model):
    """The hospital's mail relay for reports (DOCX, PDF and JWS attached)."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str
    #: PEM CA of the relay's certificate; default: the system's CAs.
    ca_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if not _EMAIL.match(v):
            raise ValueError(f"{v!r} is not a plain email address")
        return v

    @model_validator(mode="after")
    def _auth(self) -> EmailConfig:
        _one_of(self.password, self.password_file, "password")
        has_password = self.password is not None or self.password_file is not None
        if (self.username is None) == has_password:
            raise ValueError("username and password (or password_file) go together")
        if self.security == "none" and self.username is not None:
            raise ValueError("refusing to log in without TLS: use security starttls or tls")
        return self

    def secret(self) -> str | None:
        return read_secret(self.password, self.password_file, "reports.email.password")


class WebhookConfig(_Model):
    """HTTPS POST of the signed report (by default with its documents)."""

    #: At least 16 bytes: ``X-Phiwatch-Signature`` (HMAC-SHA256 of the body).
    secret: SecretStr | None = None
    secret_file: Path | None = None
    #: Sent as ``Authorization: Bearer …`` (the Department's inbox token, if it asks one).
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    #: Post the JWS with the DOCX and PDF (the inbox envelope); false: the JWS alone.
    documents: bool = True
    #: Plain http:// to a receiver on this machine (tests). Never across a network.
    allow_http: bool = False

    @model_validator(mode="after")
    def _secrets(self) -> WebhookConfig:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret or secret_file")
        if self.secret is not None and len(self.secret.get_secret_value().encode()) < 16:
            raise ValueError("secret needs at least 16 bytes")
        _one_of(self.bearer_token, self.bearer_token_file, "bearer_token")
        return self

    def secret_bytes(self) -> bytes:
        data = (read_secret(self.secret, self.secret_file, "reports.webhook.secret")
                or "").encode()
        if len(data) < 16:
            raise DeliveryError("reports.webhook.secret", "needs at least 16 bytes")
        return data

    def bearer(self) -> str | None:
        return read_secret(self.bearer_token, self.bearer_token_file,
                           "reports.webhook.bearer_token")


class Targets(_Model):
    """Where one kind of document goes."""

    email: list[str] = []
    webhook: list[str] = []

    @field_validator("email")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if not _EMAIL.match(a):
                raise ValueError(f"{a!r} is not a plain email address")
        return v

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [("email", a) for a in self.email] + [("webhook", u) for u in self.webhook]


class DepartmentConfig(_Model):
    """The Department's instance: the inbox (``POST /inbox/reports``) and whom it trusts."""

    #: ``{hospital id: PEM file or list of PEM files}``: a list during a key rotation.
    hospital_keys: dict[str, Path | list[Path]]
    #: When set, a sender must also present ``Authorization: Bearer <token>``.
    inbox_token: SecretStr | None = None
    inbox_token_file: Path | None = None
    algorithms: Annotated[list[Literal["ES256", "RS256"]], Field(min_length=1)] = [
        "ES256", "RS256"]

    @field_validator("hospital_keys")
    @classmethod
    def _ids(cls, v: dict[str, Path | list[Path]]) -> dict[str, Path | list[Path]]:
        for key, paths in v.items():
            if not ORG_ID.match(key):
                raise ValueError(f"{key!r} is not an organization id")
            if isinstance(paths, list) and not paths:
                raise ValueError(f"{key}: at least one key file")
        return v

    @model_validator(mode="after")
    def _token(self) -> DepartmentConfig:
        _one_of(self.inbox_token, self.inbox_token_file, "inbox_token")
        return self

    def key_files(self) -> dict[str, list[Path]]:
        return {h: (p if isinstance(p, list) else [p]) for h, p in self.hospital_keys.items()}

    def token(self) -> str | None:
        return read_secret(self.inbox_token, self.inbox_token_file,
                           "reports.department.inbox_token")


class ReportsConfig(_Model):
    """Reports to the Department and breach notifications; see docs/reports.md."""

    #: The issuing hospital as its documents name it (``id``: ``organization.id``).
    hospital: HospitalProfile | None = None
    #: PEM private key (ES256 or RS256); default ``<state_dir>/reports/<id>.key.pem``
    #: (``phiwatch report keygen`` writes it and the public key to register).
    signing_key_file: Path | None = None
    #: The patient pseudonyms' key; default: the API's (``api.pseudonym_key_*``).
    pseudonym_key_file: Path | None = None
    #: Draft both documents when an incident becomes ``confirmed_leak``.
    draft_on_confirm: bool = True
    #: Also draft as soon as a critical incident opens (before anyone confirms it).
    draft_critical: bool = False
    #: Issue and send drafts without a person's approval (actor ``phiwatch``); with
    #: ``draft_critical`` a critical incident is confirmed and reported at once.
    auto_send: bool = False
    #: Alerts to hospital IT at 48 h and 70 h after detection while nothing was sent.
    deadline_warnings: bool = True
    #: The delivery outbox; default ``<state_dir>/reports-outbox.db``.
    outbox_path: Path | None = None
    #: Report numbers on a SQLite store; default: the alert store's file.
    numbers_path: Path | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] = 50
    retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    #: Log lines read back at most per incident for the patient annex; beyond, the
    #: counts are the alerts' own (a lower bound, said so in the report).
    evidence_max_lines: Annotated[int, Field(ge=0, le=100_000_000)] = 2_000_000
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    #: The report to the Department (Sở Y tế).
    send_report_to: Targets = Targets()
    #: The breach notification (Mẫu số 08) to the data-protection agency (A05).
    send_notification_to: Targets = Targets()
    department: DepartmentConfig | None = None

    @model_validator(mode="after")
    def _channels(self) -> ReportsConfig:
        for name in ("send_report_to", "send_notification_to"):
            targets: Targets = getattr(self, name)
            if targets.email and self.email is None:
                raise ValueError(f"{name}.email needs the email section (the relay)")
            if targets.webhook and self.webhook is None:
                raise ValueError(f"{name}.webhook needs the webhook section (its secret)")
            allow_http = self.webhook is not None and self.webhook.allow_http
            for url in targets.webhook:
                parts = urlsplit(url)
                schemes = ("https", "http") if allow_http else ("https",)
                if parts.scheme not in schemes or not parts.hostname:
                    raise ValueError(f"{name}.webhook: {url!r} must be an https:// URL")
        return self

    def rebased(self, rel: Rel) -> ReportsConfig:
        """Relative paths taken from the configuration file's folder (``rel`` maps them)."""
        def opt(p: Path | None) -> Path | None:
            return rel(p) if p is not None else None

        update: dict[str, object] = {name: opt(getattr(self, name)) for name in (
            "signing_key_file", "pseudonym_key_file", "outbox_path", "numbers_path")}
        if self.email is not None:
            update["email"] = self.email.model_copy(update={
                "ca_file": opt(self.email.ca_file),
                "password_file": opt(self.email.password_file)})
        if self.webhook is not None:
            update["webhook"] = self.webhook.model_copy(update={
                k: opt(getattr(self.webhook, k))
                for k in ("secret_file", "bearer_token_file", "ca_file")})
        if self.department is not None:
            keys = {h: [rel(p) for p in ps] for h, ps in self.department.key_files().items()}
            update["department"] = self.department.model_copy(update={
                "hospital_keys": keys,
                "inbox_token_file": opt(self.department.inbox_token_file)})
        return self.model_copy(update=update)
