"""Chart archives of indexed versions, rebuilt from the files stored in the database."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from catalog_server.helmrepo.package import chart_archive
from catalog_server.models import Template, TemplateVersion, VersionFile


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
