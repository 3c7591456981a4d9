"""The connection as the server sees it (a real recording HTTP server): ``compat`` media
types, TLS with the hospital's CA, basic auth and API keys."""

from __future__ import annotations

import base64
import shutil
import ssl
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import ApiError, UnsupportedProductError
from es_testkit import Seen, es_config, make_alert, make_test_pki, recording_proxy
from pydantic import SecretStr

from alerting.elasticsearch import ElasticsearchAlertStore, build_client
from alerting.elasticsearch.node import rewrite_media_type
from sensors.errors import ConfigKeyError


def _elasticsearch_like(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    """A canned reply, as an Elasticsearch node would give it, for any request."""
    if seen.path.startswith("/_bulk"):
        body: dict[str, Any] = {"errors": False, "took": 1, "items": []}
    elif seen.path == "/":
        body = {"version": {"number": "8.15.0"}, "cluster_name": "bv"}
    else:
        body = {"hits": {"hits": [], "total": {"value": 0, "relation": "eq"}}}
    return 200, {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"}, \
        orjson.dumps(body)


@pytest.mark.parametrize(
    ("compat", "json_type", "ndjson_type"),
    [
        ("es9", "application/vnd.elasticsearch+json; compatible-with=9",
         "application/vnd.elasticsearch+x-ndjson; compatible-with=9"),
        ("es8", "application/vnd.elasticsearch+json; compatible-with=8",
         "application/vnd.elasticsearch+x-ndjson; compatible-with=8"),
        ("opensearch", "application/json", "application/x-ndjson"),
    ],
)
def test_media_types_that_reach_the_server(
    tmp_path: Path, compat: str, json_type: str, ndjson_type: str
) -> None:
    with recording_proxy("http://127.0.0.1:9") as proxy:
        proxy.responder = _elasticsearch_like
        client = build_client(es_config(proxy.url, tmp_path, compat=compat))
        client.info()
        client.search(index="phiwatch-alerts-*", query={"term": {"rule.id": "x"}})
        client.bulk(operations=[{"index": {"_index": "i", "_id": "1"}}, {"a": 1}])
        client.close()
    info, search, bulk = proxy.seen
    assert info.headers["accept"] == json_type
    assert search.headers["accept"] == json_type
    assert search.headers["content-type"] == json_type
    assert bulk.headers["accept"] == json_type
    assert bulk.headers["content-type"] == ndjson_type


def test_the_default_9x_media_type_is_refused_by_an_opensearch_server(
    osmem_clone: Any, tmp_path: Path
) -> None:
    client = build_client(es_config(osmem_clone.url, tmp_path, compat="es9"))
    with pytest.raises(ApiError) as refused:
        client.search(index="x", query={"match_all": {}})
    assert refused.value.status_code == 406
    client.close()
    client = build_client(es_config(osmem_clone.url, tmp_path, compat="opensearch"))
    assert client.search(index="x", query={"match_all": {}}, allow_no_indices=True,
                         ignore_unavailable=True).body["hits"]["hits"] == []
    client.close()


def test_opensearch_mode_passes_the_product_check_of_a_server_without_the_header(
    osmem_clone: Any, tmp_path: Path
) -> None:
    """Real OpenSearch sends no X-Elastic-Product; the 9.x client refuses such a server."""
    with recording_proxy(osmem_clone.url) as proxy:
        proxy.strip_response_headers = ("x-elastic-product",)
        plain = build_client(es_config(proxy.url, tmp_path, compat="es9"))
        with pytest.raises(UnsupportedProductError):
            plain.info()
        plain.close()
        store = ElasticsearchAlertStore(es_config(proxy.url, tmp_path), background=False)
        assert store.write([make_alert(1)]).inserted == 1
        assert store.get(make_alert(1).id) is not None
        store.close()


def test_rewrite_keeps_other_media_types_and_parameters() -> None:
    vnd = "application/vnd.elasticsearch+json; compatible-with=9"
    assert rewrite_media_type(vnd, "opensearch") == "application/json"
    assert rewrite_media_type(vnd, "es8") == "application/vnd.elasticsearch+json; compatible-with=8"
    assert rewrite_media_type(vnd, "es9") == vnd
    assert rewrite_media_type("text/plain", "opensearch") == "text/plain"
    assert rewrite_media_type("application/vnd.elasticsearch+x-ndjson; compatible-with=9",
                              "opensearch") == "application/x-ndjson"


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test CA")
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_test_pki(folder)


def test_tls_with_the_hospital_ca_and_basic_auth(
    osmem_clone: Any, tmp_path: Path, pki: tuple[Path, ssl.SSLContext]
) -> None:
    ca_file, server_tls = pki
    with recording_proxy(osmem_clone.url, tls=server_tls) as proxy:
        config = es_config(proxy.url, tmp_path).model_copy(update={
            "ca_file": ca_file, "username": "phiwatch", "password": SecretStr("s3cret")})
        store = ElasticsearchAlertStore(config, background=False)
        assert store.write([make_alert(1)]).inserted == 1
        store.close()
        # Without the hospital's CA the certificate is not trusted: nothing is sent, all spooled.
        untrusted = ElasticsearchAlertStore(
            es_config(proxy.url, tmp_path / "u", max_retries=0), background=False)
        assert untrusted.write([make_alert(2)]).spooled == 1
        assert untrusted.writer is not None
        assert "certificate" in (untrusted.writer.last_error or "").lower()
        untrusted.close()
    expected = "Basic " + base64.b64encode(b"phiwatch:s3cret").decode()
    assert {s.headers.get("authorization") for s in proxy.seen} == {expected}


def test_api_key_auth(tmp_path: Path) -> None:
    with recording_proxy("http://127.0.0.1:9") as proxy:
        proxy.responder = _elasticsearch_like
        config = es_config(proxy.url, tmp_path).model_copy(update={"api_key": SecretStr("a2V5")})
        client = build_client(config)
        client.info()
        client.close()
    assert proxy.seen[0].headers["authorization"] == "ApiKey a2V5"


def test_credentials_from_files_relative_to_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "es.password").write_text("fr0m-a-file\n", encoding="utf-8")
    (tmp_path / "phiwatch.yaml").write_text(
        "store:\n  elasticsearch:\n    hosts: ['http://127.0.0.1:9']\n    username: phiwatch\n"
        "    password_file: secrets/es.password\n", encoding="utf-8")
    from phiwatch.config import ConfigError, load_config

    es = load_config(tmp_path / "phiwatch.yaml").store.elasticsearch
    assert es is not None and es.password_file == tmp_path / "secrets" / "es.password"
    with recording_proxy("http://127.0.0.1:9") as proxy:
        proxy.responder = _elasticsearch_like
        client = build_client(es.model_copy(update={"hosts": [proxy.url]}))
        client.info()
        client.close()
    assert proxy.seen[0].headers["authorization"] == \
        "Basic " + base64.b64encode(b"phiwatch:fr0m-a-file").decode()
    (tmp_path / "secrets" / "es.password").unlink()
    with pytest.raises(ConfigKeyError) as e:
        build_client(es)
    assert e.value.key == "store.elasticsearch.password_file"
    (tmp_path / "bad.yaml").write_text(
        "store:\n  elasticsearch:\n    hosts: ['http://127.0.0.1:9']\n    username: phiwatch\n"
        "    password: x\n    password_file: secrets/es.password\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="password or password_file, not both"):
        load_config(tmp_path / "bad.yaml")
