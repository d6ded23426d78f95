"""The indexer: the only writer of catalog content to the database.

`sync_catalog` brings one catalog up to its source's newest commit. It loads only the
templates with files changed since the last indexed commit (all of them the first time,
or when that cannot be told), and swaps the catalog's new state in one transaction: a
reader sees the old catalog or the new one, never a mix. The one exception is the chart
repository of a sync that loads many chart versions: it is published ahead, as a draft
that the swap replaces (:mod:`.early`).

What is served: a template whose folder cannot be loaded at all keeps its last good state
(if any) and gets its problems recorded; a version that cannot be read, parsed or loaded
keeps its last good state too, and the template's other versions are served as usual.
Problems of every other kind are recorded and hide nothing.

With a signer (see :mod:`catalog_server.signing`), chart archives get their provenance files
in the same transaction that starts serving them (an archive Helm cannot load stays unsigned,
with a warning); a catalog whose content is up to date is still brought in line with the key
(first signed, key changed or signing turned off), its generation bumped when that changes
what is served.

The parts: this module runs a sync; `plan` decides what to load, `early` publishes the
chart repository ahead of a large sync, `stamps` gives versions
their created time, chart digest and images, `write` writes the rows of the swap, and
`bookkeeping` keeps the summary and the catalog row's record of the sync.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from catalog_server import search
from catalog_server.catalogs import CatalogSource, scrub
from catalog_server.indexer.bookkeeping import SyncSummary, catalog_row, fill_counts, settle
from catalog_server.indexer.early import Reused, publish_charts, withdraw_draft, withdraw_rows
from catalog_server.indexer.loading import loaded_batches
from catalog_server.indexer.plan import (
    SyncPlan,
    plan_sync,
    run_validators,
    version_folders,
)
from catalog_server.indexer.stamps import (
    ChangeTimes,
    epoch_time,
    previous_images,
    version_stamps,
)
from catalog_server.indexer.write import (
    clear_problems,
    insert_problems,
    remove_templates,
    write_template,
)
from catalog_server.loaders.detect import snapshot_templates
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.loaders.repository import artifacthub_repo
from catalog_server.locks import catalog_lock
from catalog_server.models import Catalog
from catalog_server.problems import SourceError
from catalog_server.signing import Signer, sign_catalog
from catalog_server.sources import OpenedSource, Snapshot, open_source, snapshot_revision

if TYPE_CHECKING:
    from catalog_server.validation import CatalogCheck, Validator

log = logging.getLogger(__name__)

__all__ = [
    "MAX_CATALOG_BYTES",
    "MAX_CATALOG_FILES",
    "SyncSummary",
    "check_catalog_size",
    "sync_catalog",
]

Progress = Callable[[int, int, str], None]  # (done, total, template id)


def sync_catalog(
    session: Session,
    source: CatalogSource,
    *,
    cache_dir,
    git_timeout: int = 120,
    force: bool = False,
    validators: Sequence[Validator] = (),
    catalog_checks: Sequence[CatalogCheck] = (),
    progress: Progress | None = None,
    signer: Signer | None = None,
    render_images: bool = True,
    max_files: int | None = None,
) -> SyncSummary:
    """Index `source` into the database. Never raises for bad catalog content or a source
    that cannot be fetched: the summary's status is "failed" and the catalog keeps serving
    its last good state, with `last_error` recorded. With `signer`, chart archives are
    signed (see the module's docstring).

    `render_images`: find chart versions' images by rendering them with the Helm SDK
    (`catalog_server.images`), only for versions whose chart archive changed; False reads
    them from the values. `max_files`: the most files a catalog may hold (default
    MAX_CATALOG_FILES)."""
    started = time.monotonic()
    with catalog_lock(session, source.name, cache_dir), collections_paused():
        catalog = catalog_row(session, source)
        withdraw_draft(session, catalog)  # left by a sync that stopped half-way
        summary = SyncSummary(source.name, "updated", from_commit=catalog.commit)
        asked_at = datetime.now(UTC)
        try:
            opened = open_source(source, cache_dir, git_timeout)
            revision = snapshot_revision(opened.snapshot)
            check_catalog_size(opened.snapshot, max_files)
            summary.to_commit = opened.commit
            if catalog.revision == revision and not force:
                summary.status = "up to date"
                before = catalog.signing_key
                summary.signed = sign_catalog(session, catalog, signer, reindexed=False)
                if summary.signed or catalog.signing_key != before:
                    catalog.generation = (catalog.generation or 0) + 1
                    summary.served_changed = True
                settle(catalog, summary, asked_at)
                # A sync with nothing to do writes nothing, not even the attempt time.
                session.commit() if session.dirty else session.rollback()
            else:
                catalog.sync_state = "syncing"
                session.commit()
                checks = Checks(validators, catalog_checks, render_images)
                try:
                    index_catalog(
                        session, catalog, opened, revision, summary, checks, progress, force,
                        signer,
                    )  # fmt: skip
                except BaseException:
                    session.rollback()
                    withdraw_after_failure(session, catalog)
                    raise
                summary.served_changed = True
                summary.seconds = time.monotonic() - started
                settle(catalog, summary, asked_at)
                session.commit()
                refresh_statistics(session, summary.templates_reloaded)
        except SourceError as exc:
            session.rollback()
            summary.status, summary.error = "failed", str(exc)
            summary.seconds = time.monotonic() - started
            catalog.last_error = scrub(str(exc))
            catalog.last_attempt_at = datetime.now(UTC)
            settle(catalog, summary, asked_at)
            session.commit()
        fill_counts(session, catalog, summary)
        summary.signing_key = catalog.signing_key
    summary.seconds = time.monotonic() - started
    return summary


def withdraw_after_failure(session: Session, catalog: Catalog) -> None:
    """A failed sync's draft is not served (what was is, again); if even that fails (the
    database is gone), the next sync of the catalog removes it."""
    try:
        withdraw_draft(session, catalog)
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("the chart draft of %s could not be removed: %s", catalog.name, exc)


def index_batch(
    session: Session,
    catalog: Catalog,
    opened: OpenedSource,
    plan: SyncPlan,
    loaded: list[LoadedTemplate],
    checks: Checks,
    change_times: ChangeTimes,
    summary: SyncSummary,
    generation: int,
    packaged: Reused | None = None,
) -> None:
    """Stamp, validate and write a batch of loaded templates (in the sync's transaction),
    marked with the catalog ``generation`` the sync's swap makes served. ``packaged``: the
    chart versions published ahead, whose archives are not made again."""
    existing = plan.existing
    previous = previous_images(session, catalog.id, [t.id for t in loaded if t.id in existing])
    # Digests, and the images of the chart versions whose archive changed (they read the
    # same archive), before validation: policy reads the images.
    stamps = version_stamps(opened, loaded, previous, checks.render_images, change_times, packaged)
    for template in loaded:
        run_validators(template, opened.snapshot, checks.validators)
    for template in loaded:
        summary.templates_failed += write_template(
            session, catalog, template, existing.get(template.id), stamps, opened.commit,
            generation,
        )  # fmt: skip
    insert_problems(session, catalog.id, (p for t in loaded for p in t.all_problems()))


@contextmanager
def collections_paused() -> Iterator[None]:
    """Python's automatic garbage collection off during a sync (which collects what each
    batch of templates leaves): a collection whenever enough objects were made scans the
    whole process, the catalog's listing included, again and again (a tenth of a cold
    sync's time, and a third of listing a catalog of 500,000 files)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Beyond these a catalog is refused whole, with a clear error, before anything is loaded.
