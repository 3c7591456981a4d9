"""The configuration file: YAML, validated with pydantic, every key documented here.

Unknown keys are errors (a typo must not silently fall back to a default), and an error is
reported in one line that names the file, the key and what is expected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.notify.config import NotifyConfig
from alerting.reports.config import ReportsConfig
from api.config import ApiConfig
from rules import strict_yaml
from sensors.context import ContextConfig
from sensors.errors import PhiwatchError
from sensors.flows.inputs import FlowInputConfig, check_lateness
from sensors.flows.network_model import NetworkConfig
from sensors.formats import FormatConfig, format_config
from sensors.remote.config import IngestConfig, SensorConfig
from sensors.timestamps import DEFAULT_ZONE

#: The rule packs shipped inside the package (``rules/packs``).
BUILTIN_PACKS = Path(__file__).resolve().parent.parent / "rules" / "packs"


class ConfigError(PhiwatchError):
    """A configuration problem, already phrased for the operator in one line."""

    exit_code = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganizationConfig(_Model):
    """The hospital this phiwatch watches."""

    id: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")] = "bv-demo"
    name: str = "Bệnh viện (chưa cấu hình)"


class SourceConfig(_Model):
    """One kind of log: which files, how to read them, and how their time behaves."""

    name: str = "his"
    paths: Annotated[list[str], Field(min_length=1)]
    exclude: list[str] = ["*.gz", "*.bz2", "*.xz", "*.zst", "*.zip"]
    #: ``format:`` names a registered input format (``sensors.formats``); the other keys
    #: are that format's.
    parse: FormatConfig = Field(default_factory=lambda: _default_parser())
    start_at: Literal["beginning", "end"] = "beginning"
    max_line_bytes: Annotated[int, Field(ge=1024, le=256 << 20)] = 1 << 20
    rotate_wait_seconds: Annotated[float, Field(ge=0)] = 5.0
    #: How far out of time order the records of one file may be (an HIS writing from
    #: several threads: a second or two; a FHIR server's export in resource order: a day).
    #: Records are held and sorted within this bound; later than it, they are late.
    out_of_order_seconds: Annotated[float, Field(ge=0, le=7 * 86_400)] = 0.0
    #: How long (wall clock) ``run`` waits for a quiet file before moving event time on
    #: without it. Set it above the longest delay of a buffered shipper (one that writes
    #: every 90 s needs more than 90).
    idle_timeout_seconds: Annotated[float, Field(gt=0, le=86_400)] = 2.0

    @field_validator("parse", mode="before")
    @classmethod
    def _known_format(cls, v: Any) -> FormatConfig:
        return format_config(v)


class RulesConfig(_Model):
    """Where the Sigma rules are and how the engine treats time."""

    paths: list[Path] = [BUILTIN_PACKS]
    lateness_seconds: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    sample_size: Annotated[int, Field(ge=1, le=1000)] = 20
    #: Groups (users, workstations, address pairs …) one rule tracks at most; past it
    #: the least active go first and a high alert says so (a flood is an attack itself).
    max_groups_per_rule: Annotated[int, Field(ge=100, le=10_000_000)] = 50_000
    #: Groups all rules together track at most; past it the largest rules shrink.
    max_groups_total: Annotated[int, Field(ge=1000, le=100_000_000)] = 400_000


class StoreConfig(_Model):
    """Where alerts are kept: Elasticsearch when configured, else an embedded SQLite file."""

    #: A registered store backend (``phiwatch.stores``); ``None``: Elasticsearch when
    #: ``elasticsearch`` is set, else SQLite.
    backend: str | None = None
    sqlite_path: Path | None = None
    elasticsearch: ElasticsearchConfig | None = None


class IncidentsConfig(_Model):
    """How alerts on one person are grouped into incidents."""

    #: Alerts on the same user closer than this join one incident.
    gap_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 4.0


class PipelineConfig(_Model):
    """How the run loop paces itself, and how it defends event time."""

    snapshot_interval_seconds: Annotated[float, Field(gt=0)] = 5.0
    scan_interval_seconds: Annotated[float, Field(gt=0)] = 2.0
    poll_interval_seconds: Annotated[float, Field(gt=0, le=10)] = 0.25
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    #: An event further than this ahead of the events before it in its file is held until
    #: later events confirm the jump (a quiet night ending) or quarantined (a wrong clock,
    #: a crafted line): one line never moves time forward for everyone.
    max_jump_seconds: Annotated[float, Field(gt=0, le=30 * 86_400)] = 900.0
    #: ``run`` quarantines an event stamped further than this ahead of the wall clock.
    max_clock_skew_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    #: When every input has been quiet this long, ``run`` moves event time on with the
    #: wall clock (less this much), so that finished alert episodes close. Buffered
    #: deliveries arriving within it lose nothing.
    idle_advance_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0


class MetricsConfig(_Model):
    """The Prometheus endpoint (``GET /metrics``) of ``phiwatch run``."""

    #: ``host:port`` to listen on (``[::1]:9464`` for IPv6; port 0: any free one, for
    #: tests). The default keeps it on this machine; ``0.0.0.0:9464`` lets a Prometheus
    #: elsewhere scrape it (firewall it).
    listen: str = "127.0.0.1:9464"
    #: How often the run loop publishes its counters for the scrapes, in seconds.
    publish_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"{v!r} is not host:port (for example 127.0.0.1:9464)")
        return v

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class LoggingConfig(_Model):
    """phiwatch's own log lines on stderr (journald, docker logs)."""

    #: ``text``: one readable line each; ``json``: one JSON object per line (time, level,
    #: logger, message and the record's extra fields), for a log shipper.
    format: Literal["text", "json"] = "text"
    #: Unset: warnings and errors (``--verbose``: info too).
    level: Literal["debug", "info", "warning", "error"] | None = None


