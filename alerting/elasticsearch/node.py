"""Transport nodes that say which server dialect the request is for.

The 9.x client labels every request ``application/vnd.elasticsearch+json;
compatible-with=9``. An 8.x server refuses that, and so do OpenSearch and osmem-server
(406). The client rewrites ``Accept``/``Content-Type`` in ``BaseClient._perform_request``
just before handing the request to the transport, so the one place that sees the final
headers of every request — bulk, search, template, ``HEAD`` — is the node: these
subclasses of the urllib3 node rewrite the media type there and nowhere else.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType

from alerting.elasticsearch.config import Compat

_VENDOR = re.compile(
    r"application/vnd\.elasticsearch\+([a-z0-9.-]+)\s*(?:;\s*compatible-with=\d+)?",
    re.IGNORECASE,
)
_MEDIA_HEADERS = ("accept", "content-type")


def rewrite_media_type(value: str, compat: Compat) -> str:
    """``value`` as the server of dialect ``compat`` expects it."""
    if compat == "opensearch":
        return _VENDOR.sub(r"application/\1", value)
    if compat == "es8":
        return _VENDOR.sub(r"application/vnd.elasticsearch+\1; compatible-with=8", value)
    return value


class CompatUrllib3Node(Urllib3HttpNode):
    """The urllib3 node, with the media type rewritten for :attr:`COMPAT`."""

    COMPAT: ClassVar[Compat] = "es9"

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        if headers and self.COMPAT != "es9":
            headers = headers.copy()
            for name in _MEDIA_HEADERS:
                value = headers.get(name)
                if value:
                    headers[name] = rewrite_media_type(value, self.COMPAT)
        response = super().perform_request(
            method, target, body=body, headers=headers, request_timeout=request_timeout
        )
        return self._after(response)

    def _after(self, response: NodeApiResponse) -> NodeApiResponse:
        return response


class Es8Node(CompatUrllib3Node):
    """For an 8.x cluster: the 9.x client asks for 8.x-compatible requests and replies."""

    COMPAT: ClassVar[Compat] = "es8"


class OpenSearchNode(CompatUrllib3Node):
    """For OpenSearch and osmem-server: plain ``application/json``.

    The client also refuses any 2xx reply without ``X-Elastic-Product: Elasticsearch``
    (its product check). OpenSearch never sends it; having said in the configuration that
    the server is OpenSearch, the operator has answered that check, so the node adds the
    header to replies that lack it.
    """

    COMPAT: ClassVar[Compat] = "opensearch"

    def _after(self, response: NodeApiResponse) -> NodeApiResponse:
        meta = response.meta
        if "x-elastic-product" in meta.headers:
            return response
        headers = HttpHeaders(meta.headers)
        headers["x-elastic-product"] = "Elasticsearch"
        return NodeApiResponse(dataclasses.replace(meta, headers=headers), response.body)


NODE_CLASSES: dict[Compat, type[CompatUrllib3Node]] = {
    "es9": CompatUrllib3Node,
    "es8": Es8Node,
    "opensearch": OpenSearchNode,
}
