"""The OpenAPI 3.1 document of /api/v1. A test checks that every route is described here."""

from __future__ import annotations

from functools import cache
from typing import Any

from catalog_server.loaders.model import INSTALLABLE_TYPES, TEMPLATE_TYPES
from catalog_server.manifests.model import TARGETS
from catalog_server.manifests.upgrades import LOOSE_VERSION_PATTERN


def _nullable(type_: str) -> dict[str, Any]:
    return {"type": [type_, "null"]}


TEMPLATE_TYPE = {
    "type": "string",
    "enum": list(TEMPLATE_TYPES),
    "description": "What the template is; only "
    + " and ".join(sorted(INSTALLABLE_TYPES))
    + " have install manifests. "
    + "; ".join(f"`{name}`: {text}" for name, text in TEMPLATE_TYPES.items())
    + ".",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _raw(media_types: list[str], description: str) -> dict[str, Any]:
    # Raw text; a YAML file, read as YAML, may be any value.
    return {
        "description": description,
        "content": {
            m: {"schema": {} if m == "application/yaml" else {"type": "string"}}
            for m in media_types
        },
    }


def _param(name: str, where: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


CATALOG = _param("catalog", "path", "Catalog name.")
TEMPLATE = _param("template", "path", "Template id (`neuvector`, `infra*ipsec`, `charts*grafana`).")
VERSION = _param("version", "path", "Version string, or the version folder's name.")
PAGE = _param(
    "page", "query", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": 1000000}
)
# A version as Helm's semver library reads it (1.29.3, v1.28.2+rke2r1, 1.30.0-rc.1).
_IDENT = r"(0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
VERSION_TEXT = {
    "type": "string",
    "maxLength": 200,
    "pattern": rf"^v?[0-9]{{1,19}}(\.[0-9]{{1,19}}){{0,2}}(-{_IDENT}(\.{_IDENT})*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$",
}
# Free-text query parameters: printable text, at most 200 characters.
TEXT = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00-\\x1f]*$"}
PER_PAGE = _param(
    "per_page", "query", "Items per page.", {"type": "integer", "minimum": 1, "maximum": 100}
)
NOT_FOUND = _error("No such catalog, template, version or file.")
BAD_PARAMETER = _error("A parameter is malformed.")
NOT_MODIFIED = {"description": "Not modified: the ETag sent in If-None-Match still holds."}

LINKS = {"type": "object", "additionalProperties": _nullable("string")}
# A version's Kubernetes and Rancher version ranges, as written.
VERSION_RANGES = {
    "kube_version": {
        **_nullable("string"),
        "description": "catalog.cattle.io/kube-version: a Kubernetes version range.",
    },
    "chart_kube_version": {
        **_nullable("string"),
        "description": "Chart.yaml's kubeVersion: a Kubernetes version range.",
    },
    "rancher_version": {
        **_nullable("string"),
        "description": "catalog.cattle.io/rancher-version: a Rancher version range.",
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {},
                },
            }
        },
    },
    "Catalog": {
        "type": "object",
        "required": ["name", "url", "commit", "indexed_at", "templates", "problems"],
        "properties": {
            "name": {"type": "string"},
            "url": {"type": "string", "description": "Source URL, credentials removed."},
            "branch": _nullable("string"),
            "subdir": _nullable("string"),
            "commit": _nullable("string"),
            "indexed_at": _nullable("string"),
            "last_attempt_at": _nullable("string"),
            "last_error": _nullable("string"),
            "last_sync_status": _nullable("string"),
            "sync_state": {"type": "string", "enum": ["idle", "queued", "syncing", "failed"]},
            "failures": {"type": "integer"},
            "refresh_interval": {"type": "integer"},
            "managed_by": {"type": "string", "enum": ["file", "api"]},
            "templates": {"type": "integer"},
            "problems": {"type": "integer"},
            "links": LINKS,
        },
    },
    "TemplateSummary": {
        "type": "object",
        "required": [
            "catalog",
            "id",
            "kind",
            "type",
            "name",
            "categories",
            "version_count",
            "links",
        ],
        "properties": {
            "catalog": {"type": "string"},
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["compose", "helm"]},
            "type": TEMPLATE_TYPE,
            "name": {"type": "string"},
            "description": _nullable("string"),
            "categories": {"type": "array", "items": {"type": "string"}},
            "base": _nullable("string"),
            "folder": {"type": "string"},
            "default_version": _nullable("string"),
            "latest_version": _nullable("string"),
            "version_count": {"type": "integer"},
            "hidden": {
                "type": "boolean",
                "description": "catalog.cattle.io/hidden: left out of lists unless "
                "include_hidden; still served and installable by id.",
            },
            "flags": {
                "type": "object",
                "description": "What Rancher's catalog.cattle.io annotations say of the "
                "newest version: certified, experimental, deprecated, featured, type, os.",
            },
            "links": LINKS,
        },
    },
    "Problem": {
        "type": "object",
        "required": ["rule", "severity", "message"],
        "properties": {
            "catalog": {"type": "string"},
            "template": _nullable("string"),
            "version": _nullable("string"),
            "file": _nullable("string"),
            "line": _nullable("integer"),
            "column": _nullable("integer"),
            "rule": {"type": "string"},
            "severity": {"type": "string", "enum": ["error", "warning", "info"]},
            "message": {"type": "string"},
            "blocking": {
                "type": "boolean",
                "description": "True when the problem keeps the version (or template) from "
                "being served; its last good state is served instead.",
            },
        },
    },
    "VersionSummary": {
        "type": "object",
        "required": ["version", "folder", "links"],
        "properties": {
            "version": {"type": "string"},
            "folder": {"type": "string"},
            "revision": _nullable("integer"),
            "app_version": _nullable("string"),
            "upgrade_from": _nullable("string"),
            "minimum_rancher_version": _nullable("string"),
            "maximum_rancher_version": _nullable("string"),
            **VERSION_RANGES,
            "created": _nullable("string"),
            "links": LINKS,
        },
    },
}
SCHEMAS["Template"] = {
    "allOf": [
        _ref("TemplateSummary"),
        {
            "type": "object",
            "required": ["versions", "problems"],
            "properties": {
                "maintainer": _nullable("string"),
                "license": _nullable("string"),
                "project_url": _nullable("string"),
                "labels": {"type": "object"},
                "versions": {"type": "array", "items": _ref("VersionSummary")},
                "problems": {"type": "array", "items": _ref("Problem")},
            },
        },
    ]
}
# What names a version in the answers about it.
VERSION_NAME = {name: {"type": "string"} for name in ("catalog", "template", "version")}
SCHEMAS["Version"] = {
    "type": "object",
    "required": [
        "catalog",
        "template",
        "type",
        "version",
        "questions",
        "files",
        "links",
        "problems",
    ],
    "properties": {
        **VERSION_NAME,
        "type": TEMPLATE_TYPE,
        "folder": {"type": "string"},
        "revision": _nullable("integer"),
        "name": _nullable("string"),
        "description": _nullable("string"),
        "app_version": _nullable("string"),
        "minimum_rancher_version": _nullable("string"),
        "maximum_rancher_version": _nullable("string"),
        "upgrade_from": _nullable("string"),
        **VERSION_RANGES,
        "created": _nullable("string"),
        "questions": {
            "type": "array",
            "items": {"type": "object"},
            "description": "The questions: the version's own, else (a chart without a "
            "questions file) derived from its values.schema.json.",
        },
        "questions_source": {
            "type": ["string", "null"],
            "enum": [
                "rancher-compose.yml",
                "questions.yml",
                "questions.yaml",
                "values.schema.json",
                None,
            ],
            "description": "Where the questions come from; null when the version asks none.",
        },  # fmt: skip
        "chart": {"type": ["object", "null"], "description": "Chart.yaml, for Helm charts."},
        "icon_url": {
            **_nullable("string"),
            "description": "The version's icon: its http(s) URL, or this server's copy of a "
            "catalog file the chart names (file://...).",
        },
        "rancher": {
            "type": "object",
            "description": "Rancher's catalog.cattle.io annotations, read: display_name, "
            "hidden, kube_version, rancher_version, certified, experimental, deprecated, "
            "featured, type, os, permits_os, upstream_version, release_name, namespace, "
            "requests_cpu, requests_memory, auto_install, other.",
        },
        "artifacthub": {
            "type": "object",
            "description": "Artifact Hub's artifacthub.io annotations, read: changes, "
            "images, license, links, maintainers, prerelease, contains_security_updates, "
            "recommendations, screenshots, sign_key, category, other.",
        },
        "changes": {
            "type": "array",
            "description": "The version's change log (artifacthub.io/changes).",
            "items": {
                "type": "object",
                "required": ["description"],
                "properties": {
                    "kind": {
                        "type": ["string", "null"],
                        "description": "added, changed, deprecated, removed, fixed or security.",
                    },
                    "description": {"type": "string"},
                    "links": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "changelog": {
            **_nullable("string"),
            "description": "CHANGELOG.md of the version folder, as Markdown.",
        },
        "images": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Helm charts: the container images the chart runs with its default "
            "values (every container and init container of the rendered manifests), or, where "
            "it does not render, the images its values.yaml names. Empty for compose templates.",
        },
        "images_source": {
            "type": ["string", "null"],
            "enum": ["rendered", "values", None],
            "description": "`rendered` (the Helm SDK rendered the chart) or `values`.",
        },
        "images_note": {
            "type": ["string", "null"],
            "description": "Why the images were read from the values.",
        },
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "size", "url"],
                "properties": {
                    "path": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": _nullable("string"),
                    "url": {"type": "string"},
                },
            },
        },
        "links": LINKS,
        "problems": {"type": "array", "items": _ref("Problem")},
    },
}


