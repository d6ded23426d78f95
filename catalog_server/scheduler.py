"""Which catalogs to sync, and when: one-off syncs and the `sync --watch` loop.

Catalogs come from the catalogs file (or the bundled default) and from the database
(those added over the admin API). The watch loop syncs each catalog every
`refresh_interval` seconds, at once when a refresh was asked for (admin API, webhook), and
after a failure retries sooner, backing off: 15 s, 30 s, 60 s, ... up to the interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server import previews
from catalog_server.catalogs import ApiRestrictions, CatalogSource, configured_sources
from catalog_server.config import Settings
from catalog_server.indexer import SyncSummary, sync_catalog
from catalog_server.models import Catalog
from catalog_server.signing import SigningError, signer_from_settings
from catalog_server.validation import server_catalog_checks, server_validators

log = logging.getLogger("catalog_server.sync")

FIRST_RETRY = 15  # seconds after the first failure; doubles with each failure after it
POLL_INTERVAL = 2.0  # how often the loop looks for refresh requests


def api_sources(session: Session, settings: Settings) -> list[CatalogSource]:
    """Catalogs added over the admin API, whose settings live in the database; each carries
    the rules an API catalog obeys (secrets it may name, hosts it may reach)."""
    restrictions = ApiRestrictions.from_settings(settings)
    rows = session.scalars(
        select(Catalog).where(Catalog.managed_by == "api").order_by(Catalog.name)
    ).all()
    return [
        CatalogSource(
            name=row.name,
            url=row.url,
            branch=row.branch,
            subdir=row.subdir or "",
            refresh_interval=row.refresh_interval,
            credentials=row.credentials,
            webhook_secret=row.webhook_secret,
            restrictions=restrictions,
            preview_forks=bool(row.preview_forks),
        )
        for row in rows
    ]


def all_sources(session: Session, settings: Settings) -> list[CatalogSource]:
    """Every catalog to index: the configured ones, then those added over the API, then
    the previews of any of them."""
    sources = configured_sources(settings.sources_file)
    names = {s.name for s in sources}
    sources += [s for s in api_sources(session, settings) if s.name not in names]
    return sources + previews.preview_sources(session, sources)


def expire_previews(session: Session, settings: Settings) -> list[str]:
    """Remove the previews past their time to live, and the git caches of removed ones."""
    removed = previews.remove_expired(session)
    session.commit()
    previews.clean_cache(session, settings.cache_dir)
    return removed


def sync_one(session: Session, settings: Settings, source: CatalogSource, **kw) -> SyncSummary:
    """Sync one catalog with the server's validation, signing its charts when a signing key
    is configured. Never raises for catalog content; a signing key that cannot be used fails
    the sync (nothing is written: the catalog stays served as it was, signed as it was)."""
    if previews.is_preview(source.name) and not previews.exists(session, source.name):
        # Removed since the round listed it: indexing it would bring it back.
        return SyncSummary(source.name, "failed", error="the preview was removed")
    try:
        # A preview is content nobody has reviewed yet: the server's key never signs it.
        signer = None if previews.is_preview(source.name) else signer_from_settings(settings)
        if previews.is_preview(source.name):
            previews.seed(session, source.name)  # indexed against the base's commit
    except SigningError as exc:
        summary = SyncSummary(source.name, "failed", error=str(exc))
    else:
        summary = sync_catalog(
            session,
            source,
            cache_dir=settings.cache_dir,
            git_timeout=settings.git_timeout,
            validators=server_validators(helm_lint=settings.server_helm_lint),
            catalog_checks=server_catalog_checks(helm_lint=settings.server_helm_lint),
            signer=signer,
            render_images=settings.render_images,
            max_files=settings.max_catalog_files,
            **kw,
        )
    log.info(
        "sync %s: %s",
        source.name,
        summary.status,
        extra={"event": "sync", **summary.to_json()},
    )
    return summary


def retry_delay(failures: int, interval: int) -> float:
    """Seconds to wait after `failures` failures in a row (0: the normal interval)."""
    if failures <= 0:
        return float(interval)
    return float(min(interval, FIRST_RETRY * 2 ** min(failures - 1, 20)))


def watch(
    session_factory: Callable[[], Session],
    settings: Settings,
    names: Iterable[str] = (),
    *,
    on_summary: Callable[[SyncSummary], None] | None = None,
    after_round: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Sync catalogs as they fall due, until `should_stop()` says so; `after_round` runs
    after every look at what is due (every POLL_INTERVAL seconds)."""
    wanted = set(names)
    due: dict[str, float] = {}  # catalog name -> monotonic time of its next sync
    while not should_stop():
        session = session_factory()
        try:
            expire_previews(session, settings)
            sources = [s for s in all_sources(session, settings) if not wanted or s.name in wanted]
            requested = _refresh_requests(session)
            now = time.monotonic()
            for source in sources:
                if now < due.get(source.name, 0) and source.name not in requested:
                    continue
                summary = sync_one(session, settings, source)
                if on_summary:
                    on_summary(summary)
                failures = session.scalar(
                    select(Catalog.failures).where(Catalog.name == source.name)
                )
                delay = retry_delay(failures or 0, source.refresh_interval)
                due[source.name] = time.monotonic() + delay
                if should_stop():
                    return
            if after_round:
                after_round()
        finally:
            session.close()
        time.sleep(POLL_INTERVAL)


def _refresh_requests(session: Session) -> set[str]:
    rows = session.scalars(select(Catalog.name).where(Catalog.refresh_requested_at.is_not(None)))
    return set(rows)
