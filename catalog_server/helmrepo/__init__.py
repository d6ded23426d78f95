"""Building blocks of a Helm chart repository: chart archives and index.yaml.

Pure and deterministic: the same input gives the same bytes on any machine (with the same
zlib), so a chart's digest is stable across rebuilds of the same commit.

- :func:`package_chart` writes a ``.tgz`` laid out as ``helm package`` lays it out: one top
  folder named after the chart, file entries only (Helm writes no directory entries), mode
  0644, uid/gid 0, empty user and group names, and Helm's gzip header (extra field and the
  ``Helm`` comment, modification time 0, no file name). Unlike Helm, entries are sorted by
  path and every entry carries the same ``mtime`` (the commit time), and files are stored as
  given: Helm re-serialises ``Chart.yaml``, we keep the contributor's bytes.
- :func:`render_index` writes index.yaml, which Helm parses strictly, from the entries
  :func:`catalog_server.chartmetadata.index_entry` builds (re-exported here): only keys
  Helm knows, with the types and values Helm's own ``repo index`` writes;
  :class:`IndexEntries` writes the same text one entry at a time, for large repositories.

The parts: :mod:`.package` (archives and digests), :mod:`.index` (index.yaml), both
re-exported here, and :mod:`.stored` (archives of indexed versions, from the database).

Helm's own sources are the reference for every limit and rule here (``pkg/chart/loader``,
``pkg/ignore``, ``pkg/repo/index.go``); the package tests check the results against the
Helm v4 SDK when it is installed.
"""

from catalog_server.chartmetadata import CHART_VERSION_KEYS, index_entry
from catalog_server.helmrepo.index import IndexEntries, render_index, rfc3339, version_entry
from catalog_server.helmrepo.package import (
    MAX_CHART_SIZE,
    MAX_FILE_SIZE,
    ChartNotPackable,
    HelmIgnore,
    archive_digest_size,
    archive_mtime,
    archive_name,
    chart_archive,
    chart_digest,
    package_chart,
)

__all__ = [
    "CHART_VERSION_KEYS",
    "MAX_CHART_SIZE",
    "MAX_FILE_SIZE",
    "ChartNotPackable",
    "HelmIgnore",
    "IndexEntries",
    "archive_digest_size",
    "archive_mtime",
    "archive_name",
    "chart_archive",
    "chart_digest",
    "index_entry",
    "package_chart",
    "render_index",
    "rfc3339",
    "version_entry",
]
