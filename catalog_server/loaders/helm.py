"""Loader for Helm charts: versioned (`charts/<name>/<version>/`) and plain chart folders.

A versioned template has one version per child folder holding a Chart.yaml; a plain chart
folder is one version (`LoadedVersion.folder == ""`). A version's files are everything below
its folder, subcharts (`charts/`), `templates/` and `crds/` included; templates are Go
templates and never parsed here.

Per version: `metadata["chart"]` is the parsed Chart.yaml, `metadata["questions"]` the
questions file without its `questions` list (categories, namespace, labels,
rancher_min_version, rancher_max_version), `metadata["app_readme"]` the app-readme.md text.
The version string is Chart.yaml's `version` as written (`1.10` stays "1.10"), else the
folder name. Rancher version bounds come from the questions file, else from the
`catalog.cattle.io/rancher-version` annotation (`>= 2.6.0-0 < 2.7.0-0`).

Blocking problems: Chart.yaml, values.yaml or the questions file unreadable, unparsable, a
symlink or too large; any file under `templates/`, `charts/` or `crds/` that is a symlink or
too large (the chart would render differently); `chart.version-missing` for a plain chart
without a version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.folder import (
    child_folders,
    entries_under,
    find_icon,
    internal_problem,
    join,
    mapping,
    newest_usable,
    order_versions,
    parse_yaml,
    read_files,
    read_text,
    snapshot_entries_under,
    text,
    text_list,
    text_map,
)
from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot, SnapshotEntry

CHART = "Chart.yaml"
VALUES = "values.yaml"
# Rancher reads questions.yaml before questions.yml; a chart should have only one.
QUESTIONS = ("questions.yaml", "questions.yml")
NEEDED_FILES = frozenset({CHART, VALUES, "values.schema.json", "requirements.yaml", *QUESTIONS})
NEEDED_FOLDERS = frozenset({"templates", "charts", "crds"})
ANNOTATION = "catalog.cattle.io/"
_MIN = re.compile(r">=?\s*v?([0-9][^\s,<>=|]*)")
_MAX = re.compile(r"<=?\s*v?([0-9][^\s,<>=|]*)")


def needed(rel: str) -> bool:
    """Files a chart version cannot be served without (paths relative to the chart)."""
    return rel in NEEDED_FILES or rel.split("/", 1)[0] in NEEDED_FOLDERS and "/" in rel


def _is_icon(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("icon.") or lower.startswith("catalogicon")


def load_helm_template(
    snapshot: Snapshot, root: TemplateRoot,
    entries: Mapping[str, SnapshotEntry] | None = None,
) -> LoadedTemplate:
    """Load one chart template (either Helm layout). Never raises for bad content.

    `entries` (keyed relative to the template folder) saves a scan of the whole snapshot
    when the caller has already split it. Versions come back newest first; the template's
    name, description, categories, labels, readme and icon come from the newest usable one.
    """
    if entries is None:
        entries = snapshot_entries_under(snapshot, root.folder)
    t = LoadedTemplate(id=root.id, folder=root.folder, kind="helm", base=root.base)
    if root.layout == "helm-versioned":
        folders = sorted(n for n in child_folders(entries) if f"{n}/{CHART}" in entries)
    else:
        folders = [""]
    versions = []
    for name in folders:
        sub = entries_under(entries, name) if name else entries
        try:
            versions.append(_load_version(snapshot, join(root.folder, name), name, sub))
        except Exception as exc:  # one broken version never hides the others
            versions.append(LoadedVersion(version=name or "unknown", folder=name, problems=[
                internal_problem(join(root.folder, name), exc)]))
    t.versions = order_versions(versions)
    newest = newest_usable(t)
    source = newest or (t.versions[0] if t.versions else None)
    if source is not None:
        _describe(t, source)
    t.default_version = newest.version if newest else None
    _icon(snapshot, t, entries, source)
    return t


def _load_version(snapshot: Snapshot, folder: str, name: str,
                  entries: Mapping[str, SnapshotEntry]) -> LoadedVersion:
    files, contents, problems = read_files(snapshot, folder, entries, needed)
    v = LoadedVersion(version=name, folder=name, files=files, problems=problems)
    chart_path = join(folder, CHART)
    result = parse_yaml(contents.get(CHART), chart_path)
    chart = mapping(result, chart_path)
    v.parsed[CHART] = result
    v.problems.extend(result.problems)
    v.metadata["chart"] = chart
    v.version = result.text_at("version") or name
    if not v.version:
        v.version = "unknown"
        v.problems.append(Problem(
            "chart.version-missing", "error", f"{chart_path} has no version; Helm needs one "
            "to package the chart", file=chart_path, blocking=True))
    v.name = text(chart.get("name"))
    v.description = text(chart.get("description"))
    v.app_version = result.text_at("appVersion")
    annotations = chart.get("annotations") if isinstance(chart.get("annotations"), dict) else {}

    if VALUES in contents:
        path = join(folder, VALUES)
        values = parse_yaml(contents[VALUES], path)
        mapping(values, path)
        v.parsed[VALUES] = values
        v.problems.extend(values.problems)

    _questions(v, folder, entries, contents)
    rancher = text(annotations.get(ANNOTATION + "rancher-version")) or ""
    low, high = _MIN.search(rancher), _MAX.search(rancher)
    if v.minimum_rancher_version is None and low:
        v.minimum_rancher_version = low.group(1)
    if v.maximum_rancher_version is None and high:
        v.maximum_rancher_version = high.group(1)

    if "app-readme.md" in contents:
        v.metadata["app_readme"], problems = read_text(
            contents["app-readme.md"], join(folder, "app-readme.md"))
        v.problems.extend(problems)
    if "README.md" in contents:
        v.readme, problems = read_text(contents["README.md"], join(folder, "README.md"))
        v.problems.extend(problems)
    return v


def _questions(v: LoadedVersion, folder: str, entries: Mapping[str, SnapshotEntry],
               contents: Mapping[str, bytes]) -> None:
    present = [q for q in QUESTIONS if q in entries]
    if not present:
        return
    if len(present) > 1:
        v.problems.append(Problem(
            "chart.questions-both", "warning", f"{folder}/ has both {present[0]} and "
            f"{present[1]}; {present[0]} is used: delete the other",
            file=join(folder, present[1])))
    rel = present[0]
    path = join(folder, rel)
    result = parse_yaml(contents.get(rel), path)
    doc = mapping(result, path)
    v.parsed[rel] = result
    v.problems.extend(result.problems)
    questions = doc.get("questions")
    if isinstance(questions, list):
        v.questions = [q for q in questions if isinstance(q, dict)]
    v.metadata["questions"] = {k: val for k, val in doc.items() if k != "questions"}
    v.minimum_rancher_version = result.text_at("rancher_min_version")
    v.maximum_rancher_version = result.text_at("rancher_max_version")


def _describe(t: LoadedTemplate, v: LoadedVersion) -> None:
    chart: dict[str, Any] = v.metadata.get("chart") or {}
    annotations = chart.get("annotations") if isinstance(chart.get("annotations"), dict) else {}
    questions: dict[str, Any] = v.metadata.get("questions") or {}
    t.name = text(annotations.get(ANNOTATION + "display-name")) or text(chart.get("name"))
    t.description = text(chart.get("description"))
    t.categories = text_list(questions.get("categories"))
    t.labels = text_map(questions.get("labels"))
    t.project_url = text(chart.get("home"))
    t.license = text(annotations.get("artifacthub.io/license"))
    maintainers = chart.get("maintainers")
    if isinstance(maintainers, list) and maintainers and isinstance(maintainers[0], dict):
        first = maintainers[0]
        name, email = text(first.get("name")), text(first.get("email"))
        t.maintainer = f"{name} <{email}>" if name and email else name or email
    t.readme = v.readme
    t.metadata["chart_name"] = text(chart.get("name"))
    if text(chart.get("icon")):
        t.metadata["icon_url"] = text(chart.get("icon"))


def _icon(snapshot: Snapshot, t: LoadedTemplate, entries: Mapping[str, SnapshotEntry],
          newest: LoadedVersion | None) -> None:
    """An icon file in the newest version folder or at the chart root, if there is one."""
    places = [newest.folder] if newest is not None and newest.folder else []
    places.append("")
    for place in places:
        sub = entries_under(entries, place) if place else entries
        rel, data, media, problems = find_icon(snapshot, join(t.folder, place), sub, _is_icon)
        t.problems.extend(problems)
        if rel is not None:
            t.icon_path, t.icon, t.icon_media_type = join(place, rel), data, media
            return
