"""The OpenAPI paths of the install-manifest, upgrade and diff endpoints."""

from __future__ import annotations

from typing import Any

from catalog_server.openapi.common import (
    BAD_PARAMETER,
    CATALOG,
    NOT_FOUND,
    error_response,
    get_operation,
    json_response,
    param,
    raw_response,
    ref,
)
from catalog_server.versions import VERSION_PATTERN


def manifest_paths(template: dict, version: dict) -> dict[str, Any]:
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
                    "content": {"application/json": {"schema": ref("ManifestRequest")}},
                },
                "responses": {
                    "200": {
                        "description": "The files (json), the same as a YAML map (yaml), or a "
                        ".tar.gz of the files (tar).",
                        "content": {
                            "application/json": {"schema": ref("Manifest")},
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
                    "400": error_response("The body is malformed (bad_request, bad_parameter)."),
                    "404": NOT_FOUND,
                    "422": error_response(
                        "invalid_answers (details: {VAR: [message]}; also for undeclared Helm "
                        "variables), invalid_values (the values document; details: errors: "
                        "[{line, column, path, message}], answers: {VAR: [message]}), "
                        "render_error (details: file, line), invalid_compose (details: file, "
                        "format, errors: [{path, line, rule, message}]: what is invalid even "
                        "after conversion), or not_installable (details: type): the template "
                        "is not a stack or chart (a machine driver, Kubernetes manifests, an "
                        "environment template)."
                    ),
                    "501": error_response(
                        "The Helm SDK is not installed on this platform (helm_sdk_missing)."
                    ),
                },
            }
        },
        f"{base}/upgrades": get_operation(
            "Versions this version can upgrade to, newest first: newer, accepting this "
            "version in their upgrade_from range, and (with rancher_version) fitting Rancher.",
            json_response(ref("Upgrades"), "The upgrade targets."),
            [
                *params,
                param(
                    "rancher_version",
                    "query",
                    "Only targets supporting this Rancher version.",
                    {
                        "type": "string",
                        "maxLength": 100,
                        "pattern": f"^{VERSION_PATTERN}$",
                    },
                ),
            ],  # fmt: skip
            {"400": BAD_PARAMETER, "404": NOT_FOUND},
        ),
        f"{base}/diff/{{other}}": get_operation(
            "Unified diff of this version's files against another version's.",
            raw_response(["text/x-diff"], "The diff (empty when the files are the same)."),
            [*params, param("other", "path", "The other version (string or folder).")],
            {"404": NOT_FOUND},
        ),
    }
