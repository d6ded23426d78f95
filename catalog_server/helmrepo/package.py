"""Chart archives, laid out as ``helm package`` lays them out, and their digests.

Pure and deterministic: the same input gives the same bytes on any machine (with the same
zlib), so a chart's digest is stable across rebuilds of the same commit.
:func:`package_chart` writes a ``.tgz``: one top folder named after the chart, file entries
only (Helm writes no directory entries), mode 0644, uid/gid 0, empty user and group names,
and Helm's gzip header (extra field and the ``Helm`` comment, modification time 0, no file
name). Unlike Helm, entries are sorted by path and every entry carries the same ``mtime``
(the commit time), and files are stored as given: Helm re-serialises ``Chart.yaml``, we
keep the contributor's bytes. :func:`chart_archive` packages an indexed version's files:
the indexer records its digest, and the chart repository and OCI registry rebuild the same
bytes from the stored files on request.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from catalog_server.helmignore import HELMIGNORE, HelmIgnore

#: Helm refuses any file in a chart larger than this (``loader.MaxDecompressedFileSize``).
MAX_FILE_SIZE = 5 * 1024 * 1024
#: Helm refuses a chart larger than this unpacked (``loader.MaxDecompressedChartSize``).
MAX_CHART_SIZE = 100 * 1024 * 1024

# What Helm puts in every gzip header it writes (chartutil.Save): an extra field holding
# this magic and the comment "Helm". Copying it makes our archives indistinguishable
# from Helm's at a glance; readers ignore both.
_GZIP_MAGIC_EXTRA = b"+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo="
_GZIP_COMMENT = b"Helm\x00"
_GZIP_LEVEL = 6  # Go's gzip.DefaultCompression; XFL 0 in the header, as Helm writes it.


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path:
        raise ValueError(f"chart file path {path!r} is empty or not a string")
    if "\\" in path:
        raise ValueError(f"chart file path {path!r} holds a backslash; use '/'")
    if path.startswith("/"):
        raise ValueError(f"chart file path {path!r} is absolute")
    if "\x00" in path:
        raise ValueError(f"chart file path {path!r} holds a NUL character")
    parts = path.split("/")
    if ".." in parts:
        raise ValueError(f"chart file path {path!r} leaves the chart ('..')")
    if any(part in ("", ".") for part in parts):
        raise ValueError(f"chart file path {path!r} is not normalised (empty or '.' part)")


def _check_chart_name(name: str) -> None:
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        raise ValueError(f"chart name {name!r} cannot name the archive's top folder")


def _gzip(data: bytes) -> bytes:
    """Gzip ``data`` with the header Helm writes; no time, no file name, OS 'unknown'."""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    header = (
        b"\x1f\x8b\x08"  # magic, deflate
        + bytes([0x04 | 0x10])  # FEXTRA | FCOMMENT
        + b"\x00\x00\x00\x00"  # MTIME 0
        + b"\x00\xff"  # XFL, OS = unknown (as Go writes it)
        + struct.pack("<H", len(_GZIP_MAGIC_EXTRA))
        + _GZIP_MAGIC_EXTRA
        + _GZIP_COMMENT
    )
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + body + trailer


def package_chart(name: str, files: Iterable[tuple[str, bytes]], mtime: int) -> bytes:
    """Build the ``.tgz`` archive of chart ``name`` from its files.

    ``files`` are ``(path, content)`` pairs, paths relative to the chart folder with ``/``
    separators (``Chart.yaml``, ``templates/deployment.yaml``). The root ``.helmignore`` is
    honoured (see :class:`HelmIgnore`) and ``.git`` folders are always left out. ``mtime``
    (seconds since the epoch, typically the commit time) is written on every entry.

    Raises:
        ValueError: a bad chart name; a path that is absolute, holds ``..``, a backslash or
            an empty part; a path given twice; a bad ``.helmignore``; no ``Chart.yaml``
            left to package; a file over :data:`MAX_FILE_SIZE`; or more than
            :data:`MAX_CHART_SIZE` in all. Nothing is written in any case.
    """
    _check_chart_name(name)
    if isinstance(mtime, bool) or not isinstance(mtime, int) or mtime < 0:
        raise ValueError(f"mtime {mtime!r} must be a non-negative integer (epoch seconds)")
    contents: dict[str, bytes] = {}
    for path, data in files:
        _check_path(path)
        if path in contents:
            raise ValueError(f"chart file {path!r} is given twice")
        contents[path] = bytes(data)

    ignore_text = contents.get(HELMIGNORE, b"")
    try:
        rules = HelmIgnore(ignore_text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(".helmignore is not UTF-8 text") from None
    kept = sorted(path for path in contents if not rules.excludes(path))
    if "Chart.yaml" not in kept:
        raise ValueError("Chart.yaml is missing (or excluded by .helmignore)")

    total = 0
    for path in kept:
        size = len(contents[path])
        if size > MAX_FILE_SIZE:
            raise ValueError(
                f"chart file {path!r} is {size} bytes; Helm refuses any file over "
                f"{MAX_FILE_SIZE // (1024 * 1024)} MiB"
            )
        total += size
    if total > MAX_CHART_SIZE:
        raise ValueError(
            f"chart is {total} bytes unpacked; Helm refuses charts over "
            f"{MAX_CHART_SIZE // (1024 * 1024)} MiB"
        )

    return _gzip(_tar(name, [(path, contents[path]) for path in kept], mtime))


# What Python's tarfile writes in PAX format for a regular file whose name fits a ustar
# header (ASCII, at most 100 bytes), which is what Go's tar writes too; :func:`_tar` writes
# those headers itself (a fifth of tarfile's cost) and leaves any other name to tarfile.
_BLOCK = 512
_RECORD = 20 * _BLOCK


def _ustar_header(path: str, size: int, mtime: int) -> bytes | None:
    """The ustar header of a regular file, mode 0644, uid/gid 0, empty user and group
    names; None when it needs a pax record (a path not ASCII or over 100 bytes, a size
    or time past eleven octal digits)."""
    if len(path) > 100 or not path.isascii() or max(size, mtime) >= 8**11:
        return None
    head = (
        path.encode("ascii").ljust(100, b"\0")
        + b"0000644\0"  # mode
        + b"0000000\0" * 2  # uid, gid
        + b"%011o\0" % size
        + b"%011o\0" % mtime
    )
    tail = b"0" + b"\0" * 100 + b"ustar\x0000" + b"\0" * 64 + b"\0" * 16 + b"\0" * 155
    # The checksum is taken with its own field as eight spaces, and written as six octal
    # digits, a NUL and one of those spaces.
    checksum = sum(head) + 8 * 32 + sum(tail)
    return (head + b"%06o\0 " % checksum + tail).ljust(_BLOCK, b"\0")


def _tar(name: str, files: list[tuple[str, bytes]], mtime: int) -> bytes:
    """The tar stream of ``files`` (sorted, checked) under the top folder ``name``."""
    parts: list[bytes] = []
    for path, data in files:
        header = _ustar_header(f"{name}/{path}", len(data), mtime)
        if header is None:
            return _tarfile(name, files, mtime)
        parts.append(header)
        parts.append(data)
        if len(data) % _BLOCK:
            parts.append(b"\0" * (_BLOCK - len(data) % _BLOCK))
    parts.append(b"\0" * (2 * _BLOCK))
    size = sum(len(part) for part in parts)
    if size % _RECORD:
        parts.append(b"\0" * (_RECORD - size % _RECORD))
    return b"".join(parts)


def _tarfile(name: str, files: list[tuple[str, bytes]], mtime: int) -> bytes:
    """:func:`_tar` by Python's tarfile, for names a ustar header cannot hold."""
    raw = io.BytesIO()
    # PAX writes plain ustar headers whenever a name fits, and a pax record only for long or
    # non-ASCII names, so ordinary charts get exactly the headers Go's tar writes.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files:
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def chart_digest(data: bytes) -> str:
    """The digest index.yaml records for a chart archive: sha256, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


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
