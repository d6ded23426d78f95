"""A catalog's chart repository, published ahead of the rest of its sync.

A sync that loads many chart versions (a new catalog, a large merge) spends most of its
time on what a Helm client never reads: values and questions, validation, images, a row
for every file. Before all that, :func:`publish_charts` loads what the chart repository
needs of each chart version (its files, Chart.yaml, requirements.yaml: the loader's
``chart_only`` mode), packages it, and commits the catalog's next index.yaml and the new
archives as a draft (``chart_drafts``, ``chart_draft_archives``), with the catalog's
generation bumped: from then on every replica serves that index and those archives
(:mod:`catalog_server.api.helm`). The sync's swap removes the draft in its own transaction
(the index is then built from the rows, as always); a sync that fails removes it too
(:func:`withdraw_draft`), and so does the next sync of a catalog whose last one stopped
half-way. The rest of the catalog (API, site, OCI) still changes at the swap only.

What the draft lists may differ from the swap's index for a few seconds: a version whose
values or questions file cannot be read is listed by the draft and left out at the swap
(such problems are found by the full load only), and a version that broke while the rest
of its template loads is left out of the draft and listed again (its last good state) at
the swap. A template that cannot be loaded at all keeps its indexed charts in the draft,
as at the swap.

Chart versions are loaded and packaged by worker processes (forked, so nothing is
re-imported or re-listed), each reading its share of the files with its own git process.
The archives and digests are handed to the rest of the sync, which does not package them
again.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from catalog_server import images
from catalog_server.helmrepo import (
    ChartNotPackable,
    IndexEntries,
    chart_archive,
    chart_digest,
    rfc3339,
    version_entry,
)
from catalog_server.helmrepo.stored import ListedChart, served_charts
from catalog_server.indexer.forked import start_worker
from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.folder import snapshot_entries_under
from catalog_server.loaders.helm import CHART, load_helm_template
from catalog_server.models import Catalog, ChartDraft, DraftArchive
from catalog_server.sources import OpenedSource, Snapshot

log = logging.getLogger(__name__)

# A sync publishes its charts first when it loads at least this many chart versions;
# below, the whole sync takes about as long as the publishing would.
EARLY_VERSIONS = 200
# Worker processes: one per core, at most this many.
MAX_WORKERS = 4
# Chart versions per task handed to a worker (each task's files are read in one pass).
TASK_VERSIONS = 250


@dataclass(frozen=True, slots=True)
class EarlyChart:
    """One chart version as the draft lists it, and its archive."""

    slug: str
    position: int  # among the template's versions, newest first
    folder: str  # the version's folder in the template ("" for a plain chart folder)
    name: str  # the chart's name (the archive's top folder)
    filename: str
    version: str
    text: str  # the index entry
    created: datetime | None
    digest: str
    archive: bytes


Reused = dict[tuple[str, str], EarlyChart]  # (template slug, version folder) -> its chart


def chart_version_count(snapshot: Snapshot, roots: Iterable[TemplateRoot]) -> int:
    """How many chart versions these templates hold (folders with a Chart.yaml)."""
    count = 0
    for root in roots:
        if root.kind != "helm":
            continue
        count += _chart_files(snapshot_entries_under(snapshot, root.folder))
    return count


def _chart_files(below: Iterable[str]) -> int:
    return sum(1 for rel in below if rel == CHART or rel.endswith(f"/{CHART}"))


def publish_charts(
    session: Session,
    catalog: Catalog,
    opened: OpenedSource,
    to_load: list[TemplateRoot],
    removed: list[str],
    times: dict[str, int],
) -> Reused:
    """Publish the catalog's next chart repository as a draft (see the module docstring)
    when ``to_load`` holds EARLY_VERSIONS chart versions or more; commits. ``times``: the
    change times of the version folders. Returns the packaged chart versions, for the
    rest of the sync; nothing when it published nothing."""
    roots = [r for r in to_load if r.kind == "helm"]
    snapshot = opened.snapshot
    if chart_version_count(snapshot, roots) < EARLY_VERSIONS:
        return {}
    withdraw_rows(session, catalog.id)
    draft = ChartDraft(
        catalog_id=catalog.id, commit=opened.commit, index=b"", created_at=datetime.now(UTC)
    )
    session.add(draft)
    session.flush()  # the draft before its archives
    # Each worker's archives are written as they come, while the others still work; a file
    # name given twice is settled once everything is in (the first template has it).
    charts: list[EarlyChart] = []
    written: dict[str, EarlyChart] = {}
    try:
        for found in packaged_charts(snapshot, roots, times, snapshot.commit_time):
            new = {c.filename: c for c in reversed(found) if c.filename not in written}
            _write_archives(session, catalog.id, new.values())
            written.update(new)
            charts.extend(found)
    except (OSError, BrokenProcessPool) as exc:  # no processes left, or one died
        log.warning("chart versions could not be published ahead: %s", exc)
        session.rollback()
        return {}
    charts.sort(key=lambda c: (c.slug, c.position))
    # A template that gave no chart here (it could not be loaded) is listed as indexed: the
    # swap keeps its last good state too.
    skip = {c.slug for c in charts} | set(removed)
    served = served_charts(session, catalog.id, skip=skip)
    listed = heapq.merge(served, map(_listed, charts), key=lambda c: (c.slug, c.position))
    entries = IndexEntries()
    kept: dict[str, ListedChart] = {}
    latest = None
    for chart in listed:
        if chart.filename not in kept:  # the first template to give a file name has it
            entries.add_text(chart.name, chart.version, chart.text)
            kept[chart.filename] = chart
            if chart.created and (latest is None or chart.created > latest):
                latest = chart.created
    _settle_archives(session, catalog.id, kept, written, charts)
    when = snapshot.commit_time or (latest.timestamp() if latest else 0)
    draft.index = "".join(entries.chunks(rfc3339(when))).encode()
    catalog.generation = (catalog.generation or 0) + 1
    session.commit()
    log.info("sync %s: %d chart versions published ahead of the sync", catalog.name, len(kept))
    return {(c.slug, c.folder): c for c in charts}


def _write_archives(session: Session, catalog_id: int, charts: Iterable[EarlyChart]) -> None:
    rows = [
        {"catalog_id": catalog_id, "filename": c.filename, "name": c.name, "archive": c.archive}
        for c in charts
    ]
    if rows:
        session.execute(DraftArchive.__table__.insert(), rows)


def _settle_archives(
    session: Session,
    catalog_id: int,
    kept: dict[str, ListedChart],
    written: dict[str, EarlyChart],
    charts: list[EarlyChart],
) -> None:
    """Make the draft's archive rows those of the charts the index lists (``kept``): an
    indexed version's (rebuilt from its rows) where it has the file name, and where two
    new charts gave one file name, the one the index lists."""
    by_place = {(c.slug, c.position): c for c in charts}
    added, changed = [], []
    for filename, chart in kept.items():
        holder = written.get(filename)
        if chart.version_id is not None:
            row = {"name": chart.name, "version_id": chart.version_id, "archive": None}
        elif holder is not None and (holder.slug, holder.position) != (chart.slug, chart.position):
            winner = by_place[(chart.slug, chart.position)]
            row = {"name": winner.name, "version_id": None, "archive": winner.archive}
        else:
            continue  # written as it came
        if holder is None:
            added.append({"catalog_id": catalog_id, "filename": filename, **row})
        else:
            changed.append((filename, row))
    if added:
        session.execute(DraftArchive.__table__.insert(), added)
    for filename, row in changed:
        session.execute(
            update(DraftArchive)
            .where(DraftArchive.catalog_id == catalog_id, DraftArchive.filename == filename)
            .values(**row)
        )


def _listed(chart: EarlyChart) -> ListedChart:
    return ListedChart(
        chart.slug, chart.position, chart.name, chart.filename, chart.version, chart.text,
        chart.created, None,
    )  # fmt: skip


def withdraw_rows(session: Session, catalog_id: int) -> bool:
    """Delete the catalog's draft, in the caller's transaction; whether there was one."""
    found = session.scalar(select(ChartDraft.catalog_id).where(ChartDraft.catalog_id == catalog_id))
    session.execute(delete(DraftArchive).where(DraftArchive.catalog_id == catalog_id))
    session.execute(delete(ChartDraft).where(ChartDraft.catalog_id == catalog_id))
    return found is not None


def withdraw_draft(session: Session, catalog: Catalog) -> None:
    """Stop serving the catalog's draft, if it has one (its sync failed or stopped half-way):
    what was served before it is served again. Commits only when there was one."""
    if catalog.id is not None and withdraw_rows(session, catalog.id):
        catalog.generation = (catalog.generation or 0) + 1
        session.commit()


# --- loading and packaging, in worker processes -------------------------------------------

_SHARED: tuple[Snapshot, dict[str, int], int | None] | None = None  # what workers inherit


def packaged_charts(
    snapshot: Snapshot, roots: list[TemplateRoot], times: dict[str, int], fallback: int | None
) -> Iterator[list[EarlyChart]]:
    """Every usable, packable chart version of these templates, loaded chart-only, a task's
    worth at a time, in no set order (the largest tasks are started first). Raises
    BrokenProcessPool when a worker process died, OSError when none could be started."""
    global _SHARED
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    tasks = _tasks(snapshot, roots, workers)
    workers = min(workers, len(tasks))
    _SHARED = (snapshot, times, fallback)
    try:
        if workers < 2:
            yield from map(_load, tasks)
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=start_worker, initargs=(snapshot, os.getpid())
        ) as pool:
            for done in as_completed([pool.submit(_load, task) for task in tasks]):
                yield done.result()
    finally:
        _SHARED = None


# What a chart version costs to package beyond its bytes, in bytes' worth (loading its
# Chart.yaml, its index entry): about 0.4 ms, as much as gzipping 16 KiB.
VERSION_COST = 16 * 1024


def _tasks(snapshot: Snapshot, roots: list[TemplateRoot], workers: int) -> list[list[TemplateRoot]]:
    """The templates in tasks of at most TASK_VERSIONS chart versions and about a quarter of
    a worker's share of the bytes (a template is never split), the largest first: the
    workers finish together, where a big template packaged last would keep one working
    alone (rancher/charts: rancher-monitoring is 38% of the bytes)."""
    costs = []
    for root in roots:
        below = snapshot_entries_under(snapshot, root.folder)
        versions = _chart_files(below)
        costs.append(
            (root, versions, sum(e.size for e in below.values()) + versions * VERSION_COST)
        )
    budget = sum(cost for _, _, cost in costs) / (4 * max(workers, 1))
    tasks: list[tuple[int, list[TemplateRoot]]] = []
    task: list[TemplateRoot] = []
    size = cost_sum = 0
    for root, versions, cost in costs:
        task.append(root)
        size += versions
        cost_sum += cost
        if size >= TASK_VERSIONS or cost_sum >= budget:
            tasks.append((cost_sum, task))
            task, size, cost_sum = [], 0, 0
    if task:
        tasks.append((cost_sum, task))
    tasks.sort(key=lambda t: -t[0])
    return [task for _, task in tasks]


def _load(roots: list[TemplateRoot]) -> list[EarlyChart]:
    assert _SHARED is not None
    snapshot, times, fallback = _SHARED
    paths = []
    for root in roots:
        prefix = f"{root.folder}/" if root.folder else ""
        paths.extend(prefix + rel for rel in snapshot_entries_under(snapshot, root.folder))
    snapshot.prefetch(paths)
    found = []
    for root in roots:
        try:
            found.extend(_charts(snapshot, root, times, fallback))
        except Exception:  # the full load reports it; the draft goes without it
            log.exception("chart template %s could not be published ahead", root.id)
    return found


def _charts(
    snapshot: Snapshot, root: TemplateRoot, times: dict[str, int], fallback: int | None
) -> Iterator[EarlyChart]:
    template = load_helm_template(snapshot, root, chart_only=True)
    if not template.usable:
        return
    for position, version in enumerate(template.versions):
        if not version.usable:
            continue
        folder = "/".join(p for p in (template.folder, version.folder) if p)
        epoch = times.get(folder, fallback)
        created = datetime.fromtimestamp(epoch, UTC) if epoch else None
        chart, name = images.chart_name(template, version)
        try:
            archive = chart_archive(name, [(f.path, f.content) for f in version.files], created)
            digest = chart_digest(archive)
            listed_name, filename, number, text = version_entry(
                chart, version.metadata.get("requirements"), slug=template.id,
                version=version.version, icon_type=template.icon_media_type, created=created,
                digest=digest,
            )  # fmt: skip
        except (ChartNotPackable, ValueError):
            continue  # not in the repository: the full load says why
        yield EarlyChart(
            template.id, position, version.folder, listed_name, filename, number, text,
            created, digest, archive,
        )  # fmt: skip
