"""The ``compat`` option: what reaches the server, seen by a real recording HTTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import ApiError, UnsupportedProductError
from es_testkit import Seen, es_config, make_alert, recording_proxy

from alerting.elasticsearch import ElasticsearchAlertStore, build_client
from alerting.elasticsearch.node import rewrite_media_type


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
