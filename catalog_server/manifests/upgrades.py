"""Upgrade paths between template versions, and diffs between two versions' files.

Pure Python (no Flask, no database). Rancher offered an upgrade from a running version to
every newer version of the same template that

- fits the running Rancher (``minimum_rancher_version`` <= Rancher <= ``maximum_rancher_version``,
  both inclusive, each only when given), and
- accepts the running version in its ``upgrade_from`` range, when it has one.

Ranges use Rancher's (blang/semver) syntax: comparators ``>=1.0.0``, ``<2.0.0``, ``>``,
``<=``, ``=``/``==`` or a bare version, ``!=``/``!``, joined by spaces (all must hold) and
``||`` (any alternative may hold); ``1.2.x`` stands for ``>=1.2.0 <1.3.0``. Versions are read
and ordered as everywhere else (:mod:`catalog_server.versions`): a leading ``v``, missing
minor or patch parts, a fourth part and leading zeros are accepted (``v1.6``, ``0.3.000``,
``1.3.1.1``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from catalog_server.versions import Version, parse_version

__all__ = [
    "VersionInfo",
    "files_diff",
    "satisfies",
    "upgrade_targets",
]

_COMPARATOR = re.compile(r"\s*(>=|<=|!=|==|>|<|=|!)?\s*([^\s<>=!|]+)\s*")
_WILDCARD = re.compile(r"v?(\d+)(?:\.(\d+|[xX*]))?(?:\.([xX*]))?\Z")
_TESTS = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
    "=": lambda c: c == 0,
    "==": lambda c: c == 0,
    "": lambda c: c == 0,
    "!=": lambda c: c != 0,
    "!": lambda c: c != 0,
}
MAX_RANGE_LENGTH = 500  # a range is a line of text; anything longer is a mistake


def _wildcard(text: str) -> list[tuple[str, Version]] | None:
    """``1.2.x`` -> [(">=", 1.2.0), ("<", 1.3.0)]; None when ``text`` has no wildcard."""
    match = _WILDCARD.match(text)
    if not match or not any(p and p in "xX*" for p in match.groups()[1:]):
        return None
    major, minor, _ = match.groups()
    if minor is None or minor in "xX*":
        low, high = Version((int(major),)), Version((int(major) + 1,))
    else:
        low, high = Version((int(major), int(minor))), Version((int(major), int(minor) + 1))
    return [(">=", low), ("<", high)]


def _parse_range(text: str) -> list[list[tuple[str, Version]]]:
    """Alternatives of conjunctions of (operator, version). Raises ValueError when malformed."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the range is empty")
    if len(text) > MAX_RANGE_LENGTH:
        raise ValueError(f"the range is longer than {MAX_RANGE_LENGTH} characters")
    alternatives = []
    for alternative in text.split("||"):
        terms: list[tuple[str, Version]] = []
        rest = alternative.strip()
        if not rest:
            raise ValueError(f"range {text!r}: empty alternative around ||")
        pos = 0
        while pos < len(rest):
            match = _COMPARATOR.match(rest, pos)
            if match is None:
                raise ValueError(f"range {text!r}: cannot read {rest[pos:]!r}")
            pos = match.end()
            operator, version_text = match.group(1) or "", match.group(2)
            expanded = _wildcard(version_text) if not operator else None
            if expanded:
                terms.extend(expanded)
                continue
            version = parse_version(version_text)
            if version is None:
                raise ValueError(f"range {text!r}: {version_text!r} is not a version")
            terms.append((operator, version))
        alternatives.append(terms)
    return alternatives


def satisfies(version: str, range_text: str) -> bool:
    """True when ``version`` is in ``range_text``. A version that does not parse is in no range.

    Raises ValueError when the range is malformed.
    """
    alternatives = _parse_range(range_text)
    parsed = parse_version(version)
    if parsed is None:
        return False
    return any(
        all(_TESTS[operator](_compare(parsed, bound)) for operator, bound in terms)
        for terms in alternatives
    )


def _compare(a: Version, b: Version) -> int:
    return (a > b) - (a < b)


@dataclass(frozen=True)
class VersionInfo:
    """What deciding an upgrade needs of one version. ``position`` 0 is the newest."""

    version: str
    position: int
    upgrade_from: str | None = None
    minimum_rancher_version: str | None = None
    maximum_rancher_version: str | None = None


def _fits_rancher(target: VersionInfo, rancher: Version) -> bool:
    low = parse_version(target.minimum_rancher_version)
    high = parse_version(target.maximum_rancher_version)
    return (low is None or rancher >= low) and (high is None or rancher <= high)


def upgrade_targets(
    current: VersionInfo, versions: Iterable[VersionInfo], rancher_version: str | None = None
) -> tuple[list[VersionInfo], list[str]]:
    """The versions ``current`` may upgrade to, newest first, and warnings.

    "Newer" is the catalog's own order (``position``), which holds for numbered version
    folders whose version strings are not semver. ``rancher_version`` None skips the Rancher
    range check; a value that does not parse raises ValueError. A target whose
    ``upgrade_from`` is malformed is left out with a warning naming it.
    """
    rancher = None
    if rancher_version:
        rancher = parse_version(rancher_version)
        if rancher is None:
            raise ValueError(f"{rancher_version!r} is not a version")
    targets, warnings = [], []
    for target in sorted(versions, key=lambda v: v.position):
        if target.position >= current.position:
            continue
        if rancher is not None and not _fits_rancher(target, rancher):
            continue
        if target.upgrade_from:
            try:
                allowed = satisfies(current.version, target.upgrade_from)
            except ValueError as exc:
                warnings.append(f"version {target.version}: upgrade_from is malformed: {exc}")
                continue
            if not allowed:
                continue
        targets.append(target)
    return targets, warnings


def _lines(content: bytes | None, path: str) -> list[str] | None:
    """The file's lines, or None for a file that is not UTF-8 text (or was not kept)."""
    if content is None or b"\x00" in content:
        return None
    try:
        return content.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def files_diff(
    old_label: str,
    old_files: Mapping[str, bytes | None],
    new_label: str,
    new_files: Mapping[str, bytes | None],
) -> str:
    """A unified diff (``diff -ruN`` style, ``a/`` and ``b/`` prefixes) of two file sets.

    Paths are compared in sorted order; an added or removed file is diffed against nothing;
    binary or unkept files give a ``Binary files ... differ`` line. Empty when identical.
    """
    out: list[str] = []
    for path in sorted(set(old_files) | set(new_files)):
        old, new = old_files.get(path), new_files.get(path)
        if path in old_files and path in new_files and old == new:
            continue
        old_lines = _lines(old, path) if path in old_files else []
        new_lines = _lines(new, path) if path in new_files else []
        header = f"diff -ruN {old_label}/{path} {new_label}/{path}\n"
        if old_lines is None or new_lines is None:
            out.append(header)
            out.append(f"Binary files {old_label}/{path} and {new_label}/{path} differ\n")
            continue
        body = list(
            difflib.unified_diff(
                old_lines,
                new_lines,
                f"a/{path}" if path in old_files else "/dev/null",
                f"b/{path}" if path in new_files else "/dev/null",
            )
        )
        if body:
            out.append(header)
            # A last line without a newline would run into the next header.
            out.extend(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                for line in body
            )
    return "".join(out)
