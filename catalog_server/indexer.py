"""The indexer: the only writer of catalog content to the database.

`sync_catalog` brings one catalog up to its source's newest commit. It loads only the
templates with files changed since the last indexed commit (all of them the first time,
or when that cannot be told), and swaps the catalog's new state in one transaction: a
reader sees the old catalog or the new one, never a mix.

What is served: a template whose folder cannot be loaded at all keeps its last good state
(if any) and gets its problems recorded; a version that cannot be read, parsed or loaded
keeps its last good state too, and the template's other versions are served as usual.
Problems of every other kind are recorded and hide nothing.

With a signer (see :mod:`catalog_server.signing`), chart archives get their provenance files
in the same transaction that starts serving them (an archive Helm cannot load stays unsigned,
with a warning); a catalog whose content is up to date is still brought in line with the key
(first signed, key changed or signing turned off), its generation bumped when that changes
what is served.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from catalog_server import helmsdk, images
from catalog_server.catalogs import CatalogSource, scrub
from catalog_server.charts import ChartNotPackable, chart_archive
from catalog_server.helmrepo import chart_digest
from catalog_server.loaders import load_template
from catalog_server.loaders.detect import TemplateRoot, snapshot_templates
from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.loaders.repository import artifacthub_repo
from catalog_server.loaders.versions import sort_versions
from catalog_server.locks import catalog_lock
from catalog_server.models import (
    Catalog,
    ProblemRow,
    Template,
    TemplateCategory,
    TemplateVersion,
    VersionFile,
)
from catalog_server.problems import PROBLEM_FIELDS, Problem, SourceError
from catalog_server.releases import default_namespace, default_release
from catalog_server.signing import Signer, sign_catalog
from catalog_server.sources import OpenedSource, Snapshot, open_source, snapshot_revision

# A validator adds problems to a loaded template: (template, snapshot) -> problems.
Validator = Callable[[LoadedTemplate, Snapshot], Iterable[Problem]]
# A catalog check finds problems of the catalog as a whole: snapshot -> problems.
CatalogCheck = Callable[[Snapshot], Iterable[Problem]]
Progress = Callable[[int, int, str], None]  # (done, total, template id)


@dataclass
class SyncSummary:
    catalog: str
    status: str  # "updated", "up to date" or "failed"
    from_commit: str | None = None
    to_commit: str | None = None
    templates_total: int = 0
    templates_failed: int = 0
    templates_reloaded: int = 0
    templates_removed: int = 0
    errors: int = 0
    warnings: int = 0
    seconds: float = 0.0
    error: str | None = None
    signed: int = 0  # chart archives given a provenance file
    signing_key: str | None = None  # fingerprint of the key the catalog is signed with
    reloaded: list[str] = field(default_factory=list)
    served_changed: bool = False  # what the catalog serves changed (the site is stale)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("reloaded")
        data.pop("served_changed")
        data["seconds"] = round(self.seconds, 3)
        return data


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
) -> SyncSummary:
    """Index `source` into the database. Never raises for bad catalog content or a source
    that cannot be fetched: the summary's status is "failed" and the catalog keeps serving
    its last good state, with `last_error` recorded. With `signer`, chart archives are
    signed (see the module's docstring).

    `render_images`: find chart versions' images by rendering them with the Helm SDK
    (`catalog_server.images`), only for versions whose chart archive changed; False reads
    them from the values."""
    started = time.monotonic()
    with catalog_lock(session, source.name, cache_dir):
        catalog = _catalog_row(session, source)
        summary = SyncSummary(source.name, "updated", from_commit=catalog.commit)
        asked_at = datetime.now(UTC)
        try:
            opened = open_source(source, cache_dir, git_timeout)
            revision = snapshot_revision(opened.snapshot)
            check_catalog_size(opened.snapshot)
            summary.to_commit = opened.commit
            if catalog.revision == revision and not force:
                summary.status = "up to date"
                before = catalog.signing_key
                summary.signed = sign_catalog(session, catalog, signer, reindexed=False)
                if summary.signed or catalog.signing_key != before:
                    catalog.generation = (catalog.generation or 0) + 1
                    summary.served_changed = True
                _settle(catalog, summary, asked_at)
                # A sync with nothing to do writes nothing, not even the attempt time.
                session.commit() if session.dirty else session.rollback()
            else:
                catalog.sync_state = "syncing"
                session.commit()
                checks = _Checks(validators, catalog_checks, render_images)
                _index(session, catalog, opened, revision, summary, checks, progress, force, signer)
                summary.served_changed = True
                summary.seconds = time.monotonic() - started
                _settle(catalog, summary, asked_at)
                session.commit()
        except SourceError as exc:
            session.rollback()
            summary.status, summary.error = "failed", str(exc)
            summary.seconds = time.monotonic() - started
            catalog.last_error = scrub(str(exc))
            catalog.last_attempt_at = datetime.now(UTC)
            _settle(catalog, summary, asked_at)
            session.commit()
        _fill_counts(session, catalog, summary)
        summary.signing_key = catalog.signing_key
    summary.seconds = time.monotonic() - started
    return summary


# Beyond these a catalog is refused whole, with a clear error, before anything is loaded.
MAX_CATALOG_FILES = 200_000
MAX_CATALOG_BYTES = 1024 * 1024 * 1024


def check_catalog_size(snapshot: Snapshot) -> None:
    """Raise SourceError when the catalog holds too many files or bytes to index."""
    entries = snapshot.entries()
    if len(entries) > MAX_CATALOG_FILES:
        raise SourceError(
            f"the catalog holds {len(entries)} files; at most {MAX_CATALOG_FILES} are indexed"
        )
    total = sum(e.size for e in entries.values())
    if total > MAX_CATALOG_BYTES:
        raise SourceError(
            f"the catalog holds {total // (1024 * 1024)} MiB; at most "
            f"{MAX_CATALOG_BYTES // (1024 * 1024)} MiB are indexed"
        )


def _settle(catalog: Catalog, summary: SyncSummary, asked_at: datetime) -> None:
    """Record the outcome on the catalog row, writing only fields whose value changes."""
    failed = summary.status == "failed"
    values = {
        "sync_state": "failed" if failed else "idle",
        "failures": (catalog.failures or 0) + 1 if failed else 0,
    }
    if summary.status != "up to date":
        values["last_sync_status"] = summary.status
        values["last_sync_seconds"] = round(summary.seconds, 3)
    requested = catalog.refresh_requested_at
    if requested is not None and _aware(requested) <= asked_at:
        values["refresh_requested_at"] = None  # a request that came in during the sync stays
    for key, value in values.items():
        if getattr(catalog, key) != value:
            setattr(catalog, key, value)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _catalog_row(session: Session, source: CatalogSource) -> Catalog:
    catalog = session.scalar(select(Catalog).where(Catalog.name == source.name))
    if catalog is None:
        catalog = Catalog(name=source.name, url=source.public_url, generation=0)
        session.add(catalog)
        session.commit()  # the row exists from the first attempt on, to carry its errors
    # Written only when they differ, so that a sync with nothing to do writes nothing.
    settings = {
        "url": source.public_url,
        "branch": source.branch,
        "subdir": source.subdir or None,
        "refresh_interval": source.refresh_interval,
        "credentials": source.credentials,
        "webhook_secret": source.webhook_secret,
    }
    for key, value in settings.items():
        if getattr(catalog, key) != value:
            setattr(catalog, key, value)
    return catalog


def _fill_counts(session: Session, catalog: Catalog, summary: SyncSummary) -> None:
    summary.templates_total = session.scalar(
        select(func.count()).select_from(Template).where(Template.catalog_id == catalog.id)
    )
    rows = session.execute(
        select(ProblemRow.severity, func.count())
        .where(ProblemRow.catalog_id == catalog.id)
        .group_by(ProblemRow.severity)
    ).all()
    counts = dict(rows)
    summary.errors, summary.warnings = counts.get("error", 0), counts.get("warning", 0)


@dataclass(frozen=True)
class _Checks:
    validators: Sequence[Validator]
    catalog_checks: Sequence[CatalogCheck]
    render_images: bool


def _index(
    session: Session,
    catalog: Catalog,
    opened: OpenedSource,
    revision: str,
    summary: SyncSummary,
    checks: _Checks,
    progress: Progress | None,
    force: bool = False,
    signer: Signer | None = None,
) -> None:
    validators, catalog_checks = checks.validators, checks.catalog_checks
    snapshot = opened.snapshot
    generation = (catalog.generation or 0) + 1  # what this sync's swap makes served
    roots, catalog_problems = snapshot_templates(snapshot)
    for check in catalog_checks:
        catalog_problems.extend(check(snapshot))
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
        if changed is None or r.id not in existing or r.id in failed_before or _touches(r, changed)
    ]
    root_ids = {r.id for r in roots}
    removed = [slug for slug in existing if slug not in root_ids]

    # Read what is to be loaded in one bulk pass rather than a request per file.
    snapshot.prefetch(_paths_within({r.folder for r in to_load}, snapshot.entries()))
    loaded: list[LoadedTemplate] = [load_template(snapshot, root) for root in to_load]
    previous = _previous_images(session, catalog.id, [t.id for t in loaded if t.id in existing])
    # Digests, and the images of the chart versions whose archive changed (they read the
    # same archive), before validation: policy reads the images.
    stamps = _version_stamps(opened, loaded, previous, checks.render_images)
    for done, template in enumerate(loaded, 1):
        _validate(template, snapshot, validators)
        if progress:
            progress(done, len(to_load), template.id)
    # Everything below is one transaction; the commit at the end is the swap.
    for template in loaded:
        failed = _write_template(
            session, catalog, template, existing.get(template.id), stamps, opened.commit, generation
        )
        summary.templates_failed += failed
    if removed:
        session.execute(
            delete(Template).where(Template.catalog_id == catalog.id, Template.slug.in_(removed))
        )
    reloaded_or_removed = [t.id for t in loaded] + removed
    session.execute(
        delete(ProblemRow).where(
            ProblemRow.catalog_id == catalog.id,
            (ProblemRow.template.in_(reloaded_or_removed)) | ProblemRow.template.is_(None),
        )
    )
    rows = [_problem_row(catalog.id, p) for p in catalog_problems]
    for template in loaded:
        rows.extend(_problem_row(catalog.id, p) for p in template.all_problems())
    if rows:
        session.execute(insert(ProblemRow.__table__), rows)
    catalog.artifacthub_repo = artifacthub_repo(snapshot)[0]
    summary.signed = sign_catalog(session, catalog, signer)
    catalog.commit = opened.commit
    catalog.revision = revision
    catalog.commit_time = _time(snapshot.commit_time)
    catalog.indexed_at = catalog.last_attempt_at = datetime.now(UTC)
    catalog.last_error = None
    catalog.generation = generation
    session.commit()
    summary.templates_reloaded = len(loaded)
    summary.templates_removed = len(removed)
    summary.reloaded = [t.id for t in loaded]


def _time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def version_folder(template: LoadedTemplate, version: LoadedVersion) -> str:
    return "/".join(p for p in (template.folder, version.folder) if p)


Stamp = tuple[datetime | None, str | None, int | None]  # (created, chart digest, size)


def _previous_images(session: Session, catalog_id: int, slugs: list[str]):
    """{(template slug, version folder): (chart digest, images)} of the indexed versions."""
    if not slugs:
        return {}
    rows = session.execute(
        select(
            Template.slug,
            TemplateVersion.folder,
            TemplateVersion.chart_digest,
            TemplateVersion.images,
        )  # fmt: skip
        .join(Template, Template.id == TemplateVersion.template_id)
        .where(
            Template.catalog_id == catalog_id,
            Template.slug.in_(slugs),
            TemplateVersion.images.is_not(None),
        )  # fmt: skip
    ).all()
    return {(row.slug, row.folder): (row.chart_digest, row.images) for row in rows}


def _version_stamps(
    opened: OpenedSource, loaded: list[LoadedTemplate], previous: dict, render_images: bool
) -> dict[int, Stamp]:
    """created time, chart digest and archive size of every loaded version, by
    id(version); and the images of every usable chart version (`version.images`).

    created is the time of the last commit that changed the version's folder, so it does
    not move when other templates change, and the chart archive (whose mtimes it pins) is
    the same whichever sync, incremental or cold, built it. A version whose digest is the
    one indexed keeps its images; the others are rendered from the archive just built.
    """
    folders = [version_folder(t, v) for t in loaded for v in t.versions]
    times = opened.last_change_times(folders)
    fallback = opened.snapshot.commit_time
    stamps: dict[int, Stamp] = {}
    with images.Renderer() as renderer:
        found = _Images(previous, renderer, render_images)
        for template in loaded:
            for version in template.versions:
                created = _time(times.get(version_folder(template, version), fallback))
                digest = size = None
                if template.kind == "helm" and version.usable:
                    digest, size = _chart_version(template, version, created, found)
                stamps[id(version)] = (created, digest, size)
        results = renderer.results()
    for key, version in found.pending.items():
        rendered, note = results[key]
        version.images = images.finish({f.path: f.content for f in version.files}, rendered, note)
    return stamps


class _Images:
    """What _chart_version needs to give a version its images."""

    def __init__(self, previous: dict, renderer: images.Renderer, render_images: bool):
        self.previous = previous
        self.renderer = renderer
        self.render = render_images and helmsdk.available()
        self.note = None if render_images else images.RENDER_OFF
        if render_images and not self.render:
            self.note = images.SDK_MISSING
        self.pending: dict[int, LoadedVersion] = {}


def _chart_version(template, version, created, found: _Images) -> tuple[str | None, int | None]:
    """The digest and archive size of a chart version; its images set, or submitted for
    rendering."""
    chart, name = images.chart_name(template, version)
    files = [(f.path, f.content) for f in version.files]
    try:
        archive = chart_archive(name, files, created)
    except ChartNotPackable as exc:
        version.problems.append(
            Problem(
                "helm.package",
                "error",
                f"the chart cannot be packaged, so it is left out of the Helm repository: {exc}",
                file=version_folder(template, version),
            )
        )
        version.images = images.finish(dict(files), None, f"the chart cannot be packaged: {exc}")
        return None, None
    digest = chart_digest(archive)
    old_digest, old = found.previous.get((template.id, version.folder), (None, None))
    # Images read from the values only because rendering was not possible are found again.
    stale = (
        found.render
        and old is not None
        and old.get("source") != "rendered"
        and (old.get("note") in (images.SDK_MISSING, images.RENDER_OFF))
    )
    if old is not None and old_digest == digest and not stale:
        version.images = images.ChartImages.from_json(old)
    elif found.render:
        job = images.RenderJob(archive, default_release(name, chart), default_namespace(chart))
        found.renderer.submit(id(version), job)
        found.pending[id(version)] = version
    else:
        version.images = images.finish(dict(files), None, found.note)
    return digest, len(archive)


def _paths_within(folders: set[str], paths: Iterable[str]) -> Iterator[str]:
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


def _touches(root: TemplateRoot, changed: set[str]) -> bool:
    prefix = f"{root.folder}/" if root.folder else ""
    return any(path.startswith(prefix) for path in changed)


def _validate(template: LoadedTemplate, snapshot: Snapshot, validators: Sequence[Validator]):
    for validate in validators:
        try:
            template.problems.extend(validate(template, snapshot))
        except Exception as exc:  # a validator bug must not stop the catalog
            template.problems.append(
                Problem("internal.validator", "error", f"validation failed: {exc!r}")
            )
    return template


def _problem_row(catalog_id: int, p: Problem) -> dict[str, Any]:
    return {"catalog_id": catalog_id} | {name: getattr(p, name) for name in PROBLEM_FIELDS}


def _write_template(
    session: Session,
    catalog: Catalog,
    loaded: LoadedTemplate,
    template_id: int | None,
    stamps: dict[int, Stamp],
    commit: str | None,
    generation: int,
) -> int:
    """Write one loaded template, marked with the catalog ``generation`` this sync serves;
    return 1 when it could not be loaded at all, else 0."""
    if not loaded.usable:
        return 1  # its last good rows (if any) stay as they are
    kept = []  # (version, folder, revision) of last good versions that stay
    if template_id is not None:
        old = session.execute(
            select(
                TemplateVersion.id,
                TemplateVersion.folder,
                TemplateVersion.version,
                TemplateVersion.revision,
            ).where(TemplateVersion.template_id == template_id)
        ).all()
        broken = {v.folder for v in loaded.versions if not v.usable}
        keep_ids = [row.id for row in old if row.folder in broken]
        kept = [row for row in old if row.folder in broken]
        session.execute(
            delete(TemplateVersion).where(
                TemplateVersion.template_id == template_id, TemplateVersion.id.not_in(keep_ids)
            )
        )
    new_versions = [v for v in loaded.versions if v.usable]
    if not new_versions and not kept:
        if template_id is not None:
            session.execute(delete(Template).where(Template.id == template_id))
        return 0
    order = _positions(new_versions, kept)
    values = _template_values(catalog.id, loaded, new_versions, kept, order)
    values["generation"] = generation
    if template_id is None:
        template_id = session.execute(
            insert(Template.__table__).returning(Template.__table__.c.id), values
        ).scalar_one()
    else:
        table = Template.__table__
        session.execute(update(table).where(table.c.id == template_id).values(**values))
        session.execute(delete(TemplateCategory).where(TemplateCategory.template_id == template_id))
    if loaded.categories:
        session.execute(
            insert(TemplateCategory.__table__),
            [{"template_id": template_id, "name": c} for c in dict.fromkeys(loaded.categories)],
        )
    for row in kept:
        session.execute(
            update(TemplateVersion)
            .where(TemplateVersion.id == row.id)
            .values(position=order[("kept", row.id)])
        )
    if new_versions:
        version_rows = [
            _version_values(template_id, v, order[("new", i)], stamps[id(v)], commit)
            for i, v in enumerate(new_versions)
        ]
        ids = session.scalars(
            insert(TemplateVersion.__table__).returning(
                TemplateVersion.__table__.c.id, sort_by_parameter_order=True
            ),
            version_rows,
        ).all()
        file_rows = [
            {
                "version_id": vid,
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256 or None,
                "content": f.content,
            }
            for vid, v in zip(ids, new_versions, strict=True)
            for f in v.files
        ]
        if file_rows:
            session.execute(insert(VersionFile.__table__), file_rows)
    return 0


def _positions(new_versions: list[LoadedVersion], kept: list) -> dict[tuple[str, int], int]:
    """Newest-first positions for the new and the kept versions together."""
    items = [(("new", i), v.version, v.revision) for i, v in enumerate(new_versions)]
    items += [(("kept", row.id), row.version, row.revision) for row in kept]
    ordered = sort_versions(items, version=lambda it: it[1], revision=lambda it: it[2])
    return {item[0]: pos for pos, item in enumerate(ordered)}


def _template_values(catalog_id, loaded: LoadedTemplate, new_versions, kept, order):
    newest = min(
        [(order[("new", i)], v.version) for i, v in enumerate(new_versions)]
        + [(order[("kept", row.id)], row.version) for row in kept]
    )[1]
    versions = {v.version for v in new_versions} | {row.version for row in kept}
    default = loaded.default_version if loaded.default_version in versions else newest
    keywords = []
    for v in new_versions:
        chart = v.metadata.get("chart") if isinstance(v.metadata, dict) else None
        if isinstance(chart, dict) and isinstance(chart.get("keywords"), list):
            keywords.extend(str(k) for k in chart["keywords"])
    search = " ".join(
        [loaded.id, loaded.name or "", loaded.description or "", *loaded.categories, *keywords]
    ).lower()
    return {
        "catalog_id": catalog_id,
        "slug": loaded.id,
        "folder": loaded.folder,
        "kind": loaded.kind,
        "base": loaded.base,
        "name": loaded.name or loaded.id,
        "description": loaded.description,
        "categories": list(dict.fromkeys(loaded.categories)),
        "maintainer": loaded.maintainer,
        "license": loaded.license,
        "project_url": loaded.project_url,
        "labels": loaded.labels,
        "icon": loaded.icon,
        "icon_media_type": loaded.icon_media_type,
        "default_version": default,
        "latest_version": newest,
        "version_count": len(new_versions) + len(kept),
        "readme": loaded.readme,
        "metadata": loaded.metadata,
        "hidden": loaded.hidden,
        "flags": loaded.flags or None,
        "search_text": search,
    }


def _range_text(text: str | None) -> str | None:
    """A version range for a 500-character column. Longer ones (which no range parser here
    reads anyway) are cut and marked with "...", so they still fit no version."""
    if text is None or len(text) <= 500:
        return text
    return text[:497] + "..."


def _version_values(template_id: int, v: LoadedVersion, position: int, stamp: Stamp, commit):
    created, digest, size = stamp
    return {
        "template_id": template_id,
        "version": v.version,
        "folder": v.folder,
        "revision": v.revision,
        "position": position,
        "name": v.name,
        "description": v.description,
        "app_version": v.app_version,
        "minimum_rancher_version": v.minimum_rancher_version,
        "maximum_rancher_version": v.maximum_rancher_version,
        "upgrade_from": v.upgrade_from,
        "kube_version": v.kube_version,
        "chart_kube_version": _range_text(v.chart_kube_version),
        "rancher_version": v.rancher_version,
        "questions": v.questions,
        "metadata": v.metadata,
        "readme": v.readme,
        "created": created,
        "commit": commit,
        "chart_digest": digest,
        "chart_size": size,
        "images": v.images.to_json() if v.images is not None else None,
    }