def _list_of(item: dict[str, Any], paged: bool = False, extra: dict | None = None) -> dict:
    props: dict[str, Any] = {
        "items": {"type": "array", "items": item},
        "total": {"type": "integer"},
    }
    required = ["items", "total"]
    if paged:
        props |= {"page": {"type": "integer"}, "per_page": {"type": "integer"}}
        required += ["page", "per_page"]
    props |= extra or {}
    return {"type": "object", "required": required + list(extra or {}), "properties": props}


def _get(summary: str, ok: dict, params: list | None = None, errors: dict | None = None):
    responses = {"200": ok, "304": NOT_MODIFIED}
    responses |= errors or {}
    return {"get": {"summary": summary, "parameters": params or [], "responses": responses}}


MANIFEST_FILE = {
    "type": "object",
    "required": ["path", "content"],
    "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
}
SCHEMAS["Manifest"] = {
    "type": "object",
    "required": ["files", "commands", "warnings", "notes"],
    "properties": {
        "files": {"type": "array", "items": MANIFEST_FILE},
        "commands": {"type": "array", "items": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "notes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Compose target: every conversion from the file's own format to "
            "the Compose Specification, as `file:line: what changed` (`net` became "
            "`network_mode`, a Rancher-only key left out, ...).",
        },
    },
}
VALUE_KEY = {
    "type": "object",
    "required": ["key", "type", "default", "description", "line"],
    "properties": {
        "key": {"type": "string", "description": 'Dotted path; names with dots quoted ("a.b").'},
        "type": {
            "type": "string",
            "enum": ["string", "int", "float", "bool", "null", "list", "object"],
        },
        "default": {"type": "string", "description": "The value as JSON, shortened."},
        "description": {"type": "string", "description": "The comment above the key."},
        "line": _nullable("integer"),
    },
}
SCHEMAS["Values"] = {
    "type": "object",
    "required": ["catalog", "template", "version", "file", "text", "schema", "keys"],
    "properties": {
        **VERSION_NAME,
        "file": {"type": ["string", "null"], "description": "values.yaml, or null without one."},
        "text": {"type": "string", "description": "values.yaml as written, comments included."},
        "schema": {"type": "boolean", "description": "The chart has a values.schema.json."},
        "questions_source": _nullable("string"),
        "keys": {"type": "array", "items": VALUE_KEY},
        "total_keys": {"type": "integer", "description": "Keys documented, before the cap."},
        "left_to_values": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Schema paths no derived question asks (lists, maps, untyped).",
        },
    },
}
SCHEMAS["ManifestRequest"] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "answers": {
            "type": "object",
            "description": "Answers by question variable; Helm variables may be dotted "
            "(`ingress.tls.enabled`). Unanswered questions take their defaults. For a Helm "
            "chart, an answer for a variable no question declares is refused (422): set it "
            "in `values`.",
        },
        "values": {
            "type": ["string", "object"],
            "description": "Helm charts: raw values, as a YAML or JSON document (text, at most "
            "1 MiB; errors name their line) or an object, merged over the chart's values.yaml "
            "as `helm install -f` does (null removes a key). The only way to set values no "
            "question declares; a value for a declared variable is that question's answer "
            "and checked as such. The manifest's warnings name the raw values applied. "
            "Compose templates take none.",
        },
        "release": {
            "type": "string",
            "description": "Release (stack) name: a DNS label of at most 53 characters.",
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "maxLength": 53,
        },
        "namespace": {
            "type": "string",
            "description": "Kubernetes namespace (Helm charts).",
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "maxLength": 63,
        },
        "format": {"type": "string", "enum": ["json", "yaml", "tar"], "default": "json"},
        "target": {
            "type": "string",
            "enum": list(TARGETS),
            "default": "compose",
            "description": "Compose templates only. `compose`: a docker-compose.yml that "
            "today's `docker compose` accepts, converted from the file's own format (v1, "
            "2.x, 3.x) with every conversion in `notes`, and a .env. `rancher`: the files "
            "as authored for Rancher 1.x (the .tpl rendered, answers interpolated), "
            "rancher-compose.yml beside. A chart refuses it (400).",
        },
    },
}
SCHEMAS["Upgrades"] = {
    "type": "object",
    "required": ["version", "items", "total", "warnings"],
    "properties": {
        "version": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["version", "links"],
                "properties": {
                    "version": {"type": "string"},
                    "folder": {"type": "string"},
                    "app_version": _nullable("string"),
                    "upgrade_from": _nullable("string"),
                    "minimum_rancher_version": _nullable("string"),
                    "maximum_rancher_version": _nullable("string"),
                    "links": LINKS,
                },
            },
        },
        "total": {"type": "integer"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}


