"""Chart archives of indexed Helm chart versions.

The indexer records each archive's digest; the chart repository rebuilds the archive from
the stored files on request. Both go through `chart_archive`, so the bytes served always
match the digest in index.yaml: the same files and time give the same archive anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from catalog_server.helmrepo import chart_digest, package_chart
from catalog_server.models import Template, TemplateVersion, VersionFile


class ChartNotPackable(ValueError):
    """The version cannot be packaged (a file was too large to keep, Helm's limits, ...)."""


def archive_mtime(created: datetime | None) -> int:
    return int(created.timestamp()) if created else 0


def chart_archive(
    name: str, files: Iterable[tuple[str, bytes | None]], created: datetime | None
) -> bytes:
    """The .tgz of a chart version. Raises ChartNotPackable with the reason."""
    pairs = []
    for path, content in files:
        if content is None:
            raise ChartNotPackable(f"{path} was not kept (too large or not a regular file)")
        pairs.append((path, content))
    try:
        return package_chart(name, pairs, archive_mtime(created))
    except ValueError as exc:
        raise ChartNotPackable(str(exc)) from None


def archive_digest_size(name: str, files, created: datetime | None) -> tuple[str, int]:
    """The digest index.yaml records for the version's archive, and its size in bytes (an
    OCI layer descriptor gives both). Raises ChartNotPackable."""
    data = chart_archive(name, files, created)
    return chart_digest(data), len(data)


def archive_name(chart: Mapping[str, Any], slug: str, version: str) -> tuple[str, str]:
    """(chart name, archive file name) of a chart version, as the chart repository lists
    it: the Chart.yaml name (else the template folder's name) and ``<name>-<version>.tgz``."""
    name = str(chart.get("name") or slug.rpartition("*")[2])
    return name, f"{name}-{chart.get('version') or version}.tgz"


def stored_archive(session: Session, version: TemplateVersion, name: str) -> bytes:
    """The archive of an indexed version, rebuilt from its stored files: byte for byte the
    one whose digest the indexer recorded. Raises ChartNotPackable."""
    rows = session.execute(
        select(VersionFile.path, VersionFile.content)
        .where(VersionFile.version_id == version.id)
        .order_by(VersionFile.path)
    )
    created = version.created
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
    return chart_archive(name, list(rows), created)


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
