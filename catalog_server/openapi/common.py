"""Building blocks of the OpenAPI document: parameters, answers and small schemas."""

from __future__ import annotations

from typing import Any

from catalog_server.loaders.model import INSTALLABLE_TYPES, TEMPLATE_TYPES, VERSION_TEXT_FIELDS


def nullable(type_: str) -> dict[str, Any]:
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


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_response(description: str) -> dict[str, Any]:
    return json_response(ref("Error"), description)


def raw_response(media_types: list[str], description: str) -> dict[str, Any]:
    # Raw text; a YAML file, read as YAML, may be any value.
    return {
        "description": description,
        "content": {
            m: {"schema": {} if m == "application/yaml" else {"type": "string"}}
            for m in media_types
        },
    }


def param(name: str, where: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


CATALOG = param("catalog", "path", "Catalog name.")
TEMPLATE = param("template", "path", "Template id (`neuvector`, `infra*ipsec`, `charts*grafana`).")
VERSION = param("version", "path", "Version string, or the version folder's name.")
PAGE = param(
    "page", "query", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": 1000000}
)
# A version as Helm's semver library reads it (1.29.3, v1.28.2+rke2r1, 1.30.0-rc.1).
IDENT = r"(0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
VERSION_TEXT = {
    "type": "string",
    "maxLength": 200,
    "pattern": rf"^v?[0-9]{{1,19}}(\.[0-9]{{1,19}}){{0,2}}(-{IDENT}(\.{IDENT})*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$",
}
# Free-text query parameters: printable text, at most 200 characters.
TEXT = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00-\\x1f]*$"}
PER_PAGE = param(
    "per_page", "query", "Items per page.", {"type": "integer", "minimum": 1, "maximum": 100}
)
NOT_FOUND = error_response("No such catalog, template, version or file.")
BAD_PARAMETER = error_response("A parameter is malformed.")
NOT_MODIFIED = {"description": "Not modified: the ETag sent in If-None-Match still holds."}

LINKS = {"type": "object", "additionalProperties": nullable("string")}
# What a version says of itself as written (`loaders.model.VERSION_TEXT_FIELDS`); the
# Kubernetes and Rancher version ranges are described.
_RANGE_DESCRIPTIONS = {
    "kube_version": "catalog.cattle.io/kube-version: a Kubernetes version range.",
    "chart_kube_version": "Chart.yaml's kubeVersion: a Kubernetes version range.",
    "rancher_version": "catalog.cattle.io/rancher-version: a Rancher version range.",
}
VERSION_TEXT_PROPERTIES = {
    name: {**nullable("string"), "description": _RANGE_DESCRIPTIONS[name]}
    if name in _RANGE_DESCRIPTIONS
    else nullable("string")
    for name in VERSION_TEXT_FIELDS
}


def list_of(item: dict[str, Any], paged: bool = False, extra: dict | None = None) -> dict:
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


def get_operation(summary: str, ok: dict, params: list | None = None, errors: dict | None = None):
    responses = {"200": ok, "304": NOT_MODIFIED}
    responses |= errors or {}
    return {"get": {"summary": summary, "parameters": params or [], "responses": responses}}
