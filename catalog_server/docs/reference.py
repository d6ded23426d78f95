"""Reference pages generated from the code: the lint rules and the HTTP API.

The lint rule page is written from the rule registry (``catalog_server.validation.RULES``)
and the API page from the OpenAPI document (``catalog_server.openapi``), so neither can
drift from what the server does. Both are plain Markdown with front matter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import groupby
from typing import Any

import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# The Helm chart repository is not JSON, so it is outside the OpenAPI document; a test
# checks these against the routes the app serves.
_CATALOG = {"name": "catalog", "in": "path", "required": True, "description": "Catalog name."}
_FILENAME = {"name": "filename", "in": "path", "required": True, "description": "name-version.tgz"}
HELM_PATHS: dict[str, Any] = {
    "/helm/{catalog}/index.yaml": {
        "get": {
            "summary": "The catalog's Helm repository index: every Helm chart version that "
            "could be packaged, with relative chart URLs. Point `helm repo add` at "
            "`/helm/{catalog}`.",
            "parameters": [_CATALOG],
            "responses": {
                "200": {"description": "index.yaml", "content": {"application/yaml": {}}},
                "304": {"description": "Not modified."},
                "404": {"description": "No such catalog."},
            },
        }
    },
    "/helm/{catalog}/charts/{filename}": {
        "get": {
            "summary": "A chart archive, `<name>-<version>.tgz`, byte for byte the one the "
            "index's digest was taken of.",
            "parameters": [
                _CATALOG,
                _FILENAME,
            ],
            "responses": {
                "200": {"description": "The chart.", "content": {"application/gzip": {}}},
                "304": {"description": "Not modified."},
                "404": {"description": "No such chart version."},
            },
        }
    },
    "/helm/{catalog}/icons/{filename}": {
        "get": {
            "summary": "A chart's icon, `<template>.<svg|png|jpg|gif>`, where its Chart.yaml "
            "names a catalog file (`file://assets/logos/x.svg`); index.yaml points here. "
            "Served sandboxed.",
            "parameters": [
                _CATALOG,
                {"name": "filename", "in": "path", "required": True, "description": "id.ext"},
            ],
            "responses": {
                "200": {"description": "The icon.", "content": {"image/svg+xml": {}}},
                "304": {"description": "Not modified."},
                "404": {"description": "No such icon."},
            },
        }
    },
    "/helm/{catalog}/artifacthub-repo.yml": {
        "get": {
            "summary": "The catalog's `artifacthub-repo.yml` as written (from its root or the "
            "folder holding its charts), so Artifact Hub can list the repository.",
            "parameters": [_CATALOG],
            "responses": {
                "200": {"description": "The file.", "content": {"application/yaml": {}}},
                "304": {"description": "Not modified."},
                "404": {"description": "The catalog has none, or it is malformed."},
            },
        }
    },
    "/helm/{catalog}/charts/{filename}.prov": {
        "get": {
            "summary": "The provenance file of a chart archive (`helm pull --verify`, "
            "`helm verify`), made at sync with the catalog's signing key.",
            "parameters": [
                _CATALOG,
                _FILENAME,
            ],
            "responses": {
                "200": {
                    "description": "A PGP clear-signed document.",
                    "content": {"text/plain": {}},
                },
                "304": {"description": "Not modified."},
                "404": {"description": "No such chart version, or the catalog is not signed."},
            },
        }
    },
    "/helm/{catalog}/public-key.asc": {
        "get": {
            "summary": "The public key that signs the catalog's charts, ASCII-armored; "
            "`gpg --dearmor` makes it a keyring for `helm --verify --keyring`.",
            "parameters": [_CATALOG],
            "responses": {
                "200": {"description": "The key.", "content": {"application/pgp-keys": {}}},
                "304": {"description": "Not modified."},
                "404": {"description": "No such catalog, or it is not signed."},
            },
        }
    },
}

# The OCI registry (pull side of the OCI distribution spec), also outside the OpenAPI
# document; the same test checks these against the routes.
_REPOSITORY = [
    _CATALOG,
    {"name": "chart", "in": "path", "required": True, "description": "Chart name."},
]
_OCI_ERROR = '`{"errors": [{"code", "message", "detail"}]}`'
_UNSUPPORTED = {
    "summary": "Pushing and deleting are not supported: charts are published through git.",
    "responses": {"405": {"description": f"{_OCI_ERROR}, code `UNSUPPORTED`."}},
}
_PAGING = [
    {"name": "n", "in": "query", "required": False, "description": "At most this many."},
    {"name": "last", "in": "query", "required": False, "description": "Start after this."},
]
OCI_PATHS: dict[str, Any] = {
    "/v2/": {
        "get": {
            "summary": "The registry check: 200 with `Docker-Distribution-API-Version: "
            "registry/2.0`.",
            "responses": {"200": {"description": "`{}`"}},
        },
        **{method: _UNSUPPORTED for method in ("post", "put", "patch", "delete")},
    },
    "/v2/{catalog}/{chart}/manifests/{reference}": {
        "get": {
            "summary": "The OCI image manifest of a chart version, by tag (the version, `+` "
            "written `_`) or digest; HEAD gives the headers alone. `helm pull "
            "oci://HOST/{catalog}/{chart} --version V` reads it.",
            "parameters": [
                *_REPOSITORY,
                {
                    "name": "reference",
                    "in": "path",
                    "required": True,
                    "description": "Tag or sha256 digest.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The manifest, with `Docker-Content-Digest`.",
                    "content": {"application/vnd.oci.image.manifest.v1+json": {}},
                },
                "304": {"description": "Not modified (the ETag is the digest)."},
                "400": {"description": f"{_OCI_ERROR}, code `DIGEST_INVALID`."},
                "404": {"description": f"{_OCI_ERROR}, code `NAME_UNKNOWN` or `MANIFEST_UNKNOWN`."},
            },
        }
    },
    "/v2/{catalog}/{chart}/blobs/{digest}": {
        "get": {
            "summary": "A blob: the chart's config, its archive (the one `/helm/` serves) "
            "or its provenance file. `Range` requests answer 206.",
            "parameters": [
                *_REPOSITORY,
                {"name": "digest", "in": "path", "required": True, "description": "sha256 digest."},
            ],
            "responses": {
                "200": {
                    "description": "The blob, with `Docker-Content-Digest`.",
                    "content": {"application/octet-stream": {}},
                },
                "206": {"description": "The requested range."},
                "304": {"description": "Not modified (the ETag is the digest)."},
                "404": {"description": f"{_OCI_ERROR}, code `NAME_UNKNOWN` or `BLOB_UNKNOWN`."},
                "416": {"description": "The range is outside the blob."},
            },
        }
    },
    "/v2/{catalog}/{chart}/tags/list": {
        "get": {
            "summary": "The repository's tags, sorted; with `n`, a `Link` header names the "
            "next page.",
            "parameters": [*_REPOSITORY, *_PAGING],
            "responses": {
                "200": {"description": '`{"name", "tags"}`', "content": {"application/json": {}}},
                "404": {"description": f"{_OCI_ERROR}, code `NAME_UNKNOWN`."},
            },
        }
    },
    "/v2/_catalog": {
        "get": {
            "summary": "Every repository (`{catalog}/{chart}`), sorted, paged as tags are.",
            "parameters": _PAGING,
            "responses": {
                "200": {"description": '`{"repositories"}`', "content": {"application/json": {}}},
            },
        }
    },
    "/v2/{rest}": {
        "get": {
            "summary": "Any other read names no repository.",
            "responses": {"404": {"description": f"{_OCI_ERROR}, code `NAME_UNKNOWN`."}},
        },
        **{method: _UNSUPPORTED for method in ("post", "put", "patch", "delete")},
    },
}


def front_matter(title: str, **meta: Any) -> str:
    """YAML front matter for an mkdocs page, safely quoted whatever the title holds."""
    return "---\n" + yaml.safe_dump({"title": title, **meta}, sort_keys=False) + "---\n\n"


def md_text(text: Any) -> str:
    """Text made inert in Markdown: HTML escaped, and the characters Markdown acts on
    inside a table cell or a paragraph backslash-escaped."""
    out = str(text if text is not None else "")
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "\\`*_[]|#":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def md_code(text: Any) -> str:
    """Inline code that survives a table cell: backticks and pipes cannot break out."""
    value = str(text).replace("|", "\\|").replace("`", "'")
    return f"`{value}`"


def lint_rules_page(rules: Mapping[str, Any]) -> str:
    """The lint rule reference: every registered rule, by family, with its severity."""
    lines = [front_matter("Lint rules")]
    lines.append("# Lint rules\n")
    lines.append(
        "Every problem that `catalog-server sync` records and `catalog-server lint` reports "
        "carries one of these rule ids. *Loader* rules come from reading the files; the "
        "others from validation. Rules starting with `policy.` can be given another "
        "severity, or turned `off`, in the catalog's `.catalog-lint.yaml`. "
        "`catalog-server lint --list-rules` prints the same list.\n"
    )
    ordered = sorted(rules.values(), key=lambda r: r.id)
    for family, group in groupby(ordered, key=lambda r: r.id.split(".", 1)[0]):
        lines.append(f"## {md_text(family)}\n")
        lines.append("| rule | severity | from | what it means |")
        lines.append("| --- | --- | --- | --- |")
        for rule in group:
            lines.append(
                f"| {md_code(rule.id)} | {md_text(rule.severity)} | {md_text(rule.owner)} "
                f"| {md_text(rule.description)} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def api_routes(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in an OpenAPI document, in document order."""
    return [
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in HTTP_METHODS
        if method in item
    ]