class Config(_Model):
    """The whole configuration file."""

    organization: OrganizationConfig = OrganizationConfig()
    timezone: str = DEFAULT_ZONE
    state_dir: Path = Path("var")
    sources: list[SourceConfig] = []
    #: Live network inputs for ``phiwatch run`` (capture, NetFlow); capture files and Zeek
    #: logs are replayed with ``phiwatch replay``.
    flows: list[FlowInputConfig] = []
    rules: RulesConfig = RulesConfig()
    store: StoreConfig = StoreConfig()
    pipeline: PipelineConfig = PipelineConfig()
    network: NetworkConfig = NetworkConfig()
    context: ContextConfig = ContextConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    #: The HTTP API (``api.config.ApiConfig``): listen address, TLS, token verification,
    #: pseudonyms.
    api: ApiConfig = ApiConfig()
    #: Alert notifications (email, webhook, syslog/CEF); none when absent.
    notify: NotifyConfig | None = None
    #: The Prometheus endpoint; none when absent.
    metrics: MetricsConfig | None = None
    logging: LoggingConfig = LoggingConfig()
    #: Events from remote sensors (``POST /ingest``); off unless enabled.
    ingest: IngestConfig = IngestConfig()
    #: For ``phiwatch sensor`` only: where this host ships its events.
    sensor: SensorConfig | None = None
    #: Reports to the Department and breach notifications (``alerting.reports.config``);
    #: the Department's inbox. None when absent.
    reports: ReportsConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _report_issuer(cls, data: Any) -> Any:
        """The issuing hospital is this phiwatch's organization unless it says otherwise."""
        if not isinstance(data, dict):
            return data
        reports = data.get("reports")
        if isinstance(reports, dict) and isinstance(reports.get("hospital"), dict) \
                and "id" not in reports["hospital"]:
            org = data.get("organization")
            org_id = (org.get("id") if isinstance(org, dict) else None) or \
                OrganizationConfig().id
            data = {**data, "reports": {**reports,
                                        "hospital": {**reports["hospital"], "id": org_id}}}
        return data

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as "
                             f"'Asia/Ho_Chi_Minh')") from None
        return v

    @model_validator(mode="after")
    def _flows_fit_the_lateness(self) -> Config:
        check_lateness(self.flows, self.rules.lateness_seconds)
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.store.sqlite_path or self.state_dir / "alerts.db"

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def dead_letter_dir(self) -> Path:
        return self.state_dir / "dead-letter"

    @property
    def rules_state_path(self) -> Path:
        """Rules switched off by an admin (``phiwatch.rules_state``); the engine reads it."""
        return self.state_dir / "rules-state.json"

    @property
    def ingest_path(self) -> Path:
        """The engine's journal of remote sensors' batches (``sensors.remote.journal``)."""
        return self.state_dir / "ingest.db"

    @property
    def sensor_spool_path(self) -> Path:
        """A remote sensor's spool and positions (``sensors.remote.spool``)."""
        return self.state_dir / "sensor-spool.db"

    @property
    def reports_dir(self) -> Path:
        """The hospital's report signing key, unless configured elsewhere."""
        return self.state_dir / "reports"

    @property
    def api_dir(self) -> Path:
        """The API's own keys (pseudonyms, cursors) unless configured elsewhere."""
        return self.state_dir / "api"


def _default_parser() -> FormatConfig:
    return format_config({"format": "json"})


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate ``path`` (or the defaults when ``None``); ``ConfigError`` if wrong.

    Relative paths in the file are taken relative to the file's folder, so a config
    works from wherever phiwatch is started.
    """
    data: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{where}: cannot read the configuration file: {e.strerror}") from e
        try:
            loaded = strict_yaml.load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e)
            raise ConfigError(f"{where}:{at}: not valid YAML: {problem}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{where}: expected a mapping of settings at the top level")
        data = loaded
    if overrides:
        data = {**data, **overrides}
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_one_line(where, e)) from e
    if path is not None:
        config = _rebase(config, path.resolve().parent)
    return config


def _rebase_store(store: StoreConfig, rel: Callable[[Path], Path]) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if store.sqlite_path:
        update["sqlite_path"] = rel(store.sqlite_path)
    es = store.elasticsearch
    if es is not None:
        es_update = {
            name: rel(value)
            for name in ("ca_file", "spool_dir", "dead_letter_path", "password_file",
                         "api_key_file")
            if (value := getattr(es, name)) is not None
        }
        update["elasticsearch"] = es.model_copy(update=es_update)
    return update


def _one_line(where: str, error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against the configuration reference)"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {key}: {message}{suffix}"


def _rebase(config: Config, base: Path) -> Config:
    def rel(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    def rel_glob(g: str) -> str:
        return g if Path(g).expanduser().is_absolute() else str(base / g)

    return config.model_copy(
        update={
            "state_dir": rel(config.state_dir),
            "sources": [
                s.model_copy(update={"paths": [rel_glob(g) for g in s.paths]})
                for s in config.sources
            ],
            "rules": config.rules.model_copy(
                update={"paths": [rel(p) for p in config.rules.paths]}
            ),
            "store": config.store.model_copy(update=_rebase_store(config.store, rel)),
            "context": config.context.rebased(base),
            "api": config.api.rebased(rel),
            "notify": config.notify.rebased(base) if config.notify is not None else None,
            "sensor": (config.sensor.model_copy(update={
                "token_file": rel(config.sensor.token_file),
                "ca_file": rel(config.sensor.ca_file) if config.sensor.ca_file else None,
            }) if config.sensor is not None else None),
            "reports": config.reports.rebased(rel) if config.reports is not None else None,
        }
    )
