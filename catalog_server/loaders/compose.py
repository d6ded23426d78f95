"""Loader for Rancher compose templates (`templates/<name>/`, `<base>-templates/<name>/`).

A template folder holds `config.yml`, `catalogIcon-*.svg|png|jpg`, an optional `README.md`,
and one folder per version named by a number (`0/`, `1/`, gaps allowed) or a SemVer
(`1.2.0/`, `v1.2.0/`); other folders and files at the template root (a stray compose file,
say) are ignored. A version folder holds `docker-compose.yml` or `docker-compose.yml.tpl`
(a Go template: never parsed here), `rancher-compose.yml` with a `.catalog` (or `catalog`)
block, and an optional `README.md`; kubernetes-, machine- and project-template versions hold
other files and load all the same (what they lack is for validation to report).

Blocking problems: an unreadable `config.yml` blocks the template; an unreadable
`rancher-compose.yml` or `docker-compose.yml`, or one that is a symlink or too large, blocks
its version. A `.yml` that fails to parse but holds `{{ }}` is a Go template and only warns
(`yaml.go-template`); the `.catalog` block of such a rancher-compose.yml is still read when it
is plain YAML itself.
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
    read_entry,
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
from catalog_server.versions import is_semver
from catalog_server.yamlfile import load_yaml

CONFIG = "config.yml"
RANCHER_COMPOSE = "rancher-compose.yml"
DOCKER_COMPOSE = "docker-compose.yml"
DOCKER_COMPOSE_TPL = "docker-compose.yml.tpl"
README = "README.md"
# Files a compose version cannot be served without.
NEEDED = frozenset({RANCHER_COMPOSE, DOCKER_COMPOSE, DOCKER_COMPOSE_TPL})
CATALOG_KEYS = (".catalog", "catalog")
_CATALOG_LINE = re.compile(rb"""^["']?\.?catalog["']?\s*:""")


def is_version_folder(name: str) -> bool:
    """Version folders are numbered (`0`, `12`) or named by a SemVer (`v1.2.0`)."""
    return name.isdigit() or is_semver(name)


def load_compose_template(
    snapshot: Snapshot,
    root: TemplateRoot,
    entries: Mapping[str, SnapshotEntry] | None = None,
) -> LoadedTemplate:
    """Load one compose template folder. Never raises for bad content.

    `entries` (keyed relative to the template folder) saves a scan of the whole snapshot
    when the caller has already split it. Versions come back newest first.
    """
    if entries is None:
        entries = snapshot_entries_under(snapshot, root.folder)
    t = LoadedTemplate(id=root.id, folder=root.folder, kind="compose", base=root.base)
    config = _load_config(snapshot, t, entries)
    t.name = text(config.get("name"))
    t.description = text(config.get("description"))
    t.categories = text_list(config.get("category")) + text_list(config.get("categories"))
    t.maintainer = text(config.get("maintainer"))
    t.license = text(config.get("license"))
    t.project_url = text(config.get("projectURL"))
    t.labels = text_map(config.get("labels"))
    t.metadata = {"config": config}
    if text(config.get("minimum_rancher_version")):
        t.metadata["minimum_rancher_version"] = text(config.get("minimum_rancher_version"))

    t.icon_path, t.icon, t.icon_media_type, problems = find_icon(
        snapshot, root.folder, entries, lambda name: name.lower().startswith("catalogicon")
    )
    t.problems.extend(problems)
    if README in entries:
        t.readme, problems = _readme(snapshot, join(root.folder, README), entries[README])
        t.problems.extend(problems)

    versions = []
    for name in sorted(child_folders(entries)):
        if not is_version_folder(name):
            continue
        sub = entries_under(entries, name)
        try:
            versions.append(_load_version(snapshot, join(root.folder, name), name, sub))
        except Exception as exc:  # one broken version never hides the others
            versions.append(
                LoadedVersion(
                    version=name,
                    folder=name,
                    problems=[internal_problem(join(root.folder, name), exc)],
                )
            )
    t.versions = order_versions(versions)
    declared = t.parsed[CONFIG].text_at("version") if CONFIG in t.parsed else None
    usable = {v.version for v in t.versions if v.usable}
    newest = newest_usable(t)
    # config.yml's version is the default, and not always the newest; an unknown one is
    # left for validation to report (it stays in metadata["config"]).
    t.default_version = declared if declared in usable else (newest.version if newest else None)
    return t


def _load_config(
    snapshot: Snapshot, t: LoadedTemplate, entries: Mapping[str, SnapshotEntry]
) -> dict[str, Any]:
    if CONFIG not in entries:
        return {}
    path = join(t.folder, CONFIG)
    data, problem = read_entry(snapshot, path, entries[CONFIG], needed=True)
    if problem is not None:
        t.problems.append(problem)
    result = parse_yaml(data, path)
    config = mapping(result, path)
    t.parsed[CONFIG] = result
    t.problems.extend(result.problems)
    return config


def _readme(
    snapshot: Snapshot, path: str, entry: SnapshotEntry
) -> tuple[str | None, list[Problem]]:
    data, problem = read_entry(snapshot, path, entry, needed=False)
    if problem is not None:
        return None, [problem]
    return read_text(data, path)


def _load_version(
    snapshot: Snapshot, folder: str, name: str, entries: Mapping[str, SnapshotEntry]
) -> LoadedVersion:
    files, contents, problems = read_files(snapshot, folder, entries, NEEDED.__contains__)
    v = LoadedVersion(
        version=name,
        folder=name,
        revision=int(name) if name.isdigit() else None,
        files=files,
        problems=problems,
    )
    if RANCHER_COMPOSE in contents:
        _read_catalog_block(v, contents[RANCHER_COMPOSE], join(folder, RANCHER_COMPOSE))
    if DOCKER_COMPOSE in contents:
        path = join(folder, DOCKER_COMPOSE)
        result = parse_yaml(contents[DOCKER_COMPOSE], path, templated=True)
        mapping(result, path)
        v.parsed[DOCKER_COMPOSE] = result
        v.problems.extend(result.problems)
    v.metadata["compose_template"] = DOCKER_COMPOSE_TPL in entries
    if README in contents:
        v.readme, problems = read_text(contents[README], join(folder, README))
        v.problems.extend(problems)
    return v


def _read_catalog_block(v: LoadedVersion, data: bytes, path: str) -> None:
    result = parse_yaml(data, path, templated=True)
    if result.ok and result.value is None and b"{{" in data:
        # A templated rancher-compose.yml: its `.catalog` block is usually plain YAML.
        only = _catalog_lines(data)
        block_result = load_yaml(only, path) if only is not None else None
        if block_result is not None and block_result.ok:
            result.value = block_result.value
            result.positions, result.raw_scalars = (
                block_result.positions,
                block_result.raw_scalars,
            )
            result.problems.extend(block_result.problems)
    v.parsed[RANCHER_COMPOSE] = result
    v.problems.extend(result.problems)
    doc = mapping(result, path)
    key = next((k for k in CATALOG_KEYS if k in doc), None)
    if key is None:
        return
    block = doc[key]
    if not isinstance(block, dict):
        if block is not None:
            v.problems.append(
                Problem(
                    "yaml.not-mapping",
                    "error",
                    f"{key} in {path} must be a mapping of catalog "
                    "fields (version, name, questions, ...)",
                    file=path,
                    line=result.line(key),
                    blocking=True,
                )
            )
        return
    v.metadata["catalog"] = block
    v.metadata["catalog_key"] = key
    v.version = result.text_at(key, "version") or v.folder
    v.name = text(block.get("name"))
    v.description = text(block.get("description"))
    v.minimum_rancher_version = result.text_at(key, "minimum_rancher_version")
    v.maximum_rancher_version = result.text_at(key, "maximum_rancher_version")
    v.upgrade_from = text(block.get("upgrade_from"))
    questions = block.get("questions")
    if isinstance(questions, list):
        v.questions = [q for q in questions if isinstance(q, dict)]


def _catalog_lines(data: bytes) -> bytes | None:
    """Only the top-level `.catalog`/`catalog` block of a file; other lines blanked.

    Blank lines keep every line number, so problems and positions still point into the file.
    """
    out: list[bytes] = []
    inside = found = False
    for line in data.split(b"\n"):
        body = line.rstrip(b"\r")
        if body and not body[:1].isspace() and not body.startswith(b"#"):
            inside = bool(_CATALOG_LINE.match(body))
            found = found or inside
        out.append(line if inside else b"")
    return b"\n".join(out) if found else None
