"""Rules for Rancher compose templates: config.yml, catalog blocks, version folders, icon.

A compose template is `config.yml` + `catalogIcon-*` + `README.md` + one folder per version
holding `docker-compose.yml` (or `.tpl`) and `rancher-compose.yml`, whose `.catalog` (or
`catalog`) block carries the version's metadata and questions (FORMATS.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from catalog_server.loaders.folder import snapshot_entries_under
from catalog_server.loaders.model import LoadedTemplate, template_type
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot
from catalog_server.validation.content import (
    VersionFiles,
    catalog_path,
    parse_template_yaml,
    read_template_file,
    suggestion,
)
from catalog_server.validation.rules import problem
from catalog_server.versions import is_semver, version_key

CONFIG_FILE = "config.yml"
CONFIG_KEYS = frozenset({
    "name", "version", "description", "category", "maintainer", "license", "projectURL",
    "minimum_rancher_version", "maximum_rancher_version", "labels",
})  # fmt: skip
CONFIG_TEXT_KEYS = ("name", "description", "category", "maintainer", "license", "projectURL")
REQUIRED_CONFIG_KEYS = ("name", "version")
CATALOG_KEYS = frozenset({
    "version", "name", "description", "uuid", "minimum_rancher_version",
    "maximum_rancher_version", "upgrade_from", "questions", "labels",
})  # fmt: skip
RANCHER_COMPOSE = ("rancher-compose.yml", "rancher-compose.yaml")
COMPOSE_FILES = (
    "docker-compose.yml", "docker-compose.yaml", "docker-compose.yml.tpl",
    "docker-compose.yaml.tpl",
)  # fmt: skip
ICON_PREFIX = "catalogIcon-"
ICON_MAX_BYTES = 100 * 1024
_ICON_MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}
# One comparator of a Rancher (blang/semver) range: `>=1.0.0`, `<2.0.0`, `1.2.3`, `!=1.0.1`.
_COMPARATOR = re.compile(
    r"(?:<=|>=|<|>|==|=|!=)?\s*v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)


def catalog_block(files: VersionFiles) -> tuple[str | None, tuple[str, ...], dict | None]:
    """The rancher-compose file, the key path of its catalog block, and the block.

    Returns (file, path, block); file is None when the version has no rancher-compose
    file, and block is None when the file has no `.catalog` / `catalog` mapping.
    """
    rel = files.first(*RANCHER_COMPOSE)
    if rel is None:
        return None, (), None
    parsed = files.yaml(rel)
    doc = parsed.value if parsed is not None else None
    if isinstance(doc, dict):
        for key in (".catalog", "catalog"):
            if isinstance(doc.get(key), dict):
                return rel, (key,), doc[key]
    return rel, (), None


def validate_config(
    template: LoadedTemplate, snapshot: Snapshot, versions: list[VersionFiles]
) -> Iterator[Problem]:
    """Every config/folder/icon problem of a compose template (nothing for Helm)."""
    if template.kind != "compose":
        return
    yield from _config_file(template, snapshot)
    yield from _versions(versions)
    yield from _icon(template, snapshot)
    entries = snapshot.entries()
    if catalog_path(template.folder, "README.md") not in entries:
        yield problem(
            "config.readme-missing",
            "the template has no README.md; add one that says what it installs and how to use it",
            file=catalog_path(template.folder),
            template=template.id,
        )


def _config_file(template: LoadedTemplate, snapshot: Snapshot) -> Iterator[Problem]:
    parsed = parse_template_yaml(snapshot, template, CONFIG_FILE)
    if parsed is None or not isinstance(parsed.value, dict):
        return  # absent or unreadable: the loader reports it
    config, path = parsed.value, catalog_path(template.folder, CONFIG_FILE)

    def at(rule: str, message: str, key: str | None = None) -> Problem:
        line = parsed.line(key) if key else 1
        return problem(rule, message, file=path, line=line or 1, template=template.id)

    for key in REQUIRED_CONFIG_KEYS:
        if config.get(key) in (None, ""):
            yield at(
                "config.missing-field",
                f"config.yml has no `{key}`; add `{key}: ...` "
                + (
                    "(the template's display name)"
                    if key == "name"
                    else "(the default version, as written in a version's catalog block)"
                ),
            )
    for key in config:
        if key not in CONFIG_KEYS:
            yield at(
                "config.unknown-key",
                f"unknown key `{key}` in config.yml"
                f"{suggestion(key, CONFIG_KEYS)}; Rancher ignores it",
                key,
            )
    for key in CONFIG_TEXT_KEYS:
        if key in config and config[key] is not None and not isinstance(config[key], str):
            yield at(
                "config.field-type",
                f"`{key}` must be text, not {type(config[key]).__name__}; quote it",
                key,
            )
    if "labels" in config and not isinstance(config["labels"], dict | None):
        yield at("config.field-type", "`labels` must be a mapping of label: value", "labels")
    yield from _rancher_versions(config, lambda rule, msg, key: at(rule, msg, key), parsed)

    default = parsed.text_at("version")
    if default and template.versions:
        known = {v.version for v in template.versions} | {v.folder for v in template.versions}
        if default not in known:
            listed = ", ".join(sorted(v.version for v in template.versions))
            yield at(
                "config.default-version",
                f"the default version {default!r} is not the "
                f"version of any version folder ({listed}); set `version:` to one of them",
                "version",
            )


def _rancher_versions(block: dict, at, parsed) -> Iterator[Problem]:
    keys = {}
    for key in ("minimum_rancher_version", "maximum_rancher_version"):
        text = parsed.text_at(*_prefix(parsed, block), key)
        if text is None:
            continue
        keys[key] = version_key(text)
        if keys[key] is None:
            yield at(
                "config.rancher-version",
                f"`{key}: {text}` is not a version; write it like v1.6.0",
                key,
            )
    low, high = keys.get("minimum_rancher_version"), keys.get("maximum_rancher_version")
    if low is not None and high is not None and low > high:
        yield at(
            "config.rancher-version",
            "minimum_rancher_version is above "
            "maximum_rancher_version; no Rancher could install this",
            "maximum_rancher_version",
        )


def _prefix(parsed, block: dict) -> tuple[Any, ...]:
    """The key path of `block` inside the parsed document (() for the whole document)."""
    doc = parsed.value
    if doc is block:
        return ()
    for key in (".catalog", "catalog"):
        if isinstance(doc, dict) and doc.get(key) is block:
            return (key,)
    return ()


def _versions(versions: list[VersionFiles]) -> Iterator[Problem]:
    # Two folders declaring one version: the loader's `version.duplicate` (blocking).
    for files in versions:
        version = files.version
        if template_type(files.template.kind, files.template.base) != "stack":
            continue  # raw manifests, machine drivers, projects: no compose, no catalog block
        if files.first(*COMPOSE_FILES) is None:
            yield files.report(
                "config.missing-compose",
                f"version folder {version.folder!r} "
                "has no docker-compose.yml (or docker-compose.yml.tpl); add the "
                "compose file this version installs",
            )
        rel, prefix, block = catalog_block(files)
        if block is None:
            where = f"{rel} has no `.catalog:` block" if rel else "there is no rancher-compose.yml"
            yield files.report(
                "config.missing-catalog",
                f"{where}; add `.catalog:` with name, version and description",
                rel,
                1 if rel else None,
            )
        else:
            yield from _catalog_block(files, rel, prefix, block)
        text = version.version
        if text and not is_semver(text) and not text.isdigit():
            line = files.yaml(rel).line(*prefix, "version") if block is not None else None
            yield files.report(
                "config.version-format",
                f"version {text!r} is neither semver "
                "(1.2.3) nor a revision number; it cannot be ordered reliably",
                rel,
                line,
            )


def _catalog_block(files: VersionFiles, rel: str, prefix: tuple, block: dict):
    parsed = files.yaml(rel)

    def at(rule: str, message: str, key: str | None) -> Problem:
        return files.report(
            rule, message, rel, parsed.line(*prefix, key) if key else parsed.line(*prefix) or 1
        )

    for key in block:
        if key not in CATALOG_KEYS:
            yield at(
                "config.unknown-key",
                f"unknown key `{key}` in the catalog block"
                f"{suggestion(key, CATALOG_KEYS)}; Rancher ignores it",
                key,
            )
    if "questions" in block and not isinstance(block["questions"], list | None):
        yield at("config.field-type", "`questions` must be a list of questions", "questions")
    yield from _rancher_versions(block, at, parsed)
    upgrade = parsed.text_at(*prefix, "upgrade_from")
    if upgrade is not None and not valid_range(upgrade):
        yield at(
            "config.upgrade-from",
            f"upgrade_from {upgrade!r} is not a semver range; "
            "write comparators like `>=1.0.0 <2.0.0`, alternatives joined by `||`",
            "upgrade_from",
        )


def valid_range(text: str) -> bool:
    """True for a Rancher/blang semver range: comparators separated by spaces, `||`."""
    for alternative in text.split("||"):
        rest = alternative.strip()
        if not rest:
            return False
        while rest:
            m = _COMPARATOR.match(rest)
            if not m:
                return False
            rest = rest[m.end() :].lstrip()
    return True


def _icon(template: LoadedTemplate, snapshot: Snapshot) -> Iterator[Problem]:
    # The template folder's own entries (an indexed lookup), not a scan of the catalog.
    icons = [
        e
        for rel, e in snapshot_entries_under(snapshot, template.folder).items()
        if rel.startswith(ICON_PREFIX) and "/" not in rel
    ]
    if not icons:
        yield problem(
            "config.icon-missing",
            f"the template has no icon; add "
            f"{ICON_PREFIX}<name>.svg (or .png / .jpg, at most "
            f"{ICON_MAX_BYTES // 1024} KiB)",
            file=catalog_path(template.folder),
            template=template.id,
        )
        return
    for entry in icons:
        name = entry.path.rpartition("/")[2]
        ext = name.rpartition(".")[2].lower() if "." in name else ""

        def at(rule: str, message: str, path: str = entry.path) -> Problem:
            return problem(rule, message, file=path, template=template.id)

        if entry.size > ICON_MAX_BYTES:
            yield at(
                "config.icon-size",
                f"the icon is {entry.size // 1024} KiB; keep it at "
                f"most {ICON_MAX_BYTES // 1024} KiB (optimise the SVG or shrink the image)",
            )
            continue
        if ext not in ("svg", "png", "jpg", "jpeg"):
            yield at("config.icon-format", f"icon {name!r} must be an .svg, .png or .jpg file")
            continue
        data = read_template_file(snapshot, template, name, ICON_MAX_BYTES)
        if data is not None and not _looks_like(ext, data):
            yield at(
                "config.icon-format",
                f"icon {name!r} does not hold {ext.upper()} data; "
                "save it in the format its extension names",
            )


def _looks_like(ext: str, data: bytes) -> bool:
    if ext == "svg":
        head = data[:4096].lstrip().lower()
        return b"<svg" in head and not head.startswith((b"\x89png", b"\xff\xd8"))
    return data.startswith(_ICON_MAGIC[ext])
