"""The served web site, stored in the database with the index.

The sync process keeps it current (:func:`update_site`); every web process serves it from
the database (:mod:`catalog_server.web`), so replicas share no disk and a web process
started at any time serves the whole site at once. What an update rebuilds:

- the project docs and the theme's files (part ``docs``) when the server's release changed
  (:func:`~catalog_server.docs.build.docs_key`): once per release, not per sync;
- a catalog's template pages (part ``catalog:<name>``) for the templates written since the
  part was last brought up to date (each template carries the catalog generation that last
  wrote it), all of them when the page layout changed
  (:func:`~catalog_server.docs.build.layout_key`); the pages of removed templates and of
  removed catalogs are deleted;
- the home page and the search index (part ``home``) when a template's listing changed;
- a preview's page (part ``preview:<name>``, :mod:`catalog_server.docs.previewpage`) when
  its pages were rebuilt or its base catalog changed.

Each part's row in ``site_parts`` records what it was built from; its ``revision``, bumped
with every write of its pages, makes the site token that web processes key their page
cache by. One update runs at a time (:func:`catalog_server.locks.site_lock`). Plain
Python: nothing here imports Flask.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from catalog_server import signing
from catalog_server.docs.build import (
    SiteBuildError,
    docs_files,
    docs_key,
    layout_key,
    rendered_files,
)
from catalog_server.docs.layout import SiteLayout
from catalog_server.docs.pages import (
    SEARCH_INDEX_PATH,
    TemplateSite,
    home_site,
    template_site,
)
from catalog_server.docs.previewpage import write_preview_page
from catalog_server.locks import site_lock
from catalog_server.models import Catalog, SiteCard, SitePage, SitePart, Template
from catalog_server.previews import base_name, is_preview
from catalog_server.problems import TemplateNotFound

DOCS, HOME, CATALOG_PREFIX, PREVIEW_PREFIX = "docs", "home", "catalog:", "preview:"
BATCH = 100  # templates written per transaction while many are rebuilt

log = logging.getLogger(__name__)


@dataclass
class SiteUpdate:
    """What an update of the stored site did."""

    docs_built: bool = False
    templates_built: int = 0
    templates_removed: int = 0
    home_built: bool = False
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(
            self.docs_built or self.templates_built or self.templates_removed or self.home_built
        )


def page_row(path: str, content: bytes, part: str, catalog=None, template=None) -> dict:
    """A ``site_pages`` row: the content gzip-compressed, the digest of it uncompressed."""
    return {
        "path": path,
        "part": part,
        "catalog": catalog,
        "template": template,
        "digest": hashlib.sha256(content).hexdigest(),
        "content": gzip.compress(content, compresslevel=6, mtime=0),
    }


def update_site(session: Session, cache_dir: Path | str, *, full: bool = False) -> SiteUpdate:
    """Bring the stored site up to date with the index and this release, rebuilding only
    what is stale (everything with ``full``).

    Never raises for a page that cannot be made: a template whose pages fail keeps its
    previous pages, and every such failure (or a failed docs build) is logged and listed in
    the result's ``errors``.
    """
    started = time.monotonic()
    update = SiteUpdate()
    with site_lock(session, cache_dir):
        parts = {row.name: row for row in session.scalars(select(SitePart))}
        if full or _stale(parts.get(DOCS), docs_key()):
            try:
                _write_docs(session, parts)
                update.docs_built = True
            except SiteBuildError as exc:
                session.rollback()
                log.error("%s", exc)
                update.errors.append(str(exc))
        builder = _TemplateWriter(session, update)
        catalogs = {
            row.name: (row.generation or 0, _catalog_key(row))
            for row in session.execute(
                select(
                    Catalog.id,
                    Catalog.name,
                    Catalog.generation,
                    Catalog.signing_key,
                    Catalog.url,
                    Catalog.branch,
                    Catalog.subdir,
                )  # fmt: skip
            )
        }
        rebuilt: set[str] = set()
        for name, (generation, key) in sorted(catalogs.items()):
            part = parts.get(CATALOG_PREFIX + name)
            if not full and _current(part, key, generation):
                continue
            # Generations only go up: one that did not means another catalog by that name.
            whole = full or part is None or part.key != key
            whole = whole or generation <= (part.source_generation or 0)
            wrote = builder.catalog(name, None if whole else part.source_generation or 0)
            rebuilt.add(name)
            _mark(session, parts, CATALOG_PREFIX + name, key, generation, wrote)
            session.commit()
        _preview_pages(session, parts, catalogs, rebuilt, builder, full)
        for name in [n for n in parts if n.startswith((CATALOG_PREFIX, PREVIEW_PREFIX))]:
            if name.partition(":")[2] not in catalogs:
                builder.remove_catalog(name.partition(":")[2])
                session.delete(parts.pop(name))
                session.commit()
        if full or builder.listings_changed or _stale(parts.get(HOME), layout_key()):
            _write_home(session, parts, builder.layout())
            update.home_built = True
        session.commit()  # ends the read transaction, nothing is left to write
    update.seconds = time.monotonic() - started
    if update.changed:
        log.info(
            "site updated in %.2fs: docs %s, %d template(s) rebuilt, %d removed, home %s",
            update.seconds,
            "rebuilt" if update.docs_built else "current",
            update.templates_built,
            update.templates_removed,
            "rebuilt" if update.home_built else "current",
        )
    return update


def _preview_pages(session, parts, catalogs, rebuilt: set[str], builder, full: bool) -> None:
    """Write the page of each preview (catalog_server.previews) whose pages were rebuilt, or
    whose base catalog changed since (part ``preview:<name>``: the base's generation)."""
    for name in sorted(n for n in catalogs if is_preview(n)):
        base_generation = catalogs.get(base_name(name), (None,))[0]
        part = parts.get(PREVIEW_PREFIX + name)
        if not (
            full
            or name in rebuilt
            or _stale(part, layout_key())
            or part.source_generation != base_generation
        ):
            continue
        write_preview_page(session, name, builder.layout(), page_row)
        _mark(session, parts, PREVIEW_PREFIX + name, layout_key(), base_generation, True)
        session.commit()


def _catalog_key(row) -> str:
    """What all of a catalog's pages are made with: the page layout, the catalog itself
    (its row and source: one removed and added again under its name starts its generations
    afresh) and the key that signs its charts (its template pages show it)."""
    parts = (layout_key(), row.id, row.url, row.branch, row.subdir, row.signing_key)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _stale(part: SitePart | None, key: str) -> bool:
    return part is None or part.key != key


def _current(part: SitePart | None, key: str, generation: int) -> bool:
    return part is not None and part.key == key and part.source_generation == generation


def _mark(session, parts, name: str, key: str, generation: int | None, wrote: bool) -> None:
    """Record what part ``name`` is built from; a new revision when its pages changed."""
    part = parts.get(name)
    if part is None:
        part = parts[name] = SitePart(name=name, revision=0)
        session.add(part)
        wrote = True
    part.key, part.source_generation = key, generation
    if wrote:
        part.revision = (part.revision or 0) + 1
        part.built_at = datetime.now(UTC)


def _write_docs(session: Session, parts: dict[str, SitePart]) -> None:
    files = docs_files()
    session.execute(delete(SitePage).where(SitePage.part == DOCS))
    session.execute(
        insert(SitePage.__table__), [page_row(p, c, DOCS) for p, c in sorted(files.items())]
    )
    _mark(session, parts, DOCS, docs_key(), None, True)
    session.commit()


def _write_home(session: Session, parts: dict[str, SitePart], layout: SiteLayout) -> None:
    # Previews' templates have pages but no card: they are reached from their preview page.
    listings = list(
        session.scalars(select(SiteCard.listing).where(SiteCard.catalog.not_like("%~%")))
    )
    home, index = home_site(listings)
    session.execute(delete(SitePage).where(SitePage.part == HOME))
    session.execute(
        insert(SitePage.__table__),
        [
            page_row(home.path, layout.render(home).encode("utf-8"), HOME),
            page_row(SEARCH_INDEX_PATH, index, HOME),
        ],
    )
    _mark(session, parts, HOME, layout_key(), None, True)
    session.commit()


@cache
def _process_layout() -> SiteLayout:
    # Loaded once per process (mkdocs.yml and the theme do not change while it runs), so a
    # sync that rebuilds one template pays for one page, not for loading the theme.
    return SiteLayout()


class _TemplateWriter:
    """Writes templates' pages and listings, BATCH templates per statement and per
    transaction, so that a rebuild of many templates costs few round trips and never holds
    the database's write lock for long; each template's pages change in one transaction."""

    def __init__(self, session: Session, update: SiteUpdate):
        self.session = session
        self.update = update
        self.listings_changed = False
        self._batch: list[tuple[TemplateSite, dict[str, bytes]]] = []
        self._signed: dict[str, set[str]] | None = None

    def layout(self) -> SiteLayout:
        return _process_layout()

    def catalog(self, name: str, since: int | None) -> bool:
        """Rebuild the catalog's templates written after generation ``since`` (all of them
        for None, and any without pages yet), those whose signed versions changed, and
        remove the pages of its templates that are gone. True when a page changed. Reads
        only the templates concerned, not the whole catalog (in a catalog with signed
        charts, also which versions are signed)."""
        self._signed = self._signed_now(name)
        served = (
            select(Template.slug)
            .join(Catalog, Template.catalog_id == Catalog.id)
            .where(Catalog.name == name)
        )
        if is_preview(name):
            # Only what the preview's own syncs wrote gets pages: the templates it copied
            # from its base (generation 0, catalog_server.previews.seed) are the base's.
            served = served.where(Template.generation > 0)
        listed = select(SiteCard.template).where(SiteCard.catalog == name)
        gone = self.session.scalars(listed.where(SiteCard.template.not_in(served))).all()
        stale = served
        if since is not None:
            stale = served.where((Template.generation > since) | Template.slug.not_in(listed))
        wrote = False
        for slug in sorted(gone):
            self._remove(name, slug)
            wrote = True
        slugs = set(self.session.scalars(stale))
        if since is not None and self._signed is not None:
            recorded = self.session.execute(
                select(SiteCard.template, SiteCard.signed).where(SiteCard.catalog == name)
            )
            slugs |= {slug for slug, signed in recorded if signed != self._signed_text(slug)}
        for slug in sorted(slugs):
            wrote |= self._build(name, slug)
        self._flush()
        return wrote

    def _signed_now(self, catalog: str) -> dict[str, set[str]] | None:
        """The catalog's signed versions by template; None when no chart of it is signed and
        none was when its pages were made (nothing to compare)."""
        found = signing.signed_versions_by_template(self.session, catalog)
        if found:
            return found
        was_signed = self.session.scalar(
            select(SiteCard.template)
            .where(SiteCard.catalog == catalog, SiteCard.signed != "[]")
            .limit(1)
        )
        return {} if was_signed is not None else None

    def _signed_text(self, slug: str) -> str:
        return json.dumps(sorted((self._signed or {}).get(slug, ())))

    def remove_catalog(self, name: str) -> None:
        listed = self.session.scalars(select(SiteCard.template).where(SiteCard.catalog == name))
        self.update.templates_removed += len(listed.all())
        self.session.execute(delete(SitePage).where(SitePage.catalog == name))
        self.session.execute(delete(SiteCard).where(SiteCard.catalog == name))
        self.listings_changed = True

    def _remove(self, catalog: str, slug: str) -> None:
        self.session.execute(
            delete(SitePage).where(SitePage.catalog == catalog, SitePage.template == slug)
        )
        self.session.execute(
            delete(SiteCard).where(SiteCard.catalog == catalog, SiteCard.template == slug)
        )
        self.update.templates_removed += 1
        self.listings_changed = True

    def _build(self, catalog: str, slug: str) -> bool:
        try:
            site = template_site(self.session, catalog, slug)
            files = rendered_files(self.layout(), site)
        except TemplateNotFound:  # removed by a sync since it was listed
            self._remove(catalog, slug)
            return True
        except Exception as exc:  # a bug on one template must not stop the others
            log.exception("the pages of %s/%s could not be made; the old ones stay", catalog, slug)
            self.update.errors.append(f"{catalog}/{slug}: {exc!r}")
            return False
        self._batch.append((site, files))
        if len(self._batch) >= BATCH:
            self._flush()
            self.session.commit()
        return True

    def _flush(self) -> None:
        """Swap the batch's templates' pages and listings in (one catalog per batch)."""
        if not self._batch:
            return
        catalog = self._batch[0][0].catalog
        slugs = [site.slug for site, _ in self._batch]
        mine = (SitePage.catalog == catalog) & SitePage.template.in_(slugs)
        cards = (SiteCard.catalog == catalog) & SiteCard.template.in_(slugs)
        old = dict(
            self.session.execute(select(SiteCard.template, SiteCard.listing).where(cards)).all()
        )
        self.session.execute(delete(SitePage).where(mine))
        self.session.execute(delete(SiteCard).where(cards))
        self.session.execute(
            insert(SitePage.__table__),
            [
                page_row(path, content, "template", catalog, site.slug)
                for site, files in self._batch
                for path, content in sorted(files.items())
            ],
        )
        self.session.execute(
            insert(SiteCard.__table__),
            [
                {
                    "catalog": catalog,
                    "template": s.slug,
                    "name": s.name,
                    "listing": s.listing,
                    "signed": self._signed_text(s.slug),
                }
                for s, _ in self._batch
            ],
        )
        if any(s.slug not in old or old[s.slug] != s.listing for s, _ in self._batch):
            self.listings_changed = True
        self.update.templates_built += len(self._batch)
        self._batch.clear()
