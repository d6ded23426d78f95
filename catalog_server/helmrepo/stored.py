"""Chart archives of indexed versions, rebuilt from the files stored in the database."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, load_only

from catalog_server.helmrepo.index import version_entry
from catalog_server.helmrepo.package import chart_archive
from catalog_server.models import Template, TemplateVersion, VersionFile

log = logging.getLogger(__name__)


def stored_archive(session: Session, version: TemplateVersion, name: str) -> bytes:
    """The archive of an indexed version, rebuilt from its stored files: byte for byte the
    one whose digest the indexer recorded. Raises ChartNotPackable."""
    rows = session.execute(
        select(VersionFile.path, VersionFile.content)
        .where(VersionFile.version_id == version.id)
        .order_by(VersionFile.path)
    )
    return chart_archive(name, list(rows), version.created)


def packaged_versions(catalog_id: int) -> Select:
    """(TemplateVersion, template slug) of every Helm chart version of a catalog that was
    packaged at indexing (it has a digest): what the chart repository serves."""
    return (
        select(TemplateVersion, Template.slug)
        .join(Template, TemplateVersion.template_id == Template.id)
        .where(
            Template.catalog_id == catalog_id,
            Template.kind == "helm",
            TemplateVersion.chart_digest.is_not(None),
        )
    )


class ListedChart(NamedTuple):
    """One chart version as a catalog's index.yaml lists it."""

    slug: str
    position: int
    name: str
    filename: str
    version: str
    text: str  # its index entry (helmrepo.version_entry)
    created: datetime | None
    version_id: int | None  # the indexed version; None for a chart not indexed yet


def served_charts(
    session: Session, catalog_id: int, skip: Collection[str] = ()
) -> Iterator[ListedChart]:
    """The packaged chart versions of a catalog (but those of the templates ``skip``
    names), by template and position, read in batches; a version Helm would not index is
    left out with a warning in the log."""
    rows = session.execute(
        packaged_versions(catalog_id)
        .add_columns(Template.icon_media_type)
        .options(
            # Only what an entry needs (not the questions or README): a catalog of 50,000
            # chart versions otherwise held them all as whole rows at once (1.3 GB).
            load_only(
                TemplateVersion.id,
                TemplateVersion.version,
                TemplateVersion.meta,
                TemplateVersion.created,
                TemplateVersion.chart_digest,
                TemplateVersion.position,
            )
        )
        .order_by(Template.slug, TemplateVersion.position)
        .execution_options(yield_per=1000)
    )
    for v, slug, icon_type in rows:
        if slug in skip:
            continue
        meta = v.meta or {}
        try:
            name, filename, version, text = version_entry(
                meta.get("chart"), meta.get("requirements"), slug=slug, version=v.version,
                icon_type=icon_type, created=v.created, digest=v.chart_digest,
            )  # fmt: skip
        except ValueError as exc:
            log.warning("chart repository: %s %s left out: %s", slug, v.version, exc)
            continue
        yield ListedChart(slug, v.position or 0, name, filename, version, text, v.created, v.id)
