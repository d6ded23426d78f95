"""The component schemas of the OpenAPI document (`#/components/schemas`)."""

from __future__ import annotations

from typing import Any

from catalog_server.manifests.model import TARGETS
from catalog_server.openapi.common import (
    LINKS,
    TEMPLATE_TYPE,
    VERSION_TEXT_PROPERTIES,
    nullable,
    ref,
)
from catalog_server.openapi.search import HIGHLIGHTS

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
            "branch": nullable("string"),
            "subdir": nullable("string"),
            "commit": nullable("string"),
            "indexed_at": nullable("string"),
            "last_attempt_at": nullable("string"),
            "last_error": nullable("string"),
            "last_sync_status": nullable("string"),
            "sync_state": {"type": "string", "enum": ["idle", "queued", "syncing", "failed"]},
            "failures": {"type": "integer"},
            "refresh_interval": {"type": "integer"},
            "managed_by": {"type": "string", "enum": ["file", "api", "preview"]},
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
            "description": nullable("string"),
            "categories": {"type": "array", "items": {"type": "string"}},
            "base": nullable("string"),
            "folder": {"type": "string"},
            "default_version": nullable("string"),
            "latest_version": nullable("string"),
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
            "highlights": HIGHLIGHTS,
            "links": LINKS,
        },
    },
    "Problem": {
        "type": "object",
        "required": ["rule", "severity", "message"],
        "properties": {
            "catalog": {"type": "string"},
            "template": nullable("string"),
            "version": nullable("string"),
            "file": nullable("string"),
            "line": nullable("integer"),
            "column": nullable("integer"),
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
            "revision": nullable("integer"),
            **VERSION_TEXT_PROPERTIES,
            "created": nullable("string"),
            "links": LINKS,
        },
    },
}
SCHEMAS["Template"] = {
    "allOf": [
        ref("TemplateSummary"),
        {
            "type": "object",
            "required": ["versions", "problems"],
            "properties": {
                "maintainer": nullable("string"),
                "license": nullable("string"),
                "project_url": nullable("string"),
                "labels": {"type": "object"},
                "versions": {"type": "array", "items": ref("VersionSummary")},
                "problems": {"type": "array", "items": ref("Problem")},
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
        "revision": nullable("integer"),
        "name": nullable("string"),
        "description": nullable("string"),
        **VERSION_TEXT_PROPERTIES,
        "created": nullable("string"),
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
            **nullable("string"),
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
            **nullable("string"),
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
                    "sha256": nullable("string"),
                    "url": {"type": "string"},
                },
            },
        },
        "links": LINKS,
        "problems": {"type": "array", "items": ref("Problem")},
    },
}


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
        "line": nullable("integer"),
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
        "questions_source": nullable("string"),
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
                    "app_version": nullable("string"),
                    "upgrade_from": nullable("string"),
                    "minimum_rancher_version": nullable("string"),
                    "maximum_rancher_version": nullable("string"),
                    "links": LINKS,
                },
            },
        },
        "total": {"type": "integer"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}
