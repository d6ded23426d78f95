"""Rules for Helm charts: Chart.yaml as `helm lint` checks it, values, values.schema.json,
template file names, and (where the Helm SDK is installed) Helm's own lint.

The chart's folder name is the template folder's last part, for the versioned layout
(`charts/<name>/<version>/`) and plain charts (`stable/<name>/`) alike.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import semver

from catalog_server import helmsdk
from catalog_server.jsonschemas import document_schema
from catalog_server.problems import Problem
from catalog_server.validation.content import VersionFiles, line_of

CHART_FILE = "Chart.yaml"
TEMPLATE_EXTENSIONS = (".yaml", ".yml", ".tpl", ".txt")
CHART_TYPES = ("application", "library")
MAX_SCHEMA_PROBLEMS = 50


def validate_helm(files: VersionFiles, *, helm_lint: bool = True) -> Iterator[Problem]:
    """Every Helm problem of one chart version (nothing for compose templates); with
    `helm_lint`, also Helm's own lint where the Helm SDK is installed."""
    if files.template.kind != "helm":
        return
    yield from _chart(files)
    yield from _values(files)
    for rel in files.paths():
        if rel.startswith("templates/"):
            name = PurePosixPath(rel).name
            if not name.endswith(TEMPLATE_EXTENSIONS):
                yield files.report(
                    "helm.template-extension",
                    f"{rel}: Helm only renders "
                    f"{', '.join(TEMPLATE_EXTENSIONS)} files in templates/ "
                    "(and NOTES.txt); rename or move it",
                    rel,
                )
    if helm_lint and helmsdk.available():
        yield from _sdk_lint(files)


def _chart(files: VersionFiles) -> Iterator[Problem]:
    parsed = files.yaml(CHART_FILE)
    if parsed is None or not isinstance(parsed.value, dict):
        return  # absent or unreadable: the loader reports it
    chart = parsed.value

    def at(rule: str, message: str, *path: Any) -> Problem:
        return files.report(rule, message, CHART_FILE, line_of(parsed, path) if path else 1)

    api = chart.get("apiVersion")
    if api not in ("v1", "v2"):
        yield at(
            "helm.chart-api-version",
            f"apiVersion {api!r} must be v2 (Helm 3) or v1"
            if api is not None
            else "apiVersion is required: write `apiVersion: v2`",
            *(("apiVersion",) if api is not None else ()),
        )
    name, folder = chart.get("name"), PurePosixPath(files.template.folder).name
    if not name:
        yield at("helm.chart-name", "name is required: the chart's name, as its folder")
    elif folder and str(name) != folder:
        yield at(
            "helm.chart-name",
            f"name {name!r} differs from the chart folder {folder!r}; make them equal",
            "name",
        )
    version = parsed.text_at("version")
    if version is None:
        yield at("helm.chart-version", "version is required: a SemVer 2 version like 1.2.3")
    elif not semver.Version.is_valid(version):
        yield at(
            "helm.chart-version",
            f"version {version!r} is not SemVer 2 "
            "(MAJOR.MINOR.PATCH, e.g. 1.2.0); quote it if YAML reads it as a number",
            "version",
        )
    app = chart.get("appVersion")
    if app is not None and not isinstance(app, str):
        text = parsed.text_at("appVersion")
        yield at(
            "helm.app-version",
            f'appVersion {text} is read as a {type(app).__name__}; quote it: appVersion: "{text}"',
            "appVersion",
        )
    if api == "v1":
        for key in ("type", "dependencies"):
            if key in chart:
                yield at(
                    "helm.chart-field",
                    f"`{key}` is only valid in apiVersion v2 charts; "
                    "move it to requirements.yaml or switch to apiVersion: v2",
                    key,
                )
    chart_type = chart.get("type")
    if chart_type is not None and chart_type not in CHART_TYPES:
        yield at("helm.chart-field", f"type {chart_type!r} must be application or library", "type")
    yield from _maintainers_and_urls(chart, at)


