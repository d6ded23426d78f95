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
  Helm knows, with the types and values Helm's own ``repo index`` writes.

Helm's own sources are the reference for every limit and rule here (``pkg/chart/loader``,
``pkg/ignore``, ``pkg/repo/index.go``); the package tests check the results against the
Helm v4 SDK when it is installed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import struct
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from catalog_server.chartmetadata import CHART_VERSION_KEYS, index_entry
from catalog_server.helmignore import HELMIGNORE, HelmIgnore

__all__ = [
    "CHART_VERSION_KEYS",
    "MAX_CHART_SIZE",
    "MAX_FILE_SIZE",
    "HelmIgnore",
    "chart_digest",
    "index_entry",
    "package_chart",
    "render_index",
    "rfc3339",
    "version_sort_key",
]

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

    raw = io.BytesIO()
    # PAX writes plain ustar headers whenever a name fits, and a pax record only for long or
    # non-ASCII names, so ordinary charts get exactly the headers Go's tar writes.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in kept:
            data = contents[path]
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return _gzip(raw.getvalue())


def chart_digest(data: bytes) -> str:
    """The digest index.yaml records for a chart archive: sha256, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


# --- index.yaml ---------------------------------------------------------------------------

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")


def rfc3339(seconds: int | float) -> str:
    """Format epoch seconds as index.yaml writes times: RFC 3339, UTC, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


# Masterminds/semver's loose grammar, which Helm sorts index entries with: a leading "v",
# missing minor/patch and leading zeros (`0.3.000`) are all accepted.
_SEMVER = re.compile(
    r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)


def version_sort_key(version: str) -> tuple[Any, ...]:
    """A key ordering chart versions by SemVer 2 precedence, oldest first.

    Same precedence as ``semver.compare`` on valid versions; also takes what Helm's parser
    takes (``v1.2``, ``0.3.000``). Versions that do not parse sort before every valid one
    (so after them, newest first, as Helm puts them). Ties break on the text, so the
    order is total and the output deterministic.
    """
    match = _SEMVER.match(version)
    if not match:
        return (0, (), version)
    major, minor, patch, pre = match.groups()
    if pre is None:
        pre_key: tuple[Any, ...] = (1,)
    else:
        # Numeric identifiers rank below alphanumeric ones and compare as numbers.
        pre_key = (
            0,
            *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")),
        )
    return (1, (int(major), int(minor or 0), int(patch or 0), pre_key), version)


class _ScalarDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter when PyYAML has it, else Python's; used for the rare odd scalar."""


# A string written bare must be a run of "words" of ordinary characters, single spaces
# between them, colons only inside a word (URLs), and must not read as anything but a
# string to a YAML 1.1 or 1.2 reader (Helm's goyaml takes y/n/yes/off... as booleans).
_PLAIN = re.compile(
    r"[A-Za-z0-9_./(~][A-Za-z0-9_./+=~()@,-]*(?::[A-Za-z0-9_./+=~()@,-]+)*"
    r"(?: [A-Za-z0-9_./+=~()@,-]+(?::[A-Za-z0-9_./+=~()@,-]+)*)*\Z"
)
_NOT_TEXT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|0[bBoOxX][0-9a-fA-F_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|y|Y|n|N|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE"
    r"|on|On|ON|off|Off|OFF|null|Null|NULL|~|=|<<)\Z"
)
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


@functools.lru_cache(maxsize=1 << 16)  # keys, versions, URLs prefixes repeat a lot
def _quote(text: str) -> str:
    """``text`` as a YAML scalar: bare when that is unambiguous, else double-quoted."""
    if (
        _PLAIN.match(text)
        and not _NOT_TEXT.match(text)
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    ):
        return text
    if text.isprintable():
        # Every character Python deems printable is printable in YAML, and JSON's escapes
        # (\" \\ and \uXXXX for controls) are valid YAML double-quoted escapes.
        return json.dumps(text, ensure_ascii=False)
    # Line breaks, tabs, control characters: let the YAML emitter escape them.
    dumped: str = yaml.dump(
        text, Dumper=_ScalarDumper, default_style='"', allow_unicode=True, width=1 << 30
    )
    return dumped.rstrip("\n")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    dumped: str = yaml.dump(value, Dumper=_ScalarDumper, width=1 << 30)
    return dumped.split("\n", 1)[0]


def _emit_mapping(mapping: Mapping[str, Any], indent: int, out: list[str]) -> None:
    """Block-style mapping, keys sorted; sequences at their key's indent, as Go writes."""
    pad = " " * indent
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, dict) and value:
            out.append(f"{pad}{_quote(str(key))}:\n")
            _emit_mapping(value, indent + 2, out)
        elif isinstance(value, list) and value:
            out.append(f"{pad}{_quote(str(key))}:\n")
            _emit_sequence(value, indent, out)
        else:
            out.append(f"{pad}{_quote(str(key))}: {_scalar(value)}\n")


def _emit_sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if (isinstance(item, dict | list)) and item:
            nested: list[str] = []
            if isinstance(item, dict):
                _emit_mapping(item, indent + 2, nested)
            else:
                _emit_sequence(item, indent + 2, nested)
            nested[0] = f"{pad}- {nested[0][indent + 2 :]}"
            out.extend(nested)
        else:
            out.append(f"{pad}- {_scalar(item)}\n")


def render_index(entries: Mapping[str, list[dict[str, Any]]], generated: str) -> str:
    """The text of index.yaml for ``entries`` (chart name -> ChartVersions).

    Charts are sorted by name and each chart's versions newest first (see
    :func:`version_sort_key`); every mapping's keys are sorted, as Helm writes them.
    ``generated`` should change only when the content does (the commit time, say):
    clients re-download the whole index whenever it changes.

    The YAML is written by hand rather than by ``yaml.dump``: for 5,000 versions it takes
    about 0.15 s against 1.1 s with libyaml's ``CSafeDumper`` (whose representer is still
    Python) and 3.5 s with the pure-Python dumper, and parses back to the same data.
    Strings are bare only when unambiguous (see ``_quote``), double-quoted otherwise.

    Raises:
        ValueError: ``generated`` is not RFC 3339, or an entry holds a key Helm would
            reject (build entries with :func:`index_entry`).
    """
    if not isinstance(generated, str) or not _RFC3339.match(generated):
        raise ValueError(f"generated {generated!r} is not an RFC 3339 time")
    charts: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(entries):
        versions = entries[name]
        if not versions:
            continue
        for entry in versions:
            unknown = entry.keys() - CHART_VERSION_KEYS
            if unknown:
                raise ValueError(
                    f"chart {name!r}: keys {sorted(unknown)} are not ChartVersion fields"
                )
        charts[name] = sorted(
            versions,
            key=lambda entry: version_sort_key(str(entry.get("version", ""))),
            reverse=True,
        )
    out = ["apiVersion: v1\n"]
    if charts:
        out.append("entries:\n")
        _emit_mapping(charts, 2, out)
    else:
        out.append("entries: {}\n")
    out.append(f"generated: {_quote(generated)}\n")
    return "".join(out)
