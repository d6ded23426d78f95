"""What a sync loads: the templates whose files changed (all of them the first time, or when
that cannot be told), the ones removed, and their validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.models import Catalog, ProblemRow, Template
from catalog_server.problems import Problem
from catalog_server.sources import OpenedSource, Snapshot

if TYPE_CHECKING:
    from catalog_server.validation import Validator


@dataclass(frozen=True)
class SyncPlan:
    existing: dict[str, int]  # template slug -> id, of the templates indexed now
    to_load: list[TemplateRoot]  # the templates to load again
    removed: list[str]  # slugs of the indexed templates whose folder is gone
    # Templates that never loaded (no row, only problems) and whose folder is gone: their
    # problems go too.
    vanished: list[str]


def plan_sync(
    session: Session,
    catalog: Catalog,
    opened: OpenedSource,
    roots: list[TemplateRoot],
    force: bool = False,
) -> SyncPlan:
    """Which templates to load: those with files changed since the indexed commit, new
    ones, and those that failed to load last time; every one on the first sync, with
    `force`, or when the history cannot be diffed. And which indexed ones are gone."""
    existing = dict(
        session.execute(
            select(Template.slug, Template.id).where(Template.catalog_id == catalog.id)
        ).all()
    )
    failed_before = set(
        session.scalars(
            select(ProblemRow.template)
            .where(ProblemRow.catalog_id == catalog.id, ProblemRow.blocking.is_(True))
            .distinct()
        )
    )
    # None means "reload everything": first sync, --force, or history that cannot be diffed.
    changed = opened.changed_paths(catalog.commit) if catalog.revision and not force else None
    to_load = [
        r
        for r in roots
        if changed is None or r.id not in existing or r.id in failed_before or touches(r, changed)
    ]
    root_ids = {r.id for r in roots}
    removed = [slug for slug in existing if slug not in root_ids]
    vanished = [s for s in failed_before if s is not None and s not in root_ids]
    return SyncPlan(existing, to_load, removed, vanished)


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
