"""Install manifests of Helm chart versions: a values file and the rendered manifests.

Pure Python (no Flask, no database). :func:`helm_manifest` checks the answers against the
chart's questions, turns them into a values override as Rancher does (a dotted variable is
a path of nested keys: ``ingress.tls.enabled: true`` -> ``{ingress: {tls: {enabled: true}}}``),
deep-merges the override over the chart's ``values.yaml`` and checks the result against
``values.schema.json`` when the chart has one. Then the Helm SDK renders the chart (the
``helm template`` equivalent) with the release name and namespace.

The output is ``values.yaml`` (the override: what ``helm install -f values.yaml`` takes), each
non-empty rendered template under ``manifests/`` (``manifests/<chart>/templates/x.yaml``) and
``NOTES.txt`` when the chart has notes; the commands add the catalog's chart repository and
install the chart from it. Everything but the rendering works without the SDK, which is
reported as ManifestError ``helm_sdk_missing`` (501).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from catalog_server import helmsdk
from catalog_server.charts import ChartNotPackable, chart_archive
from catalog_server.loaders.yamlfile import load_yaml
from catalog_server.manifests.compose import (
    Manifest,
    ManifestError,
    ManifestFile,
    checked_answers,
    dump_yaml,
)

__all__ = ["deep_merge", "helm_manifest", "values_override"]

VALUES_FILE = "values.yaml"
SCHEMA_FILE = "values.schema.json"
# "template: demo/templates/cm.yaml:7:12: executing ..." and "parse error at (demo/x.yaml:3)".
_HELM_PLACE = re.compile(r"([\w.\-/]+\.(?:ya?ml|tpl|txt|json)):(\d+)")


def values_override(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Nest dotted variables into a values tree; return it and conflicts per variable.

    ``a.b`` and ``a.c`` share ``a``; ``a=1`` beside ``a.b=2`` is a conflict (``a`` cannot be
    both a value and a mapping), reported against the later variable.
    """
    tree: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for variable, value in values.items():
        parts = variable.split(".")
        if any(not part for part in parts):
            errors.setdefault(variable, []).append("has an empty part between dots")
            continue
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                errors.setdefault(variable, []).append(
                    f"conflicts with {prefix}, which is answered with a value, not a mapping"
                )
                break
            node = child
        else:
            leaf = parts[-1]
            if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
                errors.setdefault(variable, []).append(
                    f"conflicts with answers for keys below {variable}"
                )
                continue
            node[leaf] = (
                deep_merge(node[leaf], value) if isinstance(node.get(leaf), dict) else value
            )
    return tree, errors


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key, anything else replaces.

    As Helm coalesces values, a ``None`` in the override deletes the key.
    """
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validator_class(schema: Any):
    """The validator for the schema's ``$schema``, read loosely: charts write the draft URI
    with either scheme. Without one, or an unknown one, draft 7 (what charts are written for)."""
    from jsonschema.validators import Draft7Validator, validator_for

    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(declared, str):
        return Draft7Validator
    declared = declared.strip()
    swapped = (
        declared.replace("https://", "http://", 1)
        if declared.startswith("https://")
        else declared.replace("http://", "https://", 1)
    )
    for uri in (declared, swapped):
        cls = validator_for({"$schema": uri}, default=None)
        if cls is not None:
            return cls
    return Draft7Validator


def _schema_errors(files: Mapping[str, bytes | None], values: Any) -> dict[str, list[str]]:
    raw = files.get(SCHEMA_FILE)
    if raw is None:
        return {}
    from jsonschema.exceptions import SchemaError

    try:
        schema = json.loads(raw.decode("utf-8"))
        if not isinstance(schema, dict | bool):
            raise ValueError("the schema must be an object")
        cls = _validator_class(schema)
        cls.check_schema(schema)
        validator = cls(schema)
    except (ValueError, SchemaError) as exc:
        raise ManifestError(
            "render_error",
            f"{SCHEMA_FILE} is not a valid JSON schema: {exc}",
            {"file": SCHEMA_FILE},
        ) from None
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(values):
        where = ".".join(str(part) for part in error.path) or "(values)"
        errors.setdefault(where, []).append(error.message)
    return errors


def _defaults(files: Mapping[str, bytes | None]) -> dict[str, Any]:
    raw = files.get(VALUES_FILE)
    if raw is None:
        return {}
    result = load_yaml(raw, VALUES_FILE)
    blocking = [p for p in result.problems if p.blocking]
    if blocking:
        raise ManifestError(
            "render_error", f"{VALUES_FILE}: {blocking[0].message}",
            {"file": VALUES_FILE, "line": blocking[0].line},
        )  # fmt: skip
    return result.value if isinstance(result.value, dict) else {}


def _helm_failure(exc: Exception) -> ManifestError:
    message = str(exc)
    details: dict[str, Any] = {}
    match = _HELM_PLACE.search(message)
    if match:
        details = {"file": match.group(1), "line": int(match.group(2))}
    return ManifestError("render_error", f"helm could not render the chart: {message}", details)


def helm_manifest(
    files: Mapping[str, bytes | None],
    questions: list[dict],
    answers: Mapping[str, Any],
    *,
    chart_name: str,
    version: str,
    created: datetime | None,
    release: str,
    namespace: str,
    repo_name: str,
    repo_url: str,
) -> Manifest:
    """Files to install chart ``chart_name`` ``version`` with ``answers``.

    ``files`` are the chart's files (paths relative to the chart folder), packaged as the
    chart repository serves them (``created`` pins their times). ``repo_name`` and
    ``repo_url`` go into the ``helm repo add`` command. Raises ManifestError:
    ``invalid_answers`` (questions, conflicting dotted variables and values.schema.json
    violations, by variable or values path), ``render_error`` (Helm's message, file and line
    when Helm gives them), ``helm_sdk_missing`` (status 501).
    """
    check = checked_answers(questions, answers)
    override, conflicts = values_override(check.values)
    if conflicts:
        raise ManifestError(
            "invalid_answers", f"answers conflict: {', '.join(sorted(conflicts))}", conflicts
        )
    merged = deep_merge(_defaults(files), override)
    schema_errors = _schema_errors(files, merged)
    if schema_errors:
        raise ManifestError(
            "invalid_answers",
            f"the values break the chart's {SCHEMA_FILE}: {', '.join(sorted(schema_errors))}",
            schema_errors,
        )
    if not helmsdk.available():
        raise ManifestError("helm_sdk_missing", helmsdk.missing_message(), status=501)
    try:
        archive = chart_archive(chart_name, sorted(files.items()), created)
    except ChartNotPackable as exc:
        raise ManifestError("render_error", f"the chart cannot be packaged: {exc}") from None
    try:
        rendered = helmsdk.render(archive, override, release, namespace)
    except helmsdk.HelmError as exc:
        raise _helm_failure(exc) from None

    manifest = Manifest()
    manifest.files.append(ManifestFile(VALUES_FILE, dump_yaml(override) if override else "{}\n"))
    for path in sorted(rendered):
        text = rendered[path]
        if path.endswith("NOTES.txt"):
            if path == f"{chart_name}/templates/NOTES.txt" and text.strip():
                manifest.files.append(ManifestFile("NOTES.txt", text))
            continue
        if text.strip():
            manifest.files.append(ManifestFile(f"manifests/{path}", text))
    manifest.commands = [
        f"helm repo add {repo_name} {repo_url}",
        f"helm install {release} {repo_name}/{chart_name} --version {version} "
        f"-n {namespace} --create-namespace -f values.yaml",
    ]
    return manifest
