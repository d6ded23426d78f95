"""Pull-request previews: a catalog indexed from another ref of its repository.

A preview of catalog ``library`` named ``pr-42`` is catalog ``library~pr-42``: its own
catalog row (``managed_by`` "preview"), indexed by the ordinary indexer from a ref of the
base catalog's repository (``refs/pull/42/head``, or a branch), and served by every read
endpoint by that name (API, site, manifests, Helm repository, OCI). No plain catalog name
holds ``~`` (``catalogs.NAME_RE``), so a preview never clashes with one. Previews are left
out of catalog lists, template search, categories, problem lists, the site's home page and
the OCI catalog unless asked for.

A preview is indexed incrementally against the base catalog: before its first sync it is
seeded with a copy of the base catalog's index at the base's commit (:func:`seed`, done in
the database), and the indexer then reloads only the templates whose files differ between
that commit and the ref (all of them when git cannot tell, say the base commit is not in the
fetched history). The report (:mod:`catalog_server.previewreport`) compares the two indexes
afterwards. It is indexed under the same limits as any catalog content (the Helm
worker's time, memory and output limits, the template engines' bounds), is never signed
with the server's key, fetches only the base catalog's repository (with its credentials and
its API rules), and answers no webhook of its own.

Previews expire: ``CATALOG_PREVIEW_TTL`` seconds after their last refresh, the sync process
removes them; a catalog holds at most ``CATALOG_PREVIEW_MAX``, and a new one past that
replaces the least recently refreshed. Removal deletes everything a preview indexed: its
catalog row with its templates, versions, files and problems, its site pages and listings,
and its git cache. Plain Python: nothing here imports Flask.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from catalog_server import search
from catalog_server.catalogs import NAME_RE, PREVIEW_ID_RE, CatalogSource, check_branch
from catalog_server.models import (
    Catalog,
    Preview,
    ProblemRow,
    SiteCard,
    SitePage,
    SitePart,
    Template,
    TemplateCategory,
    TemplateVersion,
    VersionFile,
)
from catalog_server.problems import SourceError
from catalog_server.utctime import as_utc

log = logging.getLogger(__name__)

SEPARATOR = "~"
MANAGED_BY = "preview"
ID_RE = PREVIEW_ID_RE  # a preview's id; a catalog name never holds the separator
# Previews are synced when asked for (create, refresh, webhook), not on a schedule.
REFRESH_INTERVAL = 86400
SITE_PREFIX = "previews"  # previews/<catalog>~<id>/index.html: the reviewer's page


class PreviewError(ValueError):
    """A preview cannot be made as asked: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def preview_name(base: str, preview_id: str) -> str:
    return f"{base}{SEPARATOR}{preview_id}"


def is_preview(name: str | None) -> bool:
    """Whether a catalog name is a preview's (``library~pr-42``)."""
    return bool(name) and SEPARATOR in name


def exists(session: Session, name: str) -> bool:
    """Whether preview ``name`` is still there (it may be removed while a sync round that
    listed it is under way)."""
    found = session.scalar(
        select(Preview.id)
        .join(Catalog, Preview.catalog_id == Catalog.id)
        .where(Catalog.name == name)
    )
    return found is not None


def base_name(name: str) -> str:
    return name.partition(SEPARATOR)[0]


def check_id(preview_id: object) -> str:
    """Raise PreviewError unless ``preview_id`` is a preview id (``pr-42``)."""
    if not isinstance(preview_id, str) or not ID_RE.match(preview_id):
        raise PreviewError(
            "id", "lower-case letters, digits and '-', at most 36, starting and ending with a "
            "letter or digit (pr-42)"
        )  # fmt: skip
    return preview_id


def check_ref(ref: object) -> str:
    """Raise PreviewError unless ``ref`` is a ref git accepts (``refs/pull/42/head``, a
    branch name)."""
    try:
        check_branch(ref)
    except SourceError as exc:
        raise PreviewError("ref", str(exc)) from None
    assert isinstance(ref, str)
    return ref


def now() -> datetime:
    """The current time (tests move it)."""
    return datetime.now(UTC)


def previews_of(session: Session, base: Catalog) -> list[tuple[Preview, Catalog]]:
    """The base catalog's previews with their catalog rows, by name."""
    rows = session.execute(
        select(Preview, Catalog)
        .join(Catalog, Preview.catalog_id == Catalog.id)
        .where(Preview.base_id == base.id)
        .order_by(Preview.name)
    )
    return [(p, c) for p, c in rows]


def find(session: Session, base: Catalog, preview_id: str) -> tuple[Preview, Catalog] | None:
    row = session.execute(
        select(Preview, Catalog)
        .join(Catalog, Preview.catalog_id == Catalog.id)
        .where(Preview.base_id == base.id, Preview.name == preview_id)
    ).first()
    return None if row is None else (row[0], row[1])


