"""The report machinery a configuration asks for, opened once: the composition root of
``reports:``.

``open_report_parts(config)`` gives the record store and the report numbers on the same
backend as the alerts (tables in the SQLite file, or indices on the cluster), the
delivery outbox (always a local SQLite file: a report waiting for the Department's
server must survive a restart even when the cluster is away) with the configured
channels, the issuing hospital, its signing key (read when first needed, so a
Department's instance or a draft needs none), the patient pseudonymizer and, on the
Department's instance, the keyring of hospitals' public keys. ``None`` without a
``reports:`` section.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from alerting.reports.config import ReportsConfig
from alerting.reports.errors import ReportError, ReportsNotConfigured
from alerting.reports.inbox import Keyring
from alerting.reports.numbering import ReportNumbers, SQLiteReportNumbers
from alerting.reports.outbox import Backoff, Channel, Outbox
from alerting.reports.payload import Kind
from alerting.reports.profile import HospitalProfile
from alerting.reports.pseudonym import HmacPseudonymizer
from alerting.reports.records import InboxStore, ReportStore
from alerting.reports.signing import SigningKey, load_signing_key
from alerting.reports.smtp import SmtpChannel, SmtpSettings
from alerting.reports.sqlite_records import SQLiteReportStore
from alerting.reports.webhook import WebhookChannel, WebhookSettings
from api.keys import read_or_create_key
from phiwatch.config import Config
from sensors.errors import ConfigKeyError


class RecordStore(ReportStore, InboxStore, Protocol):
    """Both halves; each shipped backend is one."""

    def close(self) -> None: ...


@dataclass
class ReportParts:
    """Everything the report use cases need, built from one configuration."""

    config: Config
    settings: ReportsConfig
    records: RecordStore
    numbers: ReportNumbers
    outbox: Outbox
    hospital: HospitalProfile | None
    pseudonymize: Callable[[str], str] | None
    keyring: Keyring | None
    inbox_token: str | None
    _key: SigningKey | None = field(default=None, repr=False)

    def issuer(self) -> HospitalProfile:
        """The issuing hospital, or ``ReportsNotConfigured``."""
        if self.hospital is None or self.pseudonymize is None:
            raise ReportsNotConfigured("reports.hospital", "this phiwatch issues no reports "
                                       "(no hospital is configured under reports:)")
        return self.hospital

    def signing_key(self) -> SigningKey:
        if self._key is None:
            hospital = self.issuer()
            path = self.key_path
            if not path.is_file():
                raise ReportError("reports.signing_key_file",
                                  f"{path} does not exist: make it with `phiwatch report "
                                  "keygen` and register its .pub.pem with the Department")
            try:
                self._key = load_signing_key(path, hospital.id)
            except (OSError, ValueError) as e:
                raise ReportError("reports.signing_key_file", f"{path}: {e}") from e
        return self._key

    @property
    def key_path(self) -> Path:
        hospital = self.issuer()
        return self.settings.signing_key_file or \
            self.config.reports_dir / f"{hospital.id}.key.pem"

    def targets(self, kind: Kind) -> list[tuple[str, str]]:
        t = self.settings.send_report_to if kind == "department_report" else \
            self.settings.send_notification_to
        return t.pairs

    def patient_patterns(self) -> list[str]:
        api = self.config.api
        own = api.hospitals.get(self.hospital.id) if self.hospital is not None else None
        return [*api.patient_id_patterns, *(own.patient_id_patterns if own else [])]

    def close(self) -> None:
        self.records.close()


def _pseudonym_key(config: Config, settings: ReportsConfig) -> bytes:
    """The reports' pseudonym key: its own file, else the API's (the same pseudonyms in
    the report and in what inspectors see of the hospital's incidents)."""
    try:
        if settings.pseudonym_key_file is not None:
            return read_or_create_key(settings.pseudonym_key_file)
        api = config.api
        if api.pseudonym_key_env is not None:
            value = os.environ.get(api.pseudonym_key_env, "").encode("utf-8")
            if len(value) < 16:
                raise ValueError(f"{api.pseudonym_key_env} must hold at least 16 bytes")
            return value
        return read_or_create_key(api.pseudonym_key_file or config.api_dir / "pseudonym.key")
    except (OSError, ValueError) as e:
        raise ConfigKeyError("reports.pseudonym_key_file", str(e)) from e


def _context(ca_file: Path | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None


def channels_of(settings: ReportsConfig) -> dict[str, Channel]:
    """The configured delivery channels, their secrets read now (a missing file stops
    the start, not the first report)."""
    found: dict[str, Channel] = {}
    if settings.email is not None:
        e = settings.email
        found["email"] = SmtpChannel(SmtpSettings(
            e.host, e.port, e.sender, e.security, e.username, e.secret(), e.timeout_seconds,
            _context(e.ca_file)))
    if settings.webhook is not None:
        w = settings.webhook
        found["webhook"] = WebhookChannel(WebhookSettings(
            w.secret_bytes(), timeout_s=w.timeout_seconds, allow_http=w.allow_http,
            verify=_context(w.ca_file) or True, documents=w.documents,
            bearer_token=w.bearer()))
    return found


def _stores(config: Config, settings: ReportsConfig) -> tuple[RecordStore, ReportNumbers]:
    from phiwatch.stores import backend_for

    backend = backend_for(config).name
    if backend == "elasticsearch" and config.store.elasticsearch is not None:
        from alerting.elasticsearch.connection import build_client
        from alerting.reports.es_numbering import ElasticsearchReportNumbers
        from alerting.reports.es_records import ElasticsearchReportStore

        es = config.store.elasticsearch
        client = build_client(es)
        numbers = ElasticsearchReportNumbers(client, f"{es.index_prefix}-report-numbers")
        return ElasticsearchReportStore(client, es), numbers
    if backend != "sqlite":
        raise ConfigKeyError("store.backend", f"reports cannot be kept in a {backend!r} store "
                             "(sqlite or elasticsearch)")
    path = config.sqlite_path
    return SQLiteReportStore(path), SQLiteReportNumbers(settings.numbers_path or path)


def open_report_parts(config: Config, *,
                      channels: Mapping[str, Channel] | None = None) -> ReportParts | None:
    """The report machinery of ``config`` (``None`` without ``reports:``); ``channels``
    replaces the configured ones (tests, a demo that sends nothing)."""
    settings = config.reports
    if settings is None:
        return None
    records, numbers = _stores(config, settings)
    outbox = Outbox(settings.outbox_path or config.state_dir / "reports-outbox.db",
                    channels_of(settings) if channels is None else channels,
                    backoff=Backoff(base=timedelta(seconds=settings.retry_base_seconds),
                                    cap=timedelta(seconds=settings.retry_max_seconds)),
                    max_attempts=settings.max_attempts)
    hospital = settings.hospital
    pseudonymize = (HmacPseudonymizer(_pseudonym_key(config, settings), hospital.id)
                    if hospital is not None else None)
    keyring = None
    token = None
    if settings.department is not None:
        try:
            keyring = Keyring.from_files(settings.department.key_files())
            token = settings.department.token()
        except ReportError as e:
            raise ConfigKeyError("reports.department", str(e)) from e
    return ReportParts(config, settings, records, numbers, outbox, hospital, pseudonymize,
                       keyring, token)
