"""The HTTP API under /api/v1: JSON, described by /api/v1/openapi.json.

Reads are public; the admin endpoints (catalogs, refreshes, audit) and webhooks write, with
a token or a signature (`api.admin`). This module holds the blueprint and what every
request goes through; the route modules (`views`, `manifests`, `admin`) add their routes to
it when `create_app` imports them.

Every GET answer depends only on the indexed state of the catalogs, so its ETag is derived
from that state (each catalog's revision and generation) and the request's URL; a client
that sends it back in If-None-Match gets 304 without the view running at all, and a repeated
request gets the kept answer (see `catalog_server.responsecache`).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from catalog_server.api.errors import ApiError
from catalog_server.responsecache import (
    UNCACHED_API_ENDPOINTS,
    answer_from_cache,
    api_etag,
    keep,
    served_state,
)

api = Blueprint("api", __name__, url_prefix="/api/v1")
# Reads whose form is negotiated (JSON or Markdown by Accept): never kept by the URL alone;
# the view keeps its answers by the URL and the form (`api.previews`' report).
NEGOTIATED_ENDPOINTS = frozenset({"api.preview_report"})
# Reads whose answer an admin token adds to (who asked for a preview): a request that
# carries credentials is never answered from memory, and its answer is never kept.
CALLER_ENDPOINTS = frozenset({"api.list_previews", "api.get_preview"})


@api.before_request
def _check_request():
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(400, "bad_parameter", "a path segment holds a NUL character")
    if request.method not in ("GET", "HEAD") or request.endpoint in UNCACHED_API_ENDPOINTS:
        return None
    if request.endpoint in NEGOTIATED_ENDPOINTS:
        return None
    if request.endpoint in CALLER_ENDPOINTS and "Authorization" in request.headers:
        return None
    return answer_from_cache(api_etag(served_state().token(), request.full_path))


@api.after_request
def _keep(response: Response) -> Response:
    response = keep(response)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
