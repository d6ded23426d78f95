"""Loader for Helm charts: versioned (`charts/<name>/<version>/`) and plain chart folders.

A versioned template has one version per child folder holding a Chart.yaml; a plain chart
folder is one version (`LoadedVersion.folder == ""`). A version's files are everything below
its folder, subcharts (`charts/`), `templates/` and `crds/` included; templates are Go
templates and never parsed here.

Per version: `metadata["chart"]` is the parsed Chart.yaml, `metadata["questions"]` the
questions file without its `questions` list (categories, namespace, labels,
rancher_min_version, rancher_max_version), `metadata["app_readme"]` the app-readme.md text,
`metadata["rancher"]` and `metadata["artifacthub"]` the annotations Rancher 2 and Artifact
Hub read (`loaders.annotations`), `metadata["changelog"]` the CHANGELOG.md text,
`metadata["requirements"]` the parsed requirements.yaml (apiVersion v1 dependencies).
The version string is Chart.yaml's `version` as written (`1.10` stays "1.10"), else the
folder name. Rancher version bounds come from the questions file, else from the
`catalog.cattle.io/rancher-version` annotation (`>= 2.6.0-0 < 2.7.0-0`).

Blocking problems: Chart.yaml, values.yaml, requirements.yaml or the questions file
unreadable, unparsable, a
symlink or too large; any file under `templates/`, `charts/` or `crds/` that is a symlink or
too large (the chart would render differently); `chart.version-missing` for a plain chart
without a version.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog_server.loaders.annotations import read_annotations
from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.folder import (
    ICON_TYPES,
    child_folders,
    entries_under,
    find_icon,
    internal_problem,
    join,
    mapping,
    newest_usable,
    order_versions,
    parse_yaml,
    read_entry,
    read_files,
    read_text,
    snapshot_entries_under,
    text,
    text_list,
    text_map,
)
from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.problems import Problem, SourceError
from catalog_server.sources import Snapshot, SnapshotEntry, clean_relpath

CHART = "Chart.yaml"
VALUES = "values.yaml"
CHANGELOG = "CHANGELOG.md"
REQUIREMENTS = "requirements.yaml"
# Rancher reads questions.yaml before questions.yml; a chart should have only one.
QUESTIONS = ("questions.yaml", "questions.yml")
NEEDED_FILES = frozenset({CHART, VALUES, "values.schema.json", REQUIREMENTS, *QUESTIONS})
NEEDED_FOLDERS = frozenset({"templates", "charts", "crds"})
ANNOTATION = "catalog.cattle.io/"
# Rancher annotations a template's card shows (see LoadedTemplate.flags).
FLAGS = ("certified", "experimental", "deprecated", "featured", "type", "os")
_MIN = re.compile(r">=?\s*v?([0-9][^\s,<>=|]*)")
_MAX = re.compile(r"<=?\s*v?([0-9][^\s,<>=|]*)")


def needed(rel: str) -> bool:
    """Files a chart version cannot be served without (paths relative to the chart)."""
    return rel in NEEDED_FILES or rel.split("/", 1)[0] in NEEDED_FOLDERS and "/" in rel


def _is_icon(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("icon.") or lower.startswith("catalogicon")


def load_helm_template(
    snapshot: Snapshot,
    root: TemplateRoot,
    entries: Mapping[str, SnapshotEntry] | None = None,
    *,
    chart_only: bool = False,
) -> LoadedTemplate:
    """Load one chart template (either Helm layout). Never raises for bad content.

    `entries` (keyed relative to the template folder) saves a scan of the whole snapshot
    when the caller has already split it. Versions come back newest first; the template's
    name, description, categories, labels, readme and icon come from the newest usable one.

    `chart_only`: what the chart repository needs and no more (every file, Chart.yaml and
    requirements.yaml parsed; values, questions and texts not read), for publishing a
    catalog's charts ahead of the rest of its sync. Problems of what is not read are not
    found then: such a version may be usable here and not in a full load.
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
            versions.append(_load_version(snapshot, join(root.folder, name), name, sub, chart_only))
        except Exception as exc:  # one broken version never hides the others
            versions.append(
                LoadedVersion(
                    version=name or "unknown",
                    folder=name,
                    problems=[internal_problem(join(root.folder, name), exc)],
                )
            )
    t.versions = order_versions(versions)
    newest = newest_usable(t)
    source = newest or (t.versions[0] if t.versions else None)
    if source is not None:
        _describe(t, source)
    t.default_version = newest.version if newest else None
    _icon(snapshot, t, entries, source)
    return t