def _maintainers_and_urls(chart: dict, at) -> Iterator[Problem]:
    maintainers = chart.get("maintainers")
    if isinstance(maintainers, list):
        for i, maintainer in enumerate(maintainers):
            if not isinstance(maintainer, dict) or not maintainer.get("name"):
                yield at(
                    "helm.maintainer",
                    f"maintainer {i + 1} has no name; each maintainer needs `name:`",
                    "maintainers",
                    i,
                )
            elif maintainer.get("url") is not None and not is_url(maintainer["url"]):
                yield at(
                    "helm.url",
                    f"maintainer url {maintainer['url']!r} is not a URL",
                    "maintainers",
                    i,
                    "url",
                )
    for key in ("home", "icon"):
        if chart.get(key) is not None and not is_url(chart[key]):
            yield at("helm.url", f"{key} {chart[key]!r} is not a URL (https://...)", key)
    sources = chart.get("sources")
    if isinstance(sources, list):
        for i, source in enumerate(sources):
            if not is_url(source):
                yield at("helm.url", f"source {source!r} is not a URL (https://...)", "sources", i)
    elif sources is not None:
        yield at("helm.url", "sources must be a list of URLs", "sources")


def is_url(value: Any) -> bool:
    """True for an absolute URL with a scheme and a host (`https://example.com/x`)."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return bool(parts.scheme and (parts.netloc or parts.scheme == "data"))


def _values(files: VersionFiles) -> Iterator[Problem]:
    rel = files.first("values.yaml", "values.yml")
    parsed = files.yaml(rel) if rel else None
    # A values.yaml that is not a mapping is the loader's `yaml.not-mapping` (blocking).
    values = parsed.value if parsed is not None and isinstance(parsed.value, dict) else {}
    if not files.has("values.schema.json"):
        return
    schema_rel = "values.schema.json"
    try:
        # Compiled and checked against its metaschema once per distinct schema file.
        validator = document_schema(files.data(schema_rel) or b"")
        errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.path)))
    except (ValueError, UnicodeDecodeError) as exc:
        yield files.report("helm.schema-file", f"not valid JSON: {exc}", schema_rel)
        return
    except jsonschema.SchemaError as exc:
        yield files.report(
            "helm.schema-file", f"not a valid JSON Schema: {exc.message}", schema_rel
        )
        return
    except Exception as exc:  # unresolvable $ref and the like: the chart's problem, not ours
        yield files.report(
            "helm.schema-file", f"cannot be used ({type(exc).__name__}: {exc})", schema_rel
        )
        return
    for error in errors[:MAX_SCHEMA_PROBLEMS]:
        path = tuple(error.absolute_path)
        shown = ".".join(map(str, path)) or "values"
        yield files.report(
            "helm.values-schema",
            f"{shown}: {error.message} (values.schema.json)",
            rel or schema_rel,
            line_of(parsed, path) if parsed else None,
        )


def _sdk_lint(files: VersionFiles) -> Iterator[Problem]:
    """Helm's own lint, on a temporary copy of the chart's files (the snapshot may be git)."""
    name = PurePosixPath(files.template.folder).name or "chart"
    with tempfile.TemporaryDirectory(prefix="catalog-lint-") as tmp:
        root = Path(tmp) / name
        for entry in files.version.files:
            if entry.content is None:
                continue
            target = root / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.content)
        try:
            findings = helmsdk.lint(root)
        except helmsdk.HelmError as exc:
            yield files.report("helm.lint", f"helm lint failed: {exc}", None, severity="error")
            return
    for finding in findings:
        rel = finding.get("path") or None
        yield files.report(
            "helm.lint",
            f"helm lint: {finding.get('message', '')}",
            rel if rel and files.has(rel) else None,
            severity=finding.get("severity") or "warning",
        )
