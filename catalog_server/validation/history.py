"""Version rules across two states of a catalog (`catalog-server lint --changed-since REF`).

Published versions are immutable: a version folder that exists at the base ref must keep
its files byte for byte (`version.published-changed`); a new version must be greater than
every version the template had (`version.not-increasing`); a removed version is reported
(`version.removed`, a warning: removing is sometimes deliberate). A plain chart (one
version, in the chart folder itself) that changes must bump its version.

The template's default version still naming a version is `config.default-version`, which
the ordinary rules check on the new state.
"""

from __future__ import annotations

from collections.abc import Iterator

from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.problems import Problem
from catalog_server.validation.content import catalog_path
from catalog_server.validation.rules import problem
from catalog_server.versions import version_key


def changed_templates(templates: list[LoadedTemplate], changed: set[str]) -> set[str]:
    """Ids of the templates with a file among `changed` (paths relative to the root)."""
    ids = set()
    for template in templates:
        prefix = f"{template.folder}/" if template.folder else ""
        if any(path.startswith(prefix) for path in changed):
            ids.add(template.id)
    return ids


def compare_versions(old: LoadedTemplate, new: LoadedTemplate, ref: str) -> Iterator[Problem]:
    """Problems of `new` against the same template at `ref` (`old`)."""
    before = {v.folder: v for v in old.versions}
    after = {v.folder: v for v in new.versions}

    def at(rule: str, message: str, version: LoadedVersion, rel: str | None = None):
        return problem(
            rule,
            message,
            file=catalog_path(new.folder, version.folder, rel),
            template=new.id,
            version=version.version,
        )

    if set(before) == {""} == set(after):  # a plain chart: one version, changed in place
        old_v, new_v = before[""], after[""]
        if old_v.version == new_v.version:
            changed = _changed_file(old_v, new_v)
            if changed is not None:
                yield at(
                    "version.published-changed",
                    f"{changed} changed but the chart "
                    f"version is still {new_v.version}, published at {ref}; bump "
                    "`version:` in Chart.yaml",
                    new_v,
                    "Chart.yaml",
                )
            return
        yield from _increasing(new_v, old.versions, ref, at)
        return
    for folder, new_v in after.items():
        old_v = before.get(folder)
        if old_v is None:
            yield from _increasing(new_v, old.versions, ref, at)
            continue
        changed = _changed_file(old_v, new_v)
        if changed is not None:
            yield at(
                "version.published-changed",
                f"version {old_v.version} was published at "
                f"{ref} and must not change ({changed} differs); add a new version "
                "folder instead",
                new_v,
                changed if changed != "(files)" else None,
            )
    for folder, old_v in before.items():
        if folder not in after:
            yield problem(
                "version.removed",
                f"version {old_v.version} (folder {folder}/) was "
                f"published at {ref} and is removed; installs of it can no longer "
                "be upgraded from the catalog",
                file=catalog_path(new.folder, folder),
                template=new.id,
                version=old_v.version,
            )


def _changed_file(old: LoadedVersion, new: LoadedVersion) -> str | None:
    """The first file that differs between two states of a version folder, or None."""

    def digests(version: LoadedVersion) -> dict[str, str]:
        return {f.path: f.sha256 or str(f.size) for f in version.files}

    a, b = digests(old), digests(new)
    for path in sorted(set(a) | set(b)):
        if a.get(path) != b.get(path):
            return path
    return None


def _increasing(new_v: LoadedVersion, old_versions: list[LoadedVersion], ref: str, at):
    key = version_key(new_v.version)
    for old_v in old_versions:
        old_key = version_key(old_v.version)
        if key is not None and old_key is not None:
            lower = key <= old_key
        elif new_v.revision is not None and old_v.revision is not None:
            lower = new_v.revision <= old_v.revision
        else:
            continue  # versions that cannot be ordered: config.version-format says so
        if lower:
            yield at(
                "version.not-increasing",
                f"new version {new_v.version} is not greater "
                f"than {old_v.version}, published at {ref}; new versions must be newer "
                "than every existing one",
                new_v,
            )
            return
