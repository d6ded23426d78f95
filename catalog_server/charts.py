"""Chart archives of indexed Helm chart versions.

The indexer records each archive's digest; the chart repository rebuilds the archive from
the stored files on request. Both go through `chart_archive`, so the bytes served always
match the digest in index.yaml: the same files and time give the same archive anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from catalog_server.helmrepo import chart_digest, package_chart


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


def archive_digest(name: str, files, created: datetime | None) -> str:
    return chart_digest(chart_archive(name, files, created))