def upsert(
    session: Session,
    base: Catalog,
    preview_id: str,
    ref: str,
    *,
    ttl: int,
    maximum: int,
    requested_by: str | None,
    pull_request: int | None = None,
    head_sha: str | None = None,
    fork: bool = False,
) -> tuple[Preview, bool, list[str]]:
    """Create the preview, or refresh it (a new ref, a new time to live); either way its
    sync is queued. Returns (preview, created, names of the previews removed to stay within
    ``maximum``: the least recently refreshed). The caller commits."""
    check_id(preview_id)
    check_ref(ref)
    if is_preview(base.name):
        raise PreviewError("catalog", "a preview has no previews of its own")
    if base.revision and base.revision.startswith("folder:"):
        raise PreviewError("catalog", f"catalog {base.name!r} is a plain folder: it has no refs")
    when = now()
    found = find(session, base, preview_id)
    removed: list[str] = []
    if found is not None:
        preview, catalog = found
        preview.ref = catalog.branch = ref
        preview.pull_request, preview.head_sha, preview.fork = pull_request, head_sha, fork
        preview.requested_by = requested_by
        preview.updated_at, preview.expires_at = when, when + timedelta(seconds=ttl)
        catalog.request_refresh()
        return preview, False, removed
    others = sorted(previews_of(session, base), key=lambda pc: (as_utc(pc[0].updated_at), pc[0].id))
    while len(others) >= maximum:
        old, old_catalog = others.pop(0)
        removed.append(old_catalog.name)
        remove(session, old, old_catalog)
    catalog = Catalog(
        name=preview_name(base.name, preview_id),
        url=base.url,
        branch=ref,
        subdir=base.subdir,
        managed_by=MANAGED_BY,
        refresh_interval=REFRESH_INTERVAL,
        generation=0,
        sync_state="idle",
        failures=0,
    )
    session.add(catalog)
    session.flush()
    preview = Preview(
        base_id=base.id,
        catalog_id=catalog.id,
        name=preview_id,
        ref=ref,
        pull_request=pull_request,
        head_sha=head_sha,
        fork=fork,
        requested_by=requested_by,
        created_at=when,
        updated_at=when,
        expires_at=when + timedelta(seconds=ttl),
    )
    session.add(preview)
    catalog.request_refresh()
    session.flush()
    return preview, True, removed


def remove(session: Session, preview: Preview | None, catalog: Catalog) -> None:
    """Delete a preview and everything it indexed from the database: its catalog row (and
    with it its templates, versions, files and problems), its site pages, listings and site
    part. Its git cache goes with the sync process's next :func:`clean_cache`. The caller
    commits."""
    name = catalog.name
    session.execute(delete(SitePage).where(SitePage.catalog == name))
    session.execute(delete(SiteCard).where(SiteCard.catalog == name))
    session.execute(
        delete(SitePart).where(SitePart.name.in_([f"catalog:{name}", f"preview:{name}"]))
    )
    if preview is not None:
        session.delete(preview)
        session.flush()
    session.delete(catalog)
    session.flush()


def remove_expired(session: Session, base: Catalog | None = None) -> list[str]:
    """Remove the previews past their time (of ``base``, or of every catalog), and preview
    catalogs left without a preview; return their names. The caller commits: a request
    that removes them on its way commits them with the rest of its work, or not at all."""
    stmt = (
        select(Preview, Catalog)
        .join(Catalog, Preview.catalog_id == Catalog.id)
        .where(Preview.expires_at < now())
    )
    if base is not None:
        stmt = stmt.where(Preview.base_id == base.id)
    removed = []
    for preview, catalog in session.execute(stmt).all():
        removed.append(catalog.name)
        remove(session, preview, catalog)
    if base is None:
        orphans = session.scalars(
            select(Catalog).where(
                Catalog.managed_by == MANAGED_BY,
                Catalog.id.not_in(select(Preview.catalog_id)),
            )
        ).all()
        for catalog in orphans:
            removed.append(catalog.name)
            remove(session, None, catalog)
    if removed:
        log.info("previews removed (expired): %s", ", ".join(removed))
    return removed