MAX_CATALOG_FILES = 200_000
MAX_CATALOG_BYTES = 1024 * 1024 * 1024


def check_catalog_size(snapshot: Snapshot, max_files: int | None = None) -> None:
    """Raise SourceError when the catalog holds too many files (more than ``max_files``,
    by default MAX_CATALOG_FILES) or bytes to index."""
    entries = snapshot.entries()
    limit = MAX_CATALOG_FILES if max_files is None else max_files
    if len(entries) > limit:
        raise SourceError(
            f"the catalog holds {len(entries)} files; at most {limit} are indexed "
            "(CATALOG_MAX_FILES)"
        )
    total = sum(e.size for e in entries.values())
    if total > MAX_CATALOG_BYTES:
        raise SourceError(
            f"the catalog holds {total // (1024 * 1024)} MiB; at most "
            f"{MAX_CATALOG_BYTES // (1024 * 1024)} MiB are indexed"
        )


# After a sync that rewrote at least this many templates, PostgreSQL's planner statistics
# and visibility map are brought up to date at once rather than by autovacuum a minute or
# more later: planned with the statistics of a near-empty database, a search joined 10,000
# templates one by one, and until a VACUUM the templates' list index (search.LIST_INDEX)
# cannot answer alone (24 ms against 14 for a query matching 2,800 of 10,000 templates).
ANALYZE_AFTER = 1000
_VACUUMED = ("templates", search.TABLE)
_ANALYZED = ("template_categories", "template_versions", "problems")


