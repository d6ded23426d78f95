"""What a sync loads: the templates whose files changed (all of them the first time, or when
that cannot be told), the ones removed, and their validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.folder import child_folders, snapshot_entries_under
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


# A sync loads, validates and writes this many files' templates at a time (one template is
# never split): what it holds in memory is bounded by this, not by the catalog's size.
BATCH_FILES = 4000


def batches(
    snapshot: Snapshot, roots: Sequence[TemplateRoot], max_files: int | None = None
) -> Iterator[tuple[list[TemplateRoot], list[str]]]:
    """`roots` in groups of about `max_files` (BATCH_FILES) files, each with the paths of
    its files."""
    limit = BATCH_FILES if max_files is None else max_files
    batch: list[TemplateRoot] = []
    paths: list[str] = []
    for root in roots:
        batch.append(root)
        prefix = f"{root.folder}/" if root.folder else ""
        paths.extend(prefix + rel for rel in snapshot_entries_under(snapshot, root.folder))
        if len(paths) >= limit:
            yield batch, paths
            batch, paths = [], []
    if batch:
        yield batch, paths


def version_folders(snapshot: Snapshot, roots: Iterable[TemplateRoot]) -> set[str]:
    """The folders a version of these templates can be in: a template's own folder and the
    folders directly in it."""
    folders = set()
    for root in roots:
        prefix = f"{root.folder}/" if root.folder else ""
        folders.add(root.folder)
        below = snapshot_entries_under(snapshot, root.folder)
        folders.update(prefix + child for child in child_folders(below))
    return folders


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
