"""The OpenAPI 3.1 document of /api/v1. A test checks that every route is described here.

It lives beside the API, not inside it: the API serves it and the docs build reads it, and
neither importing it loads Flask. The parts: `common` (parameters and answers), `schemas`
(components), `manifests`, `admin` and `previews` (their paths); the read endpoints are
assembled here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from catalog_server.openapi.admin import admin_catalog, admin_catalogs, admin_paths
from catalog_server.openapi.common import (
    BAD_PARAMETER,
    CATALOG,
    NOT_FOUND,
    NOT_MODIFIED,
    PAGE,
    PER_PAGE,
    TEMPLATE,
    TEXT,
    VERSION,
    VERSION_TEXT,
    error_response,
    get_operation,
    json_response,
    list_of,
    param,
    raw_response,
    ref,
)
from catalog_server.openapi.manifests import manifest_paths
from catalog_server.openapi.previews import with_previews
from catalog_server.openapi.schemas import SCHEMAS
from catalog_server.openapi.search import SEARCH_QUERY, SORT


@cache
def openapi_document() -> dict[str, Any]:
    only_catalog = param("catalog", "query", "Only this catalog.", TEXT)
    text_query = [
        SEARCH_QUERY,
        SORT,
        only_catalog,
        param("kind", "query", "compose or helm.", {"type": "string", "enum": ["compose", "helm"]}),
        param("category", "query", "Only this category.", TEXT),
        param(
            "include_hidden",
            "query",
            "Also list templates marked catalog.cattle.io/hidden.",
            {"type": "boolean"},
        ),
        param(
            "kube_version",
            "query",
            "Only Helm charts with a version whose Kubernetes ranges "
            "(catalog.cattle.io/kube-version and Chart.yaml's kubeVersion, each where given) "
            "contain this version, read as Helm and Rancher read them (`>= 1.16.0-0 < "
            "1.30.0-0`).",
            VERSION_TEXT,
        ),
        param(
            "rancher_version",
            "query",
            "Only templates with a version whose catalog.cattle.io/rancher-version range "
            "contains this version or, without one, whose minimum/maximum_rancher_version "
            "surround it.",
            VERSION_TEXT,
        ),
        PAGE,
        PER_PAGE,
    ]
    facets = {
        "facets": {
            "type": "object",
            "properties": {
                "category": {"type": "object", "additionalProperties": {"type": "integer"}},
                "kind": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        }
    }
    markdown = raw_response(["text/markdown"], "The README, as Markdown.")
    paths = {
        "/api/v1/healthz": {
            "get": {
                "summary": "The process is up.",
                "responses": {"200": json_response({"type": "object"}, "Up.")},
            }
        },
        "/api/v1/readyz": {
            "get": {
                "summary": "The database is reachable and at least one catalog is indexed.",
                "responses": {
                    "200": json_response({"type": "object"}, "Ready."),
                    "503": error_response("Not ready."),
                },
            }
        },
        "/api/v1/catalogs": get_operation(
            "List catalogs.", json_response(list_of(ref("Catalog")), "The catalogs.")
        ),
        "/api/v1/catalogs/{catalog}": get_operation(
            "One catalog.",
            json_response(ref("Catalog"), "The catalog."),
            [CATALOG],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates": get_operation(
            "Search and browse templates.",
            json_response(list_of(ref("TemplateSummary"), True, facets), "A page of templates."),
            text_query,
            {"400": BAD_PARAMETER},
        ),
        "/api/v1/templates/{catalog}/{template}": get_operation(
            "A template with its versions (newest first) and problems.",
            json_response(ref("Template"), "The template."),
            [CATALOG, TEMPLATE],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/icon": get_operation(
            "The template's icon (served sandboxed).",
            raw_response(["image/svg+xml", "image/png", "image/jpeg"], "The icon."),
            [CATALOG, TEMPLATE],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/readme": get_operation(
            "The template's README.", markdown, [CATALOG, TEMPLATE], {"404": NOT_FOUND}
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}": get_operation(
            "A version: questions, files, upgrade range, Rancher version range.",
            json_response(ref("Version"), "The version."),
            [CATALOG, TEMPLATE, VERSION],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/values": get_operation(
            "A chart version's values document: values.yaml as written (what the install "
            "form edits) and its keys with type, default and the comment above each.",
            json_response(ref("Values"), "The values."),
            [CATALOG, TEMPLATE, VERSION],
            {"404": error_response("No such chart version, or a compose template (no values).")},
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/readme": get_operation(
            "The version's README.", markdown, [CATALOG, TEMPLATE, VERSION], {"404": NOT_FOUND}
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/files/{path}": get_operation(
            "A file of the version folder, raw, with a fitting content type (sandboxed).",
            raw_response(
                ["application/yaml", "text/plain", "application/octet-stream"], "The file."
            ),
            [CATALOG, TEMPLATE, VERSION, param("path", "path", "Path inside the version folder.")],
            {"404": NOT_FOUND},
        ),
        "/api/v1/categories": get_operation(
            "Categories with their template counts.",
            json_response(
                list_of(
                    {
                        "type": "object",
                        "required": ["name", "templates"],
                        "properties": {
                            "name": {"type": "string"},
                            "templates": {"type": "integer"},
                        },
                    }
                ),
                "The categories.",
            ),
            [only_catalog],
            {"400": BAD_PARAMETER},
        ),
        "/api/v1/problems": get_operation(
            "Problems found at the last sync.",
            json_response(list_of(ref("Problem"), True), "A page of problems."),
            [
                only_catalog,
                param("template", "query", "Only this template id.", TEXT),
                param(
                    "severity",
                    "query",
                    "error, warning or info.",
                    {"type": "string", "enum": ["error", "warning", "info"]},
                ),
                PAGE,
                PER_PAGE,
            ],
            {"400": BAD_PARAMETER},
        ),
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {
                    "200": json_response({"type": "object"}, "The OpenAPI document."),
                    "304": NOT_MODIFIED,
                },
            }
        },
    }
    paths |= manifest_paths(TEMPLATE, VERSION)
    paths["/api/v1/catalogs"].update(admin_catalogs())
    paths["/api/v1/catalogs/{catalog}"].update(admin_catalog())
    paths.update(admin_paths())
    paths = with_previews(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Catalog server API",
            "version": "1",
            "description": "Browse, search and fetch templates indexed from git catalogs. "
            'Every error answers {"error": {"code", "message", "details"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