def refresh_statistics(session: Session, reloaded: int) -> None:
    if reloaded < ANALYZE_AFTER or session.get_bind().dialect.name != "postgresql":
        return
    # VACUUM runs outside a transaction: on a connection of its own, after the sync's commit.
    # The sync is done whatever happens here (a role that does not own the tables gets
    # PostgreSQL's warning; autovacuum still comes later).
    try:
        with session.get_bind().connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text(f"VACUUM (ANALYZE) {', '.join(_VACUUMED)}"))
            conn.execute(text(f"ANALYZE {', '.join(_ANALYZED)}"))
    except SQLAlchemyError as exc:
        log.warning("database maintenance after the sync failed: %s", exc)


@dataclass(frozen=True)
class Checks:
    validators: Sequence[Validator]
    catalog_checks: Sequence[CatalogCheck]
    render_images: bool


def index_catalog(
    session: Session,
    catalog: Catalog,
    opened: OpenedSource,
    revision: str,
    summary: SyncSummary,
    checks: Checks,
    progress: Progress | None,
    force: bool = False,
    signer: Signer | None = None,
) -> None:
    snapshot = opened.snapshot
    roots, catalog_problems = snapshot_templates(snapshot)
    plan = plan_sync(session, catalog, opened, roots, force)
    to_load, removed = plan.to_load, plan.removed
    change_times = ChangeTimes(opened, version_folders(snapshot, to_load))
    # Helm clients get the new charts now; the rest of the catalog changes at the swap. Not
    # for a signed catalog: its archives are served with their provenance files from the start.
    packaged: Reused = {}
    if signer is None:
        packaged = publish_charts(session, catalog, opened, to_load, removed, change_times.times)
    generation = (catalog.generation or 0) + 1  # what this sync's swap makes served
    for check in checks.catalog_checks:
        catalog_problems.extend(check(snapshot))
    # Everything below is one transaction; the commit at the end is the swap. Templates are
    # loaded, validated and written a batch at a time, so a sync holds one batch's files
    # and parsed documents, whatever the catalog's size.
    clear_problems(session, catalog.id, [r.id for r in to_load] + removed + plan.vanished)
    insert_problems(session, catalog.id, catalog_problems)
    reloaded: list[str] = []
    for loaded in loaded_batches(snapshot, to_load):
        index_batch(
            session, catalog, opened, plan, loaded, checks, change_times, summary, generation,
            packaged,
        )  # fmt: skip
        for template in loaded:
            reloaded.append(template.id)
            if progress:
                progress(len(reloaded), len(to_load), template.id)
        del loaded
        gc.collect(1)  # what this batch left in cycles
    remove_templates(session, catalog.id, removed)
    catalog.artifacthub_repo = artifacthub_repo(snapshot)[0]
    summary.signed = sign_catalog(session, catalog, signer)
    catalog.commit = opened.commit
    catalog.revision = revision
    catalog.commit_time = epoch_time(snapshot.commit_time)
    catalog.indexed_at = catalog.last_attempt_at = datetime.now(UTC)
    catalog.last_error = None
    catalog.generation = generation
    withdraw_rows(session, catalog.id)  # the index is the rows' again
    session.commit()
    summary.templates_reloaded = len(reloaded)
    summary.templates_removed = len(removed)
    summary.reloaded = reloaded
