"""The HTTP API under /api/v1: JSON, read-only, described by /api/v1/openapi.json.

Every GET answer depends only on the indexed state of the catalogs, so its ETag is derived
from that state (each catalog's revision and generation) and the request's URL; a client
that sends it back in If-None-Match gets 304 without the view running at all.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, g, request

from catalog_server.api.errors import ApiError
from catalog_server.db import db
from catalog_server.queries import catalog_state

api = Blueprint("api", __name__, url_prefix="/api/v1")

# Answers that must reflect the live process or database, never a cached state.
UNCACHED_ENDPOINTS = {"api.healthz", "api.readyz", "api.openapi", "api.list_audit"}


@api.before_request
def _check_request():
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(400, "bad_parameter", "a path segment holds a NUL character")
    if request.method not in ("GET", "HEAD") or request.endpoint in UNCACHED_ENDPOINTS:
        return None
    state = catalog_state(db.session)
    digest = hashlib.sha256(repr((state, request.full_path)).encode()).hexdigest()[:32]
    g.etag = digest
    if digest in request.if_none_match:
        response = Response(status=304)
        response.set_etag(digest)
        return response
    return None


@api.after_request
def _add_etag(response: Response) -> Response:
    etag = g.get("etag")
    if etag and response.status_code == 200 and request.method in ("GET", "HEAD"):
        response.set_etag(etag)
        # Clients may keep the answer but must ask again; a 304 costs one small query.
        response.headers.setdefault("Cache-Control", "no-cache")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


from catalog_server.api import (  # noqa: E402,F401  (registers the routes)
    admin,  # noqa: E402,F401  (admin endpoints and webhooks)
    manifests,
    views,
)
