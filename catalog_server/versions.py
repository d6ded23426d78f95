"""Version strings: one reading, and one order, for every part of the server.

Catalog versions are messy: strict SemVer 2 (`1.2.0`, `104.1.2+up57.0.3`), `v`-prefixed folder
names (`v1.6.9`), two- and four-part numbers (`0.1`, `1.3.1.1-oci`, `0.3.000`), and free text
(`2016-06-26a`, `2017-CU5-rancher1`). :func:`parse_version` reads all but the free text into
a :class:`Version`; its precedence orders the index and the API (`sort_versions`,
`version_key`), the Helm repository's index.yaml (`helm_sort_key`) and upgrade paths and
Rancher version checks (`manifests.upgrades`, `queries`), so `1.3.1.1` lies between `1.3.1`
and `1.3.2` everywhere. Every sort key here has one shape, so keys from strict and lenient
parses compare with each other:

    (release numbers without trailing zeros, 1 if final else 0, prerelease ids, build text)

Prerelease identifiers compare as SemVer 2 says (numbers numerically and below text); build
metadata does not count for precedence and only breaks ties, so the order is deterministic.
(Version *ranges* as Helm reads them, `kubeVersion` and the Rancher annotations, are
:mod:`catalog_server.constraints`: a port of Helm's own library, checked against Helm.)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import semver

V = TypeVar("V")
VersionKey = tuple[Any, ...]

# A version read leniently: a leading `v`, any number of dot-separated numeric parts, then
# SemVer-style suffixes; spaces around it are ignored. One pattern for Python and for the
# OpenAPI document (ECMA-262 regular expressions), so the two accept the same text.
VERSION_PATTERN = (
    r" *[vV]?([0-9]+(?:\.[0-9]+)*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))? *"
)
_LENIENT = re.compile(VERSION_PATTERN + r"\Z")
_RUNS = re.compile(r"\d+|\D+")


def _strip_v(text: str) -> str:
    return text[1:] if text[:1] in ("v", "V") else text


def is_semver(text: str) -> bool:
    """True for a strict SemVer 2 version, a leading `v` allowed (`v1.6.9`, `1.0.0+up2`)."""
    return isinstance(text, str) and semver.Version.is_valid(_strip_v(text))


def _ids_key(ids: str | None) -> tuple[tuple[int, int, str], ...]:
    if not ids:
        return ()
    # SemVer 2 rule 11: numeric identifiers sort numerically and below alphanumeric ones.
    return tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in ids.split("."))


def _key(release: Iterable[int], pre: str | None, build: str | None) -> VersionKey:
    numbers = list(release)
    while len(numbers) > 1 and numbers[-1] == 0:  # 1.2 == 1.2.0 == 1.2.0.0
        numbers.pop()
    return (tuple(numbers), 0 if pre else 1, _ids_key(pre), natural_key(build or ""))


def semver_key(text: str) -> VersionKey | None:
    """Sort key of a strict SemVer 2 version (leading `v` allowed), or None."""
    if not is_semver(text):
        return None
    v = semver.Version.parse(_strip_v(text))
    return _key((v.major, v.minor, v.patch), v.prerelease, v.build)


@functools.total_ordering
@dataclass(frozen=True, eq=False, slots=True)
class Version:
    """A version as :func:`parse_version` reads it. Versions compare by precedence (SemVer
    2's, over any number of release numbers, `1.2` equal to `1.2.0`): build metadata does
    not count, as in SemVer 2."""

    release: tuple[int, ...]
    pre: str | None = None
    build: str | None = None

    @property
    def precedence(self) -> VersionKey:
        return _key(self.release, self.pre, None)[:3]

    @property
    def helm_reads_it(self) -> bool:
        """Helm's semver library (Masterminds') reads at most three release numbers."""
        return len(self.release) <= 3

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence == other.precedence

    def __lt__(self, other: Version) -> bool:
        return self.precedence < other.precedence

    def __hash__(self) -> int:
        return hash(self.precedence)


@functools.lru_cache(maxsize=4096)
def parse_version(text: str | None) -> Version | None:
    """``text`` read leniently (`0.1`, `1.3.1.1-oci`, `v2`, `103.0.1+up0.4.1`), or None."""
    if not isinstance(text, str):
        return None
    m = _LENIENT.match(text)
    if not m:
        return None
    release, pre, build = m.groups()
    try:
        numbers = tuple(int(p) for p in release.split("."))
    except ValueError:  # more digits than Python converts: not a version anyone wrote
        return None
    return Version(numbers, pre, build)


def version_key(text: str) -> VersionKey | None:
    """Sort key of a version parsed leniently (`0.1`, `1.3.1.1-oci`, `v2`), or None: its
    precedence, then its build metadata (a tie-break)."""
    v = parse_version(text.strip()) if isinstance(text, str) else None
    if v is None:
        return None
    return _key(v.release, v.pre, v.build)


def helm_sort_key(text: str) -> tuple[Any, ...]:
    """A key ordering chart versions as Helm orders index.yaml's entries, oldest first.

    By precedence; a version Helm cannot read (free text, four release numbers) sorts
    before every one it can (so after them, newest first, as Helm puts them). Ties break on
    the text, so the order is total and the output deterministic.
    """
    v = parse_version(text) if text == text.strip() else None
    if v is None or not v.helm_reads_it or text[:1] == "V":
        return (0, (), text)
    return (1, v.precedence, text)


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """A total order on any text with digit runs compared as numbers (`a2` < `a10`)."""
    return tuple((0, int(r), r) if r.isdigit() else (1, 0, r) for r in _RUNS.findall(text))


def _attr(item: Any, name: str) -> Any:
    return item if isinstance(item, str) and name == "version" else getattr(item, name, None)


def sort_versions(
    versions: Iterable[V],
    version: Callable[[V], str] | None = None,
    revision: Callable[[V], int | None] | None = None,
    folder: Callable[[V], str | None] | None = None,
) -> list[V]:
    """Return `versions` newest first.

    Items are version strings, or objects with `.version` and optional `.revision` and
    `.folder` (`LoadedVersion`); the `version`, `revision` and `folder` callables read other
    shapes. The order is chosen for the whole set, so it is total:
    - every version parses (strictly or leniently): by version precedence;
    - otherwise, when every item has a folder revision (numbered compose folders): by
      revision, which is how Rancher 1.6 catalogs grow (gaps allowed);
    - otherwise parsed versions first by precedence, then the rest by revision and text.
    Ties fall back to revision and the text of version and folder: equal input, equal order.
    """
    items = list(versions)
    texts = [str(version(i) if version else _attr(i, "version")) for i in items]
    revs = [revision(i) if revision else _attr(i, "revision") for i in items]
    folders = [str((folder(i) if folder else _attr(i, "folder")) or "") for i in items]
    keys = [version_key(t) for t in texts]
    tie = [
        (r if r is not None else -1, natural_key(t), natural_key(f))
        for r, t, f in zip(revs, texts, folders, strict=True)
    ]
    order: list[tuple[Any, ...]]
    if all(k is not None for k in keys):
        order = [(k, t) for k, t in zip(keys, tie, strict=True)]
    elif all(r is not None for r in revs):
        order = [(t,) for t in tie]
    else:
        order = [(k is not None, k or (), t) for k, t in zip(keys, tie, strict=True)]
    ranked = sorted(range(len(items)), key=lambda i: order[i], reverse=True)
    return [items[i] for i in ranked]


def newest(versions: Iterable[V]) -> V | None:
    """The newest of `versions` (see `sort_versions`), or None for none."""
    ordered = sort_versions(versions)
    return ordered[0] if ordered else None
