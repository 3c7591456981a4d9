"""The deploy files, validated as far as a machine without Docker or systemd allows: the
compose file and Dockerfile, the systemd units (their commands run with --help), the
example configurations through phiwatch's own loader."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from phiwatch.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PHIWATCH = Path(sys.executable).parent / "phiwatch"


def run_help(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``phiwatch <args> --help``: exit 0 only if the command and every option exist."""
    assert Path(argv[0]).name == "phiwatch", argv
    return subprocess.run([str(PHIWATCH), *argv[1:], "--help"], capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin"})


# -- compose -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _interpolate_default(value: str) -> str:
    """``${VAR:-default}`` → default (what compose uses when VAR is unset)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_services_images_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"elasticsearch", "setup", "kibana", "kibana-setup", "phiwatch"}
    es_image = services["elasticsearch"]["image"]
    m = re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:(8\.\d+\.\d+)", es_image)
    assert m is not None, es_image
    assert services["kibana"]["image"] == f"docker.elastic.co/kibana/kibana:{m[1]}"
    assert services["setup"]["image"] == services["kibana-setup"]["image"] == es_image
    for name in ("elasticsearch", "kibana", "phiwatch"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 3
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep]
    for name in ("elasticsearch", "kibana", "phiwatch"):
        for port in services[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)   # nothing beyond this host


def test_compose_volumes_and_mounted_files(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    mounts: dict[str, str] = {}
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            source, target, *mode = _interpolate_default(spec).split(":")
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in declared, (name, source)
            if name == "phiwatch":
                mounts[target] = f"{source}:{''.join(mode)}"
    assert mounts["/var/log/his"].endswith(":ro")                     # logs read-only
    assert mounts["/etc/phiwatch/phiwatch.yaml"].endswith(":ro")
    assert mounts["/var/lib/phiwatch"] == "phiwatch-state:"           # state in a volume
    used = set(re.findall(r"\$\{(\w+)[:}]", (DEPLOY / "compose.yaml").read_text()))
    defined = {line.split("=", 1)[0] for line in
               (DEPLOY / "compose" / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used <= defined, used - defined


def test_compose_phiwatch_runs_a_valid_command_on_a_valid_config(
        compose: dict[str, Any]) -> None:
    service = compose["services"]["phiwatch"]
    cfg = load_config(DEPLOY / "compose" / "phiwatch.yaml")
    assert str(cfg.state_dir) == "/var/lib/phiwatch"
    assert cfg.sources and all(p.startswith("/var/log/his/") for s in cfg.sources
                               for p in s.paths)
    assert cfg.store.elasticsearch is not None
    assert cfg.store.elasticsearch.hosts == ["http://elasticsearch:9200"]
    assert cfg.metrics is not None and cfg.metrics.address == ("0.0.0.0", 9464)
    assert service["ports"] == [f"127.0.0.1:9464:{cfg.metrics.address[1]}"]
    assert str(cfg.snapshot_path) in " ".join(service["healthcheck"]["test"])
    result = run_help(["phiwatch", *service["command"]])
    assert result.returncode == 0, result.stderr


def test_dockerfile_copies_what_exists_and_is_not_ignored(compose: dict[str, Any]) -> None:
    build = compose["services"]["phiwatch"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    dockerfile = context / build["dockerfile"]
    assert context == ROOT and dockerfile.exists()
    text = dockerfile.read_text(encoding="utf-8")
    sources = [s for line in text.splitlines() if line.startswith("COPY ")
               and "--from=" not in line for s in line.split()[1:-1]]
    assert {"pyproject.toml", "phiwatch", "sensors", "rules", "alerting"} <= set(sources)
    allowed = {line[1:].rstrip("/") for line in
               (dockerfile.parent / f"{dockerfile.name}.dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for source in sources:
        assert (context / source).exists(), source
        assert source in allowed, f"{source} is excluded by the .dockerignore"
    assert re.search(r"^USER phiwatch$", text, re.M)
    assert 'ENTRYPOINT ["tini", "--", "phiwatch"]' in text


# -- systemd -----------------------------------------------------------------------------

def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"), source=name)
    return parser


HARDENING = {"NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true",
             "PrivateTmp": "true", "PrivateDevices": "true", "RestrictSUIDSGID": "true",
             "ProtectKernelModules": "true", "LockPersonality": "true"}


@pytest.mark.parametrize("name", ["phiwatch.service", "phiwatch-sensor.service"])
def test_long_running_units_are_hardened(name: str) -> None:
    u = unit(name)
    assert u["Unit"]["Description"] and "network-online.target" in u["Unit"]["After"]
    s = u["Service"]
    assert s["Type"] == "simple" and s["User"] == "phiwatch"
    assert s["Restart"] == "on-failure" and s["RestartPreventExitStatus"] == "2"
    assert s["KillSignal"] == "SIGTERM"
    for key, value in HARDENING.items():
        assert s[key] == value, key
    state = f"/var/lib/{s['StateDirectory']}"
    assert s["ReadWritePaths"] == state
    assert u["Install"]["WantedBy"] == "multi-user.target"


def test_only_the_sensor_may_capture() -> None:
    engine = unit("phiwatch.service")["Service"]
    sensor = unit("phiwatch-sensor.service")["Service"]
    assert engine["CapabilityBoundingSet"] == "" and engine["AmbientCapabilities"] == ""
    assert "AF_PACKET" not in engine["RestrictAddressFamilies"]
    assert engine["ReadOnlyPaths"] == "/var/log/his"
    assert sensor["CapabilityBoundingSet"].split() == ["CAP_NET_RAW", "CAP_NET_ADMIN"]
    assert sensor["AmbientCapabilities"].split() == ["CAP_NET_RAW", "CAP_NET_ADMIN"]
    assert "AF_PACKET" in sensor["RestrictAddressFamilies"].split()


@pytest.mark.parametrize("name", ["phiwatch.service", "phiwatch-es-prune.service",
                                  "phiwatch-sensor.service"])
def test_execstart_names_a_phiwatch_command_with_valid_options(name: str) -> None:
    argv = shlex.split(unit(name)["Service"]["ExecStart"])
    assert argv[0] == "/opt/phiwatch/.venv/bin/phiwatch"
    assert argv[argv.index("--config") + 1].startswith("/etc/phiwatch/")
    result = run_help(argv)
    assert result.returncode == 0, result.stderr


def test_the_prune_timer_starts_the_prune_service() -> None:
    timer = unit("phiwatch-es-prune.timer")
    assert timer["Timer"]["Unit"] == "phiwatch-es-prune.service"
    assert timer["Timer"]["Persistent"] == "true" and timer["Timer"]["OnCalendar"]
    assert unit("phiwatch-es-prune.service")["Service"]["Type"] == "oneshot"


# -- example configurations ------------------------------------------------------------------

def _commented_channels(text: str) -> str:
    """The example with its commented-out channels (``    # - type: …`` blocks) enabled."""
    return re.sub(r"^    # (- type: .*\n(?:    #   .*\n)*)",
                  lambda m: re.sub(r"^    # ", "    ", m[0], flags=re.M), text, flags=re.M)


def test_the_hospital_example_sets_every_section(tmp_path: Path) -> None:
    path = DEPLOY / "phiwatch.example.yaml"
    cfg = load_config(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # flows: commented (live only); sensor: for `phiwatch sensor` (sensor.example.yaml)
    assert set(Config.model_fields) - set(data) == {"flows", "sensor"}
    assert cfg.notify is not None and [c.type for c in cfg.notify.channels] == ["email"]
    enabled = tmp_path / "phiwatch.yaml"
    enabled.write_text(_commented_channels(path.read_text(encoding="utf-8")), encoding="utf-8")
    full = load_config(enabled)
    assert full.notify is not None
    assert [c.type for c in full.notify.channels] == ["email", "webhook", "syslog"]


def test_the_sensor_example_ships_to_an_https_engine_from_the_units_state_dir() -> None:
    cfg = load_config(DEPLOY / "sensor.example.yaml")
    assert cfg.sensor is not None and cfg.sensor.engine_url.startswith("https://")
    assert cfg.sensor.ca_file is not None and cfg.sources
    s = unit("phiwatch-sensor.service")["Service"]
    assert str(cfg.state_dir) == f"/var/lib/{s['StateDirectory']}"
    argv = shlex.split(s["ExecStart"])
    assert argv[argv.index("--config") + 1] == "/etc/phiwatch/sensor.yaml"


def test_the_department_example_has_no_sources_and_the_shared_cluster() -> None:
    cfg = load_config(DEPLOY / "department.example.yaml")
    assert cfg.sources == [] and cfg.flows == [] and cfg.notify is None
    es = cfg.store.elasticsearch
    assert es is not None and len(es.hosts) >= 2 and all(h.startswith("https://")
                                                          for h in es.hosts)
    assert cfg.logging.format == "json"


def test_the_es_setup_script_creates_what_compose_uses() -> None:
    script = (DEPLOY / "compose" / "es-setup.sh").read_text(encoding="utf-8")
    cfg = load_config(DEPLOY / "compose" / "phiwatch.yaml")
    assert cfg.store.elasticsearch is not None
    assert f"/_security/user/{cfg.store.elasticsearch.username}" in script
    assert f'"{cfg.store.elasticsearch.index_prefix}-*"' in script
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