def _manifest_paths(template: dict, version: dict) -> dict[str, Any]:
    """The install-manifest, upgrade and diff endpoints (catalog_server.api.manifests)."""
    base = "/api/v1/templates/{catalog}/{template}/versions/{version}"
    params = [CATALOG, template, version]
    return {
        f"{base}/manifest": {
            "post": {
                "summary": "Install manifest of a version for the given answers: the resolved "
                "compose file and .env (or, with target rancher, the compose file and "
                "rancher-compose.yml as authored), or a Helm values file with the rendered "
                "Kubernetes manifests, plus the commands to install.",
                "parameters": params,
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("ManifestRequest")}},
                },
                "responses": {
                    "200": {
                        "description": "The files (json), the same as a YAML map (yaml), or a "
                        ".tar.gz of the files (tar).",
                        "content": {
                            "application/json": {"schema": _ref("Manifest")},
                            "application/yaml": {
                                "schema": {
                                    "type": "object",
                                    "required": ["files", "commands", "warnings"],
                                    "properties": {
                                        "files": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "commands": {"type": "array", "items": {"type": "string"}},
                                        "warnings": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            },
                            "application/gzip": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("The body is malformed (bad_request, bad_parameter)."),
                    "404": NOT_FOUND,
                    "422": _error(
                        "invalid_answers (details: {VAR: [message]}; also for undeclared Helm "
                        "variables), invalid_values (the values document; details: errors: "
                        "[{line, column, path, message}], answers: {VAR: [message]}), "
                        "render_error (details: file, line), invalid_compose (details: file, "
                        "format, errors: [{path, line, rule, message}]: what is invalid even "
                        "after conversion), or not_installable (details: type): the template "
                        "is not a stack or chart (a machine driver, Kubernetes manifests, an "
                        "environment template)."
                    ),
                    "501": _error(
                        "The Helm SDK is not installed on this platform (helm_sdk_missing)."
                    ),
                },
            }
        },
        f"{base}/upgrades": _get(
            "Versions this version can upgrade to, newest first: newer, accepting this "
            "version in their upgrade_from range, and (with rancher_version) fitting Rancher.",
            _json(_ref("Upgrades"), "The upgrade targets."),
            [
                *params,
                _param(
                    "rancher_version",
                    "query",
                    "Only targets supporting this Rancher version.",
                    {
                        "type": "string",
                        "maxLength": 100,
                        "pattern": f"^{LOOSE_VERSION_PATTERN}$",
                    },
                ),
            ],  # fmt: skip
            {"400": BAD_PARAMETER, "404": NOT_FOUND},
        ),
        f"{base}/diff/{{other}}": _get(
            "Unified diff of this version's files against another version's.",
            _raw(["text/x-diff"], "The diff (empty when the files are the same)."),
            [*params, _param("other", "path", "The other version (string or folder).")],
            {"404": NOT_FOUND},
        ),
    }


@cache
def openapi_document() -> dict[str, Any]:
    text_query = [
        _param(
            "q",
            "query",
            "Words that must all appear in the id, name, description, categories or keywords.",
            TEXT,
        ),
        _param("catalog", "query", "Only this catalog.", TEXT),
        _param(
            "kind", "query", "compose or helm.", {"type": "string", "enum": ["compose", "helm"]}
        ),
        _param("category", "query", "Only this category.", TEXT),
        _param(
            "include_hidden",
            "query",
            "Also list templates marked catalog.cattle.io/hidden.",
            {"type": "boolean"},
        ),
        _param(
            "kube_version",
            "query",
            "Only Helm charts with a version whose Kubernetes ranges "
            "(catalog.cattle.io/kube-version and Chart.yaml's kubeVersion, each where given) "
            "contain this version, read as Helm and Rancher read them (`>= 1.16.0-0 < "
            "1.30.0-0`).",
            VERSION_TEXT,
        ),
        _param(
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
    markdown = _raw(["text/markdown"], "The README, as Markdown.")
    paths = {
        "/api/v1/healthz": {
            "get": {
                "summary": "The process is up.",
                "responses": {"200": _json({"type": "object"}, "Up.")},
            }
        },
        "/api/v1/readyz": {
            "get": {
                "summary": "The database is reachable and at least one catalog is indexed.",
                "responses": {
                    "200": _json({"type": "object"}, "Ready."),
                    "503": _error("Not ready."),
                },
            }
        },
        "/api/v1/catalogs": _get(
            "List catalogs.", _json(_list_of(_ref("Catalog")), "The catalogs.")
        ),
        "/api/v1/catalogs/{catalog}": _get(
            "One catalog.", _json(_ref("Catalog"), "The catalog."), [CATALOG], {"404": NOT_FOUND}
        ),
        "/api/v1/templates": _get(
            "Search and browse templates.",
            _json(_list_of(_ref("TemplateSummary"), True, facets), "A page of templates."),
            text_query,
            {"400": BAD_PARAMETER},
        ),
        "/api/v1/templates/{catalog}/{template}": _get(
            "A template with its versions (newest first) and problems.",
            _json(_ref("Template"), "The template."),
            [CATALOG, TEMPLATE],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/icon": _get(
            "The template's icon (served sandboxed).",
            _raw(["image/svg+xml", "image/png", "image/jpeg"], "The icon."),
            [CATALOG, TEMPLATE],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/readme": _get(
            "The template's README.", markdown, [CATALOG, TEMPLATE], {"404": NOT_FOUND}
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}": _get(
            "A version: questions, files, upgrade range, Rancher version range.",
            _json(_ref("Version"), "The version."),
            [CATALOG, TEMPLATE, VERSION],
            {"404": NOT_FOUND},
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/values": _get(
            "A chart version's values document: values.yaml as written (what the install "
            "form edits) and its keys with type, default and the comment above each.",
            _json(_ref("Values"), "The values."),
            [CATALOG, TEMPLATE, VERSION],
            {"404": _error("No such chart version, or a compose template (no values).")},
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/readme": _get(
            "The version's README.", markdown, [CATALOG, TEMPLATE, VERSION], {"404": NOT_FOUND}
        ),
        "/api/v1/templates/{catalog}/{template}/versions/{version}/files/{path}": _get(
            "A file of the version folder, raw, with a fitting content type (sandboxed).",
            _raw(["application/yaml", "text/plain", "application/octet-stream"], "The file."),
            [CATALOG, TEMPLATE, VERSION, _param("path", "path", "Path inside the version folder.")],
            {"404": NOT_FOUND},
        ),
        "/api/v1/categories": _get(
            "Categories with their template counts.",
            _json(
                _list_of(
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
            [text_query[1]],
            {"400": BAD_PARAMETER},
        ),
        "/api/v1/problems": _get(
            "Problems found at the last sync.",
            _json(_list_of(_ref("Problem"), True), "A page of problems."),
            [
                text_query[1],
                _param("template", "query", "Only this template id.", TEXT),
                _param(
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
                    "200": _json({"type": "object"}, "The OpenAPI document."),
                    "304": NOT_MODIFIED,
                },
            }
        },
    }
    paths |= _manifest_paths(TEMPLATE, VERSION)
    paths["/api/v1/catalogs"].update(_admin_catalogs())
    paths["/api/v1/catalogs/{catalog}"].update(_admin_catalog())
    paths.update(_admin_paths())
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


# --- admin endpoints and webhooks ------------------------------------------------------------

UNAUTHORIZED = _error("No admin token, a wrong one or a revoked one; nothing changed.")
ADMIN = [{"admin": []}]
_REF = {
    "type": ["object", "null"],
    "description": "{env: NAME} or {file: /path}: where the secret comes from; never the "
    "secret itself. Over the API, as for credentials: the prefix and folder rules.",
}
CATALOG_INPUT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Lower-case letters, digits and '-'."},
        "url": {
            "type": "string",
            "description": "https://, ssh://, git@host:path or git://; no credentials, query "
            "or fragment in the URL, no spaces or control characters. The host must resolve "
            "to public addresses only (not loopback, link-local, private or this server's) "
            "unless CATALOG_ALLOW_PRIVATE_URLS is set.",
        },
        "branch": _nullable("string"),
        "subdir": _nullable("string"),
        "refresh_interval": {"type": "integer", "minimum": 10, "maximum": 86400},
        "credentials": {
            "type": ["object", "null"],
            "description": "username, and password_env or password_file (https:// URLs only), "
            "or ssh_key_file (ssh URLs only): references, never values. Variables must start "
            "with CATALOG_API_SECRET_ENV_PREFIX (CATALOG_GIT_), files lie in "
            "CATALOG_API_SECRET_DIR.",
        },
        "webhook_secret": _REF,
    },
}
INVALID = _error("A field is not valid; details name each field with its messages.")
REPLAYED = _error(
    "This signed body was accepted before (code replayed): a webhook body is accepted once "
    "(for 30 days), so send something unique in it, such as the commit or a time."
)


def _admin_catalogs() -> dict:
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
                "201": _json(_ref("Catalog"), "The new catalog."),
                "400": BAD_PARAMETER,
                "401": UNAUTHORIZED,
                "409": _error("A catalog with that name exists."),
                "422": INVALID,
            },
        }
    }


def _admin_catalog() -> dict:
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
                "200": _json(_ref("Catalog"), "The changed catalog."),
                "400": BAD_PARAMETER,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "409": _error("The catalog is defined in the catalogs file."),
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
                "409": _error("The catalog is defined in the catalogs file."),
            },
        },
    }


def _admin_paths() -> dict:
    queued = _json(
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
    signature = _param(
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
                    "202": _json({"type": "object"}, "Queued; the catalog shows sync_state."),
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
                    "200": _json(_list_of({"type": "object"}, True), "A page of the audit log."),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/v1/hooks/github": {
            "post": {
                "summary": "GitHub push webhook: queues a refresh of the catalogs of the pushed "
                "repository and branch whose secret verifies the signature.",
                "parameters": [signature],
                "requestBody": hook_body,
                "responses": {
                    "200": _json({"type": "object"}, "A ping, answered."),
                    "202": queued,
                    "400": BAD_PARAMETER,
                    "401": _error("No catalog accepts the signature; nothing queued."),
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
                    "401": _error("Bad or missing signature; nothing queued."),
                    "409": REPLAYED,
                },
            }
        },
    }
