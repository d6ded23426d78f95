"""Sync bookkeeping: the summary of a sync, and the catalog row's record of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog_server.catalogs import CatalogSource
from catalog_server.models import (
    Catalog,
    ProblemRow,
    Template,
)
from catalog_server.previews import MANAGED_BY as PREVIEW
from catalog_server.previews import is_preview

if TYPE_CHECKING:
    pass


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


def settle(catalog: Catalog, summary: SyncSummary, asked_at: datetime) -> None:
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
    if requested is not None and requested <= asked_at:
        values["refresh_requested_at"] = None  # a request that came in during the sync stays
    for key, value in values.items():
        if getattr(catalog, key) != value:
            setattr(catalog, key, value)


def catalog_row(session: Session, source: CatalogSource) -> Catalog:
    catalog = session.scalar(select(Catalog).where(Catalog.name == source.name))
    if catalog is None:
        catalog = Catalog(name=source.name, url=source.public_url, generation=0)
        if is_preview(source.name):  # never a plain catalog: hidden, and swept once orphaned
            catalog.managed_by = PREVIEW
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
        "preview_forks": source.preview_forks,
    }
    for key, value in settings.items():
        if getattr(catalog, key) != value:
            setattr(catalog, key, value)
    return catalog


def fill_counts(session: Session, catalog: Catalog, summary: SyncSummary) -> None:
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