def _load_version(
    snapshot: Snapshot,
    folder: str,
    name: str,
    entries: Mapping[str, SnapshotEntry],
    chart_only: bool = False,
) -> LoadedVersion:
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
        v.problems.append(
            Problem(
                "chart.version-missing",
                "error",
                f"{chart_path} has no version; Helm needs one to package the chart",
                file=chart_path,
                blocking=True,
            )
        )
    v.name = text(chart.get("name"))
    v.description = text(chart.get("description"))
    v.app_version = result.text_at("appVersion")
    annotations = chart.get("annotations") if isinstance(chart.get("annotations"), dict) else {}

    if VALUES in contents and not chart_only:
        path = join(folder, VALUES)
        values = parse_yaml(contents[VALUES], path)
        mapping(values, path)
        v.parsed[VALUES] = values
        v.problems.extend(values.problems)

    if REQUIREMENTS in contents:
        # apiVersion v1 dependencies: Helm reads this file into the chart's metadata.
        path = join(folder, REQUIREMENTS)
        requirements = parse_yaml(contents[REQUIREMENTS], path)
        v.metadata["requirements"] = mapping(requirements, path)
        v.parsed[REQUIREMENTS] = requirements
        v.problems.extend(requirements.problems)

    if chart_only:
        return v
    _questions(v, folder, entries, contents)
    found = read_annotations(annotations)
    v.metadata["rancher"], v.metadata["artifacthub"] = found.rancher, found.artifacthub
    v.kube_version = found.rancher.get("kube_version")
    v.rancher_version = found.rancher.get("rancher_version")
    v.chart_kube_version = result.text_at("kubeVersion")
    rancher = text(annotations.get(ANNOTATION + "rancher-version")) or ""
    low, high = _MIN.search(rancher), _MAX.search(rancher)
    if v.minimum_rancher_version is None and low:
        v.minimum_rancher_version = low.group(1)
    if v.maximum_rancher_version is None and high:
        v.maximum_rancher_version = high.group(1)

    if "app-readme.md" in contents:
        v.metadata["app_readme"], problems = read_text(
            contents["app-readme.md"], join(folder, "app-readme.md")
        )
        v.problems.extend(problems)
    if "README.md" in contents:
        v.readme, problems = read_text(contents["README.md"], join(folder, "README.md"))
        v.problems.extend(problems)
    if CHANGELOG in contents:
        v.metadata["changelog"], problems = read_text(contents[CHANGELOG], join(folder, CHANGELOG))
        v.problems.extend(problems)
    return v


def _questions(
    v: LoadedVersion,
    folder: str,
    entries: Mapping[str, SnapshotEntry],
    contents: Mapping[str, bytes],
) -> None:
    present = [q for q in QUESTIONS if q in entries]
    if not present:
        return
    if len(present) > 1:
        v.problems.append(
            Problem(
                "chart.questions-both",
                "warning",
                f"{folder}/ has both {present[0]} and "
                f"{present[1]}; {present[0]} is used: delete the other",
                file=join(folder, present[1]),
            )
        )
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
    rancher: dict[str, Any] = v.metadata.get("rancher") or {}
    t.hidden = rancher.get("hidden") is True
    t.flags = {key: rancher[key] for key in FLAGS if key in rancher}
    if chart.get("deprecated") is True:
        t.flags["deprecated"] = True
    if text(chart.get("icon")):
        t.metadata["icon_url"] = text(chart.get("icon"))


def local_icon(icon: Any) -> bool:
    """True when a Chart.yaml `icon` names a file of the catalog, as rancher/charts does
    (`file://assets/logos/x.svg`, from the catalog root; `icon.svg`, from the chart folder),
    rather than a web or data URL. The server serves such icons itself."""
    if not isinstance(icon, str) or not icon.strip():
        return False
    scheme = urlsplit(icon.strip()).scheme
    return scheme == "file" or (scheme == "" and not icon.startswith("//"))


def chart_icon_path(icon: str, chart_folder: str) -> str | None:
    """The catalog-root path of a local icon (see local_icon); None when it leaves the
    catalog or is not a path."""
    icon = icon.strip()
    if icon.startswith("file://"):
        rel = icon[len("file://") :]
    else:
        rel = posixpath.join(chart_folder, icon)
    rel = posixpath.normpath(unquote(rel))
    if rel.startswith(("/", "../")) or rel in ("..", "."):
        return None
    try:
        return clean_relpath(rel)
    except SourceError:
        return None


def _chart_icon(snapshot: Snapshot, t: LoadedTemplate, newest: LoadedVersion) -> bool:
    """Take the icon file the newest version's Chart.yaml names, if it names one."""
    icon = (newest.metadata.get("chart") or {}).get("icon")
    if not local_icon(icon):
        return False
    path = chart_icon_path(icon, join(t.folder, newest.folder))
    entry = snapshot.entries().get(path) if path else None
    media = ICON_TYPES.get(posixpath.splitext(path)[1].lower()) if path else None
    if entry is None or media is None:
        t.problems.append(
            Problem(
                "helm.url",
                "warning",
                f"the chart's icon {icon!r} names no SVG, PNG or "
                "JPEG file of the catalog; write a catalog path (file://assets/logo.svg) or a URL",
                file=join(t.folder, newest.folder, CHART),
            )
        )
        return False
    data, problem = read_entry(snapshot, path, entry, needed=False)
    if problem is not None:
        t.problems.append(problem)
        return False
    t.icon, t.icon_media_type = data, media
    t.metadata["icon_file"] = path  # from the catalog root
    return True


def _icon(
    snapshot: Snapshot,
    t: LoadedTemplate,
    entries: Mapping[str, SnapshotEntry],
    newest: LoadedVersion | None,
) -> None:
    """The icon file the newest version's Chart.yaml names (a catalog path), else an icon
    file in the newest version folder or at the chart root, if there is one."""
    if newest is not None and _chart_icon(snapshot, t, newest):
        return
    places = [newest.folder] if newest is not None and newest.folder else []
    places.append("")
    for place in places:
        sub = entries_under(entries, place) if place else entries
        rel, data, media, problems = find_icon(snapshot, join(t.folder, place), sub, _is_icon)
        t.problems.extend(problems)
        if rel is not None:
            t.icon_path, t.icon, t.icon_media_type = join(place, rel), data, media
            return
