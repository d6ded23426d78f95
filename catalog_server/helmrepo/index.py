"""index.yaml, which Helm parses strictly.

:func:`render_index` writes it from the entries
:func:`catalog_server.chartmetadata.index_entry` builds: only keys Helm knows, with the
types and values Helm's own ``repo index`` writes; pure and deterministic.
:class:`IndexEntries` writes the same text one entry at a time, for large repositories.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from catalog_server.chartmetadata import CHART_VERSION_KEYS, index_entry
from catalog_server.helmrepo.package import archive_name
from catalog_server.loaders.folder import ICON_EXTENSIONS
from catalog_server.loaders.helm import local_icon
from catalog_server.versions import helm_sort_key

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")


def rfc3339(seconds: int | float) -> str:
    """Format epoch seconds as index.yaml writes times: RFC 3339, UTC, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


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


class IndexEntries:
    """The entries of an index.yaml, each written to its text as it is added.

    What a large repository needs: for 50,000 chart versions the parsed entries took
    hundreds of megabytes, their text (one string per version) takes about what the
    index itself does. :meth:`chunks` gives the index in pieces, so it need never be one
    string either. The text is exactly :func:`render_index`'s, whatever the order the
    entries come in (versions of one chart name may come from several templates).
    """

    def __init__(self) -> None:
        # chart name -> (version, the entry's text as an item of that chart's list)
        self._charts: dict[str, list[tuple[str, str]]] = {}

    def add(self, name: str, entry: Mapping[str, Any]) -> None:
        """Add one ChartVersion (built with :func:`index_entry`) under its chart's name.

        Raises:
            ValueError: the entry holds a key Helm would reject.
        """
        self.add_text(name, *entry_text(entry))

    def add_text(self, name: str, version: str, text: str) -> None:
        """Add one entry already written by :func:`entry_text`."""
        self._charts.setdefault(name, []).append((version, text))

    def chunks(self, generated: str) -> Iterator[str]:
        """The text of index.yaml in pieces (one per chart name and per version), in order.

        Raises:
            ValueError: ``generated`` is not RFC 3339 (at once, before any piece).
        """
        if not isinstance(generated, str) or not _RFC3339.match(generated):
            raise ValueError(f"generated {generated!r} is not an RFC 3339 time")
        return self._chunks(generated)

    def _chunks(self, generated: str) -> Iterator[str]:
        yield "apiVersion: v1\n"
        if self._charts:
            yield "entries:\n"
            for name in sorted(self._charts):
                yield f"  {_quote(name)}:\n"
                versions = sorted(
                    self._charts[name], key=lambda item: helm_sort_key(item[0]), reverse=True
                )
                for _, text in versions:
                    yield text
        else:
            yield "entries: {}\n"
        yield f"generated: {_quote(generated)}\n"


def entry_text(entry: Mapping[str, Any]) -> tuple[str, str]:
    """(version, text) of one ChartVersion as an item of its chart's list in index.yaml.

    Raises:
        ValueError: the entry holds a key Helm would reject.
    """
    unknown = entry.keys() - CHART_VERSION_KEYS
    if unknown:
        raise ValueError(f"keys {sorted(unknown)} are not ChartVersion fields")
    out: list[str] = []
    _emit_sequence([entry], 2, out)
    return str(entry.get("version", "")), "".join(out)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def version_entry(
    chart: Mapping[str, Any] | None,
    requirements: Mapping[str, Any] | None,
    *,
    slug: str,
    version: str,
    icon_type: str | None,
    created: datetime | None,
    digest: str,
) -> tuple[str, str, str, str]:
    """(chart name, archive file name, version, entry text) of one chart version as the
    chart repository of its catalog lists it: ``urls`` relative (``charts/<file>``), a
    Chart.yaml ``icon`` naming a catalog file replaced by the template's icon as the
    repository serves it (``icons/<template>.<svg|png|jpg>``, from ``icon_type``), and
    ``created`` the version's time (the epoch when unknown).

    Raises:
        ValueError: a chart Helm would not index (see :func:`index_entry`).
    """
    chart = dict(chart or {})
    if local_icon(chart.get("icon")):
        extension = ICON_EXTENSIONS.get(icon_type or "")
        chart["icon"] = f"icons/{slug}.{extension}" if extension else None
    name, filename = archive_name(chart, slug, version)
    chart.setdefault("name", name)
    entry = index_entry(
        chart,
        digest=digest,
        created=rfc3339((created or _EPOCH).timestamp()),
        urls=[f"charts/{filename}"],
        requirements=requirements,
    )
    return (name, filename, *entry_text(entry))


def render_index(entries: Mapping[str, list[dict[str, Any]]], generated: str) -> str:
    """The text of index.yaml for ``entries`` (chart name -> ChartVersions).

    Charts are sorted by name and each chart's versions newest first (see
    :func:`catalog_server.versions.helm_sort_key`); every mapping's keys are sorted, as Helm
    writes them.
    ``generated`` should change only when the content does (the commit time, say):
    clients re-download the whole index whenever it changes. For a large index, build it
    with :class:`IndexEntries` instead: the same text, in pieces.

    The YAML is written by hand rather than by ``yaml.dump``: for 5,000 versions it takes
    about 0.15 s against 1.1 s with libyaml's ``CSafeDumper`` (whose representer is still
    Python) and 3.5 s with the pure-Python dumper, and parses back to the same data.
    Strings are bare only when unambiguous (see ``_quote``), double-quoted otherwise.

    Raises:
        ValueError: ``generated`` is not RFC 3339, or an entry holds a key Helm would
            reject (build entries with :func:`index_entry`).
    """
    index = IndexEntries()
    for name in sorted(entries):
        for entry in entries[name]:
            index.add(str(name), entry)
    return "".join(index.chunks(generated))
