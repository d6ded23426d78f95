"""The OpenAPI paths of the preview endpoints (:mod:`catalog_server.api.previews`), and
``include_previews`` on the lists that leave previews out."""

from __future__ import annotations

from typing import Any

from catalog_server.catalogs import PREVIEW_ID_RE
from catalog_server.openapi.admin import ADMIN, UNAUTHORIZED
from catalog_server.openapi.common import (
    BAD_PARAMETER,
    CATALOG,
    NOT_FOUND,
    error_response,
    json_response,
    list_of,
    param,
)

PREVIEW_ID = param("preview", "path", "Preview id (`pr-42`).")
INCLUDE_PREVIEWS = param(
    "include_previews",
    "query",
    "Also list previews (catalogs named `{catalog}~{id}`), which are left out otherwise.",
    {"type": "boolean"},
)
_TEXT_OR_NULL = {"type": ["string", "null"]}
# A public read that an admin token adds to; a token that is not valid is refused.
PUBLIC_OR_ADMIN = [{}, *ADMIN]
UNAUTHORIZED_READ = error_response("An admin token that is not valid (unknown or revoked).")
PREVIEW = {
    "type": "object",
    "required": ["id", "catalog", "name", "ref", "state", "expires_at", "links"],
    "properties": {
        "id": {"type": "string"},
        "catalog": {"type": "string", "description": "The base catalog."},
        "name": {
            "type": "string",
            "description": "The preview's catalog name, `{catalog}~{id}`: every read endpoint "
            "(templates, manifests, /helm/, the site at /catalogs/...) serves it by that name.",
        },
        "ref": {"type": "string"},
        "pull_request": {"type": ["integer", "null"]},
        "head_sha": _TEXT_OR_NULL,
        "fork": {"type": "boolean"},
        "state": {"type": "string", "enum": ["queued", "syncing", "ready", "failed"]},
        "commit": _TEXT_OR_NULL,
        "indexed_at": _TEXT_OR_NULL,
        "last_error": _TEXT_OR_NULL,
        "requested_by": {
            **_TEXT_OR_NULL,
            "description": "Who asked for the preview: an admin token's name, or `github` for "
            "a webhook. Only in answers to a caller with an admin token.",
        },
        "created_at": _TEXT_OR_NULL,
        "updated_at": _TEXT_OR_NULL,
        "expires_at": {"type": "string"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
PREVIEW_INPUT = {
    "type": "object",
    "required": ["ref"],
    "properties": {
        "ref": {
            "type": "string",
            "description": "A ref of the catalog's repository: `refs/pull/42/head`, or a branch.",
        },
        "id": {
            "type": "string",
            "pattern": PREVIEW_ID_RE.pattern,
            "description": "Defaults to `pr-<n>` for `refs/pull/<n>/head`, else the branch "
            "name made an id.",
        },
    },
}
REPORT = {
    "type": "object",
    "required": ["catalog", "preview", "ref", "summary", "templates", "links"],
    "properties": {
        "catalog": {"type": "string"},
        "preview": {"type": "string"},
        "summary": {"type": "object"},
        "templates": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "A template the change adds, changes or removes: its versions "
                "(with a diff of files against the base version and the questions changed), "
                "problems (file, line), upgrade checks (released_unchanged, version_bumped, "
                "upgrade_from: pass, fail or warn) and links to its pages.",
            },
        },
        "catalog_problems": {"type": "array"},
        "links": {"type": "object"},
    },
}


def preview_paths() -> dict[str, Any]:
    invalid = error_response("The ref or id is not valid; details name the field.")
    return {
        "/api/v1/catalogs/{catalog}/previews": {
            "get": {
                "summary": "The catalog's previews with their state (queued, syncing, ready, "
                "failed); with an admin token, who asked for each.",
                "security": PUBLIC_OR_ADMIN,
                "parameters": [CATALOG],
                "responses": {
                    "200": json_response(list_of(PREVIEW), "The previews."),
                    "304": {"description": "Not modified."},
                    "401": UNAUTHORIZED_READ,
                    "404": NOT_FOUND,
                },
            },
            "post": {
                "summary": "Create or refresh a preview of another ref of the catalog's "
                "repository (admin); its sync is queued. Past CATALOG_PREVIEW_MAX previews the "
                "least recently refreshed one is removed.",
                "security": ADMIN,
                "parameters": [CATALOG],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PREVIEW_INPUT}},
                },
                "responses": {
                    "200": json_response(PREVIEW, "Refreshed."),
                    "201": json_response(PREVIEW, "Created."),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                    "409": error_response(
                        "The catalog has no refs (a plain folder), or the same preview is being "
                        "changed by another request."
                    ),
                    "422": invalid,
                },
            },
        },
        "/api/v1/catalogs/{catalog}/previews/{preview}": {
            "get": {
                "summary": "One preview; with an admin token, who asked for it.",
                "security": PUBLIC_OR_ADMIN,
                "parameters": [CATALOG, PREVIEW_ID],
                "responses": {
                    "200": json_response(PREVIEW, "The preview."),
                    "304": {"description": "Not modified."},
                    "401": UNAUTHORIZED_READ,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "summary": "Remove a preview and everything it indexed (admin).",
                "security": ADMIN,
                "parameters": [CATALOG, PREVIEW_ID],
                "responses": {
                    "204": {"description": "Removed."},
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/v1/catalogs/{catalog}/previews/{preview}/report": {
            "get": {
                "summary": "What the preview changes against the catalog: JSON, or Markdown "
                "for a pull-request comment (Accept: text/markdown or format=markdown).",
                "parameters": [
                    CATALOG,
                    PREVIEW_ID,
                    param(
                        "format",
                        "query",
                        "json or markdown (else the Accept header decides).",
                        {"type": "string", "enum": ["json", "markdown"]},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The report.",
                        "content": {
                            "application/json": {"schema": REPORT},
                            "text/markdown": {"schema": {"type": "string"}},
                        },
                    },
                    "304": {"description": "Not modified (the ETag differs by form)."},
                    "400": BAD_PARAMETER,
                    "404": NOT_FOUND,
                },
            }
        },
    }


def with_previews(paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` with the preview endpoints, and ``include_previews`` on the lists that
    leave previews out."""
    for path in ("/api/v1/catalogs", "/api/v1/templates", "/api/v1/categories", "/api/v1/problems"):
        operation = paths[path]["get"]
        operation["parameters"] = [*operation["parameters"], INCLUDE_PREVIEWS]
    return paths | preview_paths()
