"""Template, index naming, retention and the setup/check commands, against osmem-server."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from es_testkit import es_config, make_alert
from pydantic import ValidationError

from alerting.elasticsearch import (
    ElasticsearchAlertStore,
    ElasticsearchConfig,
    build_client,
    check,
    prune_indices,
    setup,
)
from alerting.elasticsearch.documents import index_for, org_slug
from alerting.elasticsearch.retention import ilm_policy_body, index_month_end
from alerting.elasticsearch.template import template_body, template_name
from phiwatch.render.elasticsearch import format_check, format_prune, format_setup


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_setup_installs_the_template_once(osmem_clone: Any, tmp_path: Path) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    first = setup(config)
    assert first.ok and first.done["template"] == "installed"
    assert first.server is not None and first.server.distribution == "opensearch"
    assert "unsupported by opensearch" in first.done["ilm_policy"]
    assert setup(config).done["template"] == "unchanged"
    # Someone edits the template by hand: setup puts ours back.
    client = build_client(config)
    client.indices.put_index_template(name=template_name(config),
                                      index_patterns=["phiwatch-alerts-*"], priority=1)
    assert setup(config).done["template"] == "updated"
    assert setup(config).done["template"] == "unchanged"
    text = format_setup(setup(config))
    assert "template: unchanged" in text and "opensearch 3" in text
    client.close()


def test_alert_indices_get_the_ecs_mappings(osmem_clone: Any, tmp_path: Path) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    store = ElasticsearchAlertStore(config, background=False)
    alert = make_alert(3, context={"source.ip": "10.20.3.45", "destination.ip": "not an ip",
                                   "destination.port": "443", "user.roles": ["nurse"],
                                   "patient.id": "BN2026001234"})
    assert store.write([alert]).inserted == 1
    index = "phiwatch-alerts-tu-du-2026.11"
    mapping = store.client.indices.get_mapping(index=index).body[index]["mappings"]
    props = mapping["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["event"]["properties"]["start"]["type"] == "date"
    assert props["rule"]["properties"]["id"]["type"] == "keyword"
    assert props["phiwatch"]["properties"]["alert"]["enabled"] is False
    assert props["message"]["fields"]["keyword"]["type"] == "keyword"
    assert props["phiwatch"]["properties"]["metrics"]["properties"]["own_p99"]["type"] == "double"
    doc = store.client.get(index=index, id=alert.id).body
    assert doc["_version"] == 0  # external version = revision
    src = doc["_source"]
    assert src["event"]["kind"] == "alert" and src["event"]["id"] == alert.id
    assert src["rule"] == {"id": alert.rule_id, "name": alert.rule_title}
    assert src["user"] == {"id": "nv00003", "roles": ["nurse"]}
    assert src["source"] == {"ip": "10.20.3.45"}
    assert src["destination"] == {"port": 443}  # the bad address is left out, not refused
    assert src["patient"] == {"id": "BN2026001234"}
    assert src["organization"] == {"id": "tu-du"}
    assert src["message"] == alert.explanation
    assert src["phiwatch"]["alert"]["context"]["destination.ip"] == "not an ip"
    store.close()


def test_index_is_named_from_the_alert_month_in_utc() -> None:
    late = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert index_for("phiwatch", make_alert(1, window_start=late)) == \
        "phiwatch-alerts-tu-du-2026.12"
    assert index_for("p", make_alert(1, organization_id=None)).startswith("p-alerts-none-")
    assert org_slug("Từ Dũ / Khoa Sản") == "tu_du_khoa_san"
    assert org_slug("Bệnh viện Đại học") == "benh_vien_dai_hoc"
    assert org_slug("..") == "none"


def test_check_reports_problems_without_raising(osmem_clone: Any, tmp_path: Path) -> None:
    config = es_config(osmem_clone.url, tmp_path)
    before = check(config)
    assert before.reachable and before.template == "missing" and not before.ok
    setup(config)
    store = ElasticsearchAlertStore(config, background=False)
    store.write([make_alert(n) for n in range(3)])
    store.close()
    after = check(config)
    assert after.ok, after.problems
    assert (after.template, after.alerts, after.indices) == ("current", 3, 1)
    assert "reachable: yes" in format_check(after)
    away = check(es_config(_dead_url(), tmp_path, request_timeout=1))
    assert not away.reachable and not away.ok
    assert "reachable: NO" in format_check(away)


def test_prune_deletes_whole_months_past_retention(osmem_clone: Any, tmp_path: Path) -> None:
    config = es_config(osmem_clone.url, tmp_path, retention_days=30)
    store = ElasticsearchAlertStore(config, background=False)
    for month in (1, 2, 3, 4):
        store.write([make_alert(month, window_start=datetime(2026, month, 15, tzinfo=UTC))])
    store.client.indices.create(index="phiwatch-alerts-someone-else")
    now = datetime(2026, 4, 20, tzinfo=UTC)  # March ended 20 days ago, February 48 days ago
    dry = prune_indices(config, now=now, dry_run=True)
    assert dry.deleted == ["phiwatch-alerts-tu-du-2026.01", "phiwatch-alerts-tu-du-2026.02"]
    assert store.client.indices.exists(index="phiwatch-alerts-tu-du-2026.01")
    done = prune_indices(config, now=now)
    assert done.deleted == dry.deleted
    assert done.kept == ["phiwatch-alerts-tu-du-2026.03", "phiwatch-alerts-tu-du-2026.04"]
    assert done.skipped == ["phiwatch-alerts-someone-else"]
    assert not store.client.indices.exists(index="phiwatch-alerts-tu-du-2026.01")
    assert "deleted 2 index(es), kept 2" in format_prune(done, 30)
    assert prune_indices(config, now=now, retention_days=1).deleted == [
        "phiwatch-alerts-tu-du-2026.03"]
    store.close()


def test_retention_rules() -> None:
    config = ElasticsearchConfig(hosts=["http://es:9200"], retention_days=365)
    assert index_month_end(config, "phiwatch-alerts-tu-du-2026.12") == \
        datetime(2027, 1, 1, tzinfo=UTC)
    assert index_month_end(config, "phiwatch-alerts-x-2026.13") is None
    assert index_month_end(config, "other-alerts-x-2026.01") is None
    # ILM counts from index creation, so it waits a month more than the retention.
    assert ilm_policy_body(config)["phases"]["delete"]["min_age"] == "396d"
    with_ilm = template_body(config, "phiwatch-alerts-retention")
    assert with_ilm["template"]["settings"]["index"]["lifecycle"] == {
        "name": "phiwatch-alerts-retention"}
    assert with_ilm["_meta"]["hash"] != template_body(config, None)["_meta"]["hash"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hosts": ["http://es:9200"], "spool_max_alert": 5}, "Extra inputs are not permitted"),
        ({"hosts": ["es:9200"]}, "is not a node URL"),
        ({"hosts": []}, "at least 1 item"),
        ({"hosts": ["https://u:p@es:9200"]}, "not in the URL"),
        ({"hosts": ["http://es:9200"], "api_key": "k", "username": "u", "password": "p"},
         "either api_key or username/password"),
        ({"hosts": ["http://es:9200"], "username": "u"}, "go together"),
        ({"hosts": ["http://es:9200"], "ca_file": "/etc/ca.pem"}, "no host uses https"),
        ({"hosts": ["http://es:9200"], "compat": "es7"}, "'es9', 'es8' or 'opensearch'"),
        ({"hosts": ["http://es:9200"], "index_prefix": "Bad*"}, "should match pattern"),
    ],
)
def test_config_errors_name_the_problem(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ElasticsearchConfig(**values)


def test_config_reads_from_yaml_as_written() -> None:
    text = """
hosts: [https://es1.bv.local:9200, https://es2.bv.local:9200]
ca_file: /etc/phiwatch/es-ca.pem
api_key: "aWQ6a2V5"
compat: es8
refresh: false
spool_max_alerts: 50000
"""
    config = ElasticsearchConfig.model_validate(yaml.safe_load(text))
    assert config.refresh == "false" and config.compat == "es8"
    assert ElasticsearchConfig.model_validate(
        {"hosts": ["http://es:9200"], "refresh": True}).refresh == "true"


def test_config_keeps_secrets_out_of_reprs() -> None:
    config = ElasticsearchConfig.model_validate({
        "hosts": ["https://es1:9200", "https://es2:9200"], "ca_file": "/etc/phiwatch/ca.pem",
        "username": "phiwatch", "password": "s3cret"})
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())
    assert config.spool_path(Path("/var/lib/phiwatch")) == Path("/var/lib/phiwatch/es-spool")