def _schema_text(schema: Mapping[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    extra = []
    if "enum" in schema:
        extra.append("one of " + ", ".join(map(str, schema["enum"])))
    for key in ("minimum", "maximum", "maxLength"):
        if key in schema:
            extra.append(f"{key} {schema[key]}")
    return f"{kind} ({'; '.join(extra)})" if extra else str(kind)


def _operation(method: str, path: str, op: Mapping[str, Any]) -> list[str]:
    lines = [f"### {method} `{path}`\n", md_text(op.get("summary", "")) + "\n"]
    params = op.get("parameters") or []
    if params:
        lines += ["| parameter | in | type | description |", "| --- | --- | --- | --- |"]
        for p in params:
            required = " (required)" if p.get("required") else ""
            lines.append(
                f"| {md_code(p['name'])}{required} | {md_text(p.get('in'))} "
                f"| {md_text(_schema_text(p.get('schema')))} | {md_text(p.get('description'))} |"
            )
        lines.append("")
    body = op.get("requestBody")
    if body:
        for media, spec in body.get("content", {}).items():
            lines.append(
                f"Request body ({md_code(media)}): {md_text(_schema_text(spec.get('schema')))}\n"
            )
    lines += ["| status | answer |", "| --- | --- |"]
    for status, response in (op.get("responses") or {}).items():
        media = ", ".join(f"`{m}`" for m in (response.get("content") or {}))
        text = md_text(response.get("description", ""))
        lines.append(f"| {md_text(status)} | {text}{' ' + media if media else ''} |")
    lines.append("")
    return lines


def api_page(document: Mapping[str, Any]) -> str:
    """The API reference: every operation of the OpenAPI document, then its schemas."""
    info = document.get("info", {})
    lines = [front_matter("HTTP API")]
    lines.append(f"# {md_text(info.get('title', 'HTTP API'))}\n")
    lines.append(md_text(info.get("description", "")) + "\n")
    lines.append(
        "The machine-readable OpenAPI document is served at `/api/v1/openapi.json`. GET "
        "answers carry an ETag; send it back in `If-None-Match` to get `304 Not Modified`. "
        "The Helm chart repository of each catalog is at `/helm/{catalog}/index.yaml`, "
        "and an OCI registry serves the same charts under `/v2/`.\n"
    )
    lines.append("## Operations\n")
    lines += ["| method | path | what |", "| --- | --- | --- |"]
    for method, path in api_routes(document):
        summary = document["paths"][path][method.lower()].get("summary", "")
        lines.append(f"| {method} | {md_code(path)} | {md_text(summary.split('. ')[0])} |")
    lines.append("")
    for method, path in api_routes(document):
        lines += _operation(method, path, document["paths"][path][method.lower()])
    lines.append("## Helm chart repository\n")
    for method, path in api_routes({"paths": HELM_PATHS}):
        lines += _operation(method, path, HELM_PATHS[path][method.lower()])
    lines.append("## OCI registry\n")
    lines.append(
        "The same charts as OCI artifacts (the pull side of the OCI distribution spec, "
        "Helm's media types), repository `{catalog}/{chart}`: `helm install "
        "oci://HOST/{catalog}/{chart} --version V`.\n"
    )
    for method, path in api_routes({"paths": OCI_PATHS}):
        lines += _operation(method, path, OCI_PATHS[path][method.lower()])
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        lines.append("## Schemas\n")
        for name, schema in schemas.items():
            lines.append(f"### {md_text(name)}\n")
            lines.append("```json")
            lines.append(json.dumps(schema, indent=2))
            lines.append("```\n")
    return "\n".join(lines) + "\n"
