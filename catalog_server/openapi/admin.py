"""The OpenAPI paths of the admin endpoints and webhooks."""

from __future__ import annotations

from catalog_server.catalogs import SOURCE_SCHEMA
from catalog_server.openapi.common import (
    BAD_PARAMETER,
    CATALOG,
    NOT_FOUND,
    PAGE,
    PER_PAGE,
    error_response,
    json_response,
    list_of,
    param,
    ref,
)

# --- admin endpoints and webhooks ------------------------------------------------------------

UNAUTHORIZED = error_response("No admin token, a wrong one or a revoked one; nothing changed.")
ADMIN = [{"admin": []}]
# A catalog source as the catalogs file and the admin API check it (one schema).
CATALOG_INPUT = SOURCE_SCHEMA
INVALID = error_response("A field is not valid; details name each field with its messages.")
REPLAYED = error_response(
    "This signed body was accepted before (code replayed): a webhook body is accepted once "
    "(for 30 days), so send something unique in it, such as the commit or a time."
)


def admin_catalogs() -> dict:
    return {
        "post": {
            "summary": "Add a catalog (admin). Its first sync is queued.",
            "security": ADMIN,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": CATALOG_INPUT | {"required": ["name", "url"]}}
                },
            },
            "responses": {
                "201": json_response(ref("Catalog"), "The new catalog."),
                "400": BAD_PARAMETER,
                "401": UNAUTHORIZED,
                "409": error_response("A catalog with that name exists."),
                "422": INVALID,
            },
        }
    }


def admin_catalog() -> dict:
    return {
        "patch": {
            "summary": "Change a catalog added over the API (admin).",
            "security": ADMIN,
            "parameters": [CATALOG],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CATALOG_INPUT}},
            },
            "responses": {
                "200": json_response(ref("Catalog"), "The changed catalog."),
                "400": BAD_PARAMETER,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "409": error_response("The catalog is defined in the catalogs file."),
                "422": INVALID,
            },
        },
        "delete": {
            "summary": "Remove a catalog added over the API, and its index (admin).",
            "security": ADMIN,
            "parameters": [CATALOG],
            "responses": {
                "204": {"description": "Removed."},
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "409": error_response("The catalog is defined in the catalogs file."),
            },
        },
    }


def admin_paths() -> dict:
    queued = json_response(
        {
            "type": "object",
            "properties": {"queued": {"type": "array", "items": {"type": "string"}}},
        },
        "The refreshes queued.",
    )
    hook_body = {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    signature = param(
        "X-Hub-Signature-256",
        "header",
        "sha256=<hex HMAC-SHA256 of the body with the catalog's webhook secret>.",
    )
    return {
        "/api/v1/catalogs/{catalog}/refresh": {
            "post": {
                "summary": "Queue a refresh of the catalog (admin); the sync process runs it.",
                "security": ADMIN,
                "parameters": [CATALOG],
                "responses": {
                    "202": json_response(
                        {"type": "object"}, "Queued; the catalog shows sync_state."
                    ),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/v1/audit": {
            "get": {
                "summary": "The audit log, newest first (admin).",
                "security": ADMIN,
                "parameters": [PAGE, PER_PAGE],
                "responses": {
                    "200": json_response(
                        list_of({"type": "object"}, True), "A page of the audit log."
                    ),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/v1/hooks/github": {
            "post": {
                "summary": "GitHub push webhook: queues a refresh of the catalogs of the pushed "
                "repository and branch whose secret verifies the signature. A pull_request "
                "event (X-GitHub-Event) creates or refreshes (opened, synchronize, reopened) "
                "or removes (closed) preview pr-<number> of those catalogs whose branch it "
                "targets (from a fork: only with preview_forks); the answer lists them "
                "(previewed, removed, refused, ignored).",
                "parameters": [signature],
                "requestBody": hook_body,
                "responses": {
                    "200": json_response({"type": "object"}, "A ping, answered."),
                    "202": queued,
                    "400": BAD_PARAMETER,
                    "401": error_response("No catalog accepts the signature; nothing queued."),
                    "409": REPLAYED,
                },
            }
        },
        "/api/v1/hooks/{catalog}": {
            "post": {
                "summary": "Generic push webhook for one catalog (same signature header).",
                "parameters": [CATALOG, signature],
                "requestBody": hook_body,
                "responses": {
                    "202": queued,
                    "401": error_response("Bad or missing signature; nothing queued."),
                    "409": REPLAYED,
                },
            }
        },
    }
