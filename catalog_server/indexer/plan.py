"""What a sync loads: the templates whose files changed (all of them the first time, or when
that cannot be told), the ones removed, and their validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot

if TYPE_CHECKING:
    from catalog_server.validation import Validator


def paths_within(folders: set[str], paths: Iterable[str]) -> Iterator[str]:
    """The paths inside any of `folders` (checked by ancestor, not by scanning folders)."""
    if "" in folders:
        yield from paths
        return
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent:
            if parent in folders:
                yield path
                break
            parent = parent.rpartition("/")[0]


def touches(root: TemplateRoot, changed: set[str]) -> bool:
    prefix = f"{root.folder}/" if root.folder else ""
    return any(path.startswith(prefix) for path in changed)


def run_validators(template: LoadedTemplate, snapshot: Snapshot, validators: Sequence[Validator]):
    for validate in validators:
        try:
            template.problems.extend(validate(template, snapshot))
        except Exception as exc:  # a validator bug must not stop the catalog
            template.problems.append(
                Problem("internal.validator", "error", f"validation failed: {exc!r}")
            )
    return template
