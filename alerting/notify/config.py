"""The ``notify:`` section: who hears of which alerts, how, and how often.

Each channel is one way out (an email relay with its recipients, a webhook, a SIEM's
syslog listener) with its own name, which is what ``phiwatch notify status`` and the
metrics show. Settings given at the top (``min_severity``, ``realert_minutes``) apply to
every channel that does not set its own. Secrets are ``SecretStr`` (never printed) or
read from a file (``password_file``, ``secret_file``: a systemd credential or a Docker
secret), so that rotating one is replacing a file and restarting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerting.notify.errors import NotifyError

Severity = Literal["informational", "low", "medium", "high", "critical"]
Facility = Literal["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
                   "cron", "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4",
                   "local5", "local6", "local7"]

#: An address without display name, folding or line breaks: it goes into a header.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
#: RFC 5424 PRINTUSASCII (33..126), no spaces: HOSTNAME and APP-NAME.
_PRINTUSASCII = r"^[\x21-\x7e]+$"


def _address(v: str) -> str:
    if not _EMAIL.match(v):
        raise ValueError(f"{v!r} is not a plain email address (like it@bv.local)")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Channel(_Model):
    #: Shown in status and metrics, and the outbox's channel name; stable across restarts.
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    #: This channel's own threshold; default: ``notify.min_severity``.
    min_severity: Severity | None = None
    #: This channel's own realert period; default: ``notify.realert_minutes``.
    realert_minutes: Annotated[float, Field(ge=0, le=7 * 1440)] | None = None


def _secret(value: SecretStr | None, path: Path | None, key: str) -> str | None:
    """The secret given inline or in a file (stripped of a trailing newline)."""
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise NotifyError(f"cannot read the secret: {e.strerror}", file=str(path), key=key,
                          hint="check the path and that the phiwatch user may read it") from e


class EmailChannelConfig(_Channel):
    """Email through the hospital's relay: a text part and an escaped HTML part."""

    type: Literal["email"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    #: ``starttls`` (587), ``tls`` (465) or ``none`` (a relay on localhost only; no login).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str
    to: Annotated[list[str], Field(min_length=1, max_length=100)]
    #: PEM CA of the relay's certificate; default: the system's CAs.
    ca_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    #: 0: one message per alert; N: one message per N minutes listing the alerts.
    digest_minutes: Annotated[float, Field(ge=0, le=1440)] = 0.0

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        return _address(v)

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        return [_address(a) for a in v]

    @model_validator(mode="after")
    def _auth(self) -> EmailChannelConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        has_password = self.password is not None or self.password_file is not None
        if (self.username is None) == has_password:
            raise ValueError("username and password (or password_file) go together")
        if self.security == "none" and self.username is not None:
            raise ValueError("refusing to log in without TLS: use security starttls or tls")
        return self

    def secret(self) -> str | None:
        return _secret(self.password, self.password_file, f"notify.channels.{self.name}.password")


class WebhookChannelConfig(_Channel):
    """HTTPS POST of a JSON document, HMAC-signed, with an idempotency key."""

    type: Literal["webhook"]
    url: str
    #: At least 16 bytes, shared with the receiver (``X-Phiwatch-Signature``).
    secret: SecretStr | None = None
    secret_file: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    digest_minutes: Annotated[float, Field(ge=0, le=1440)] = 0.0
    #: Plain http:// (a receiver on the same machine, tests). Never across a network.
    allow_http: bool = False

    @model_validator(mode="after")
    def _checks(self) -> WebhookChannelConfig:
        parts = urlsplit(self.url)
        allowed = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in allowed or not parts.hostname:
            raise ValueError(f"url {self.url!r} must be an https:// URL "
                             "(http:// only with allow_http: true)")
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret or secret_file")
        if self.secret is not None and len(self.secret.get_secret_value().encode()) < 16:
            raise ValueError("secret needs at least 16 bytes")
        return self

    def secret_bytes(self) -> bytes:
        value = _secret(self.secret, self.secret_file, f"notify.channels.{self.name}.secret")
        data = (value or "").encode()
        if len(data) < 16:
            raise NotifyError("the webhook secret needs at least 16 bytes",
                              file=str(self.secret_file), key=f"notify.channels.{self.name}",
                              hint="generate one with: openssl rand -hex 32")
        return data


class SyslogChannelConfig(_Channel):
    """RFC 5424 syslog carrying CEF, for a SIEM (ArcSight, QRadar, Wazuh, Graylog …)."""

    type: Literal["syslog"]
    host: str
    #: Default 514 for udp and tcp, 6514 for tls.
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    #: ``udp`` (one datagram per alert), ``tcp`` or ``tls`` (RFC 6587 octet counting).
    transport: Literal["udp", "tcp", "tls"]
    ca_file: Path | None = None
    facility: Facility = "local4"
    #: HOSTNAME field; default: this machine's name.
    hostname: Annotated[str, Field(max_length=255, pattern=_PRINTUSASCII)] | None = None
    app_name: Annotated[str, Field(max_length=48, pattern=_PRINTUSASCII)] = "phiwatch"
    #: A message longer than this has its ``msg`` shortened (UDP receivers: 2048 is safe).
    max_message_bytes: Annotated[int, Field(ge=480, le=65_000)] = 2048
    #: Start MSG with a UTF-8 BOM (RFC 5424 MSG-UTF8); off: many CEF parsers want "CEF:".
    utf8_bom: bool = False
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0

    @property
    def effective_port(self) -> int:
        return self.port or (6514 if self.transport == "tls" else 514)


ChannelConfig = Annotated[EmailChannelConfig | WebhookChannelConfig | SyslogChannelConfig,
                          Field(discriminator="type")]


class NotifyConfig(_Model):
    """Who hears of which alerts; see ``deploy/phiwatch.example.yaml``."""

    #: Alerts at or above this severity are notified (per channel: ``min_severity``).
    min_severity: Severity = "high"
    #: At most one notification per rule and group (a user) per this many minutes of event
    #: time; 0 notifies every alert.
    realert_minutes: Annotated[float, Field(ge=0, le=7 * 1440)] = 60.0
    #: Notify an alert's later versions while its episode grows (same id, new numbers).
    send_updates: bool = False
    #: Notify an alert's final version, when its episode closes.
    send_final: bool = False
    #: The durable outbox and the notifier's memory; default ``<state_dir>/notify.db``.
    outbox_path: Path | None = None
    #: Temporary failures before a delivery is given up (``notify status`` shows it).
    max_attempts: Annotated[int, Field(ge=1, le=1000)] = 20
    retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    #: Delivered notifications and the memory of notified alerts are kept this long.
    keep_days: Annotated[int, Field(ge=1, le=3650)] = 30
    #: A link to the alert in the console, ``{id}`` replaced by the alert id.
    alert_url: str | None = None
    channels: Annotated[list[ChannelConfig], Field(min_length=1)]

    @field_validator("alert_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and (urlsplit(v).scheme not in ("http", "https") or "{id}" not in v):
            raise ValueError("alert_url must be an http(s) URL containing {id}")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> NotifyConfig:
        names = [c.name for c in self.channels]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"channel names must be unique: {', '.join(dup)}")
        return self

    def outbox_file(self, state_dir: Path) -> Path:
        return self.outbox_path or state_dir / "notify.db"

    def rebased(self, base: Path) -> NotifyConfig:
        """Relative file paths taken relative to ``base`` (the configuration's folder)."""
        def rel(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else base / p

        channels = [c.model_copy(update={k: rel(getattr(c, k)) for k in
                                         ("ca_file", "password_file", "secret_file")
                                         if hasattr(c, k)})
                    for c in self.channels]
        return self.model_copy(update={"outbox_path": rel(self.outbox_path),
                                       "channels": channels})