def clean_cache(session: Session, cache_dir: Path | str) -> list[str]:
    """Delete the git caches and lock files of previews that no longer exist; return the
    names of the previews they belonged to."""
    folder = Path(cache_dir)
    if not folder.is_dir():
        return []
    live = set(session.scalars(select(Catalog.name).where(Catalog.managed_by == MANAGED_BY)))
    session.commit()
    gone = set()
    for path in folder.iterdir():
        name = path.name.removeprefix(".")
        for suffix in (".git.tmp", ".git", ".sync.lock"):
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        else:
            continue
        if not is_preview(name) or name in live:
            continue
        gone.add(name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sorted(gone)


def preview_source(base: CatalogSource, preview_id: str, ref: str) -> CatalogSource:
    """What a preview is indexed from: the base catalog's repository (its URL, folder,
    credentials and API rules) at ``ref``; no webhook secret of its own."""
    return CatalogSource(
        name=preview_name(base.name, preview_id),
        url=base.url,
        branch=ref,
        subdir=base.subdir,
        refresh_interval=REFRESH_INTERVAL,
        credentials=base.credentials,
        webhook_secret=None,
        restrictions=base.restrictions,
        base_branch=base.branch or "HEAD",
    )


def preview_sources(session: Session, bases: Iterable[CatalogSource]) -> list[CatalogSource]:
    """A source for every preview of one of ``bases``."""
    by_name = {s.name: s for s in bases if NAME_RE.match(s.name)}
    rows = session.execute(
        select(Catalog.name, Preview.name, Preview.ref)
        .join(Preview, Preview.base_id == Catalog.id)
        .order_by(Catalog.name, Preview.name)
    ).all()
    return [
        preview_source(by_name[base], preview_id, ref)
        for base, preview_id, ref in rows
        if base in by_name
    ]


def count(session: Session, base: Catalog) -> int:
    return session.scalar(select(func.count(Preview.id)).where(Preview.base_id == base.id)) or 0


def seed(session: Session, name: str) -> bool:
    """Before a preview's first sync, copy its base catalog's index (templates, categories,
    versions, files, search entries, problems) into it, at the base's commit: the sync then
    reloads only the templates the ref changes. True when it seeded; False when there is
    nothing to do (not a preview, indexed already, or a base with no indexed commit).
    Commits."""
    row = session.execute(
        select(Catalog, Preview.base_id)
        .join(Preview, Preview.catalog_id == Catalog.id)
        .where(Catalog.name == name)
    ).first()
    if row is None or row[0].revision is not None:
        return False
    catalog, base = row[0], session.get(Catalog, row[1])
    if base is None or not base.commit or base.revision != base.commit:
        return False
    _copy_index(session, base.id, catalog.id)
    # The base's commit, to diff the ref against; a revision of its own, so that the sync
    # indexes (and marks the preview indexed) even when the ref is at that very commit.
    catalog.commit, catalog.revision = base.commit, f"seeded:{base.commit}"
    catalog.commit_time, catalog.artifacthub_repo = base.commit_time, base.artifacthub_repo
    catalog.generation = 1
    session.commit()
    return True


def _columns(table, *skip: str) -> list[str]:
    return [c.name for c in table.c if c.name not in ("id", *skip)]


def _copy_index(session: Session, base_id: int, target_id: int) -> None:
    """INSERT ... SELECT, table by table: rows never pass through this process."""
    templates = Template.__table__
    names = _columns(templates, "catalog_id", "generation")
    session.execute(
        insert(templates).from_select(
            ["catalog_id", "generation", *names],
            select(literal(target_id), literal(0), *(templates.c[n] for n in names)).where(
                templates.c.catalog_id == base_id
            ),
        )
    )
    old, new = aliased(Template), aliased(Template)
    same_template = and_(new.slug == old.slug, new.catalog_id == target_id)
    categories = TemplateCategory.__table__
    session.execute(
        insert(categories).from_select(
            ["template_id", "name"],
            select(new.id, categories.c.name)
            .join(old, old.id == categories.c.template_id)
            .join(new, same_template)
            .where(old.catalog_id == base_id),
        )
    )
    versions = TemplateVersion.__table__
    names = _columns(versions, "template_id")
    session.execute(
        insert(versions).from_select(
            ["template_id", *names],
            select(new.id, *(versions.c[n] for n in names))
            .join(old, old.id == versions.c.template_id)
            .join(new, same_template)
            .where(old.catalog_id == base_id),
        )
    )
    old_v, new_v = aliased(TemplateVersion), aliased(TemplateVersion)
    files = VersionFile.__table__
    names = _columns(files, "version_id")
    session.execute(
        insert(files).from_select(
            ["version_id", *names],
            select(new_v.id, *(files.c[n] for n in names))
            .join(old_v, old_v.id == files.c.version_id)
            .join(old, old.id == old_v.template_id)
            .join(new, same_template)
            .join(
                new_v,
                and_(
                    new_v.template_id == new.id,
                    new_v.folder == old_v.folder,
                    new_v.version == old_v.version,
                ),
            )
            .where(old.catalog_id == base_id),
        )
    )
    search.copy_entries(session, base_id, target_id)
    problems = ProblemRow.__table__
    names = _columns(problems, "catalog_id")
    session.execute(
        insert(problems).from_select(
            ["catalog_id", *names],
            select(literal(target_id), *(problems.c[n] for n in names)).where(
                problems.c.catalog_id == base_id
            ),
        )
    )
