"""Version ranges as Helm and Rancher 2 read them: Masterminds/semver v3 constraints.

Chart.yaml's ``kubeVersion`` and the ``catalog.cattle.io/kube-version`` and
``catalog.cattle.io/rancher-version`` annotations are such ranges
(``>= 1.16.0-0 < 1.30.0-0``, ``>=2.6.0-0 <2.7.0-0 || >= 2.8.0-0``). This is a port of
Masterminds/semver v3.5 (``constraints.go``, ``version.go``), the library Helm v4 checks them
with, rule for rule:

- ``||`` separates alternatives; within one, comparisons are separated by spaces or commas
  and all must hold. Operators: ``=`` (or none), ``!=``, ``>``, ``<``, ``>=`` (``=>``),
  ``<=`` (``=<``), ``~`` (``~>``), ``^``; ``1.2 - 1.4.5`` is ``>= 1.2, <= 1.4.5``.
- ``x``, ``X``, ``*`` or a missing part make a comparison "dirty" (``1.2.x``, ``>= 1.2``).
- A version with a prerelease part (``1.29.0-rc.1``, ``1.28.3-gke.100``) satisfies an
  alternative only when some comparison in that alternative has a prerelease too: hence
  Rancher's ``-0`` (``>= 1.16.0-0``), the lowest prerelease, which lets them in.
- Versions are read as Masterminds' ``NewVersion`` reads them: a leading ``v``, missing
  minor and patch parts and leading zeros are accepted; build metadata is ignored.

``tests/test_constraints.py`` checks this module against Helm itself (sprig's
``semverCompare``, rendered by the Helm SDK) on generated ranges and versions.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Constraint", "ConstraintError", "Version", "parse_constraint", "parse_version"]

#: A range is a line of text; anything longer is refused (a catalog's value is untrusted).
MAX_CONSTRAINT_LENGTH = 500
_MAX_NUMBER = 2**64 - 1  # Go's uint64

_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_CV_GROUPS = 9
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
# Go's regexp: `\s` is ASCII whitespace only and `$` the very end of the text.
_S = r"[\t\n\f\r ]"
_CONSTRAINT = re.compile(rf"^{_S}*({_OPS}){_S}*({_CV}){_S}*\Z")
_RANGE = re.compile(rf"{_S}*({_CV}){_S}+-{_S}+({_CV}){_S}*")
_FIND = re.compile(rf"({_OPS}){_S}*({_CV})")
_VALID = re.compile(
    rf"^({_S}*({_OPS}){_S}*({_CV}){_S}*)((?:{_S}+|,{_S}*)({_OPS}){_S}*({_CV}){_S}*)*\Z"
)
_LOOSE_VERSION = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?\Z"
)
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")


class ConstraintError(ValueError):
    """A range or version that Masterminds/semver (so Helm and Rancher) would refuse."""


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = ""

    def compare(self, other: Version) -> int:
        """-1, 0 or 1, by SemVer precedence (build metadata ignored)."""
        mine, theirs = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if mine != theirs:
            return -1 if mine < theirs else 1
        if self.pre == other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_prerelease(self.pre, other.pre)


def _compare_prerelease(a: str, b: str) -> int:
    left, right = a.split("."), b.split(".")
    for i in range(max(len(left), len(right))):
        d = _compare_part(left[i] if i < len(left) else "", right[i] if i < len(right) else "")
        if d:
            return d
    return 0


def _uint(text: str) -> int | None:
    """Go's strconv.ParseUint(text, 10, 64): None when it fails."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= _MAX_NUMBER else None


def _compare_part(s: str, o: str) -> int:
    if s == o:
        return 0
    if s == "":
        return -1
    if o == "":
        return 1
    si, oi = _uint(s), _uint(o)
    if si is None and oi is None:
        return 1 if s > o else -1
    if oi is None:  # s is a number, o a string: numbers rank lower
        return -1
    if si is None:
        return 1
    return 1 if si > oi else -1


def _check_prerelease(pre: str) -> None:
    for part in pre.split("."):
        if part == "":
            raise ConstraintError("invalid prerelease string")
        if part.isdigit():
            if len(part) > 1 and part[0] == "0":
                raise ConstraintError("version segment starts with 0")
        elif not set(part) <= _ALLOWED:
            raise ConstraintError("invalid prerelease string")


def _number(text: str | None) -> int:
    if not text:
        return 0
    value = _uint(text.lstrip("."))
    if value is None:
        raise ConstraintError(f"error parsing version segment {text!r}")
    return value


@functools.lru_cache(maxsize=4096)
def parse_version(text: str) -> Version:
    """A version as Masterminds' NewVersion reads it. Raises ConstraintError."""
    if not isinstance(text, str):
        raise ConstraintError("a version must be text")
    match = _LOOSE_VERSION.match(text)
    if match is None:
        raise ConstraintError(f"{text[:60]!r} is not a semantic version")
    pre = match.group(5) or ""
    if pre:
        _check_prerelease(pre)
    return Version(_number(match.group(1)), _number(match.group(2)), _number(match.group(3)), pre)


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


@dataclass(frozen=True, slots=True)
class _Comparison:
    op: str
    con: Version
    dirty: bool = False
    minor_dirty: bool = False
    patch_dirty: bool = False

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.pre and not include_pre:
            return False
        return _OPERATIONS[self.op](self, v)


def _comparison(text: str) -> _Comparison:
    match = _CONSTRAINT.match(text)
    if match is None:
        raise ConstraintError(f"improper constraint: {text!r}")
    op, whole = match.group(1), match.group(2)
    major, minor, patch, dash_pre = match.group(3), match.group(4), match.group(5), match.group(6)
    dash_pre = dash_pre or ""
    dirty = minor_dirty = patch_dirty = False
    if _is_x(major) or major == "":
        version_text, dirty = f"0.0.0{dash_pre}", True
    elif not minor or _is_x(minor[1:]):
        version_text, dirty, minor_dirty = f"{major}.0.0{dash_pre}", True, True
    elif not patch or _is_x(patch[1:]):
        version_text, dirty, patch_dirty = f"{major}{minor}.0{dash_pre}", True, True
    else:
        version_text = whole
    try:
        con = parse_version(version_text)
    except ConstraintError:
        raise ConstraintError("constraint parser error") from None
    return _Comparison(op, con, dirty, minor_dirty, patch_dirty)


def _tilde(c: _Comparison, v: Version) -> bool:
    if v.compare(c.con) < 0:
        return False
    con = c.con
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _equal(c: _Comparison, v: Version) -> bool:
    return _tilde(c, v) if c.dirty else v.compare(c.con) == 0


def _not_equal(c: _Comparison, v: Version) -> bool:
    con = c.con
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or con.pre:
                return _compare_prerelease(v.pre, con.pre) != 0
            return False
    return v.compare(con) != 0


def _greater(c: _Comparison, v: Version) -> bool:
    con = c.con
    if not c.dirty:
        return v.compare(con) == 1
    if v.major > con.major:
        return True
    if v.major < con.major or c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.compare(con) == 1


def _less_equal(c: _Comparison, v: Version) -> bool:
    con = c.con
    if not c.dirty:
        return v.compare(con) <= 0
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _caret(c: _Comparison, v: Version) -> bool:
    con = c.con
    if v.compare(con) < 0:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if con.major == 0 and v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if con.minor == 0 and v.minor > 0:
        return False
    return con.patch == v.patch


_OPERATIONS = {
    "": _equal,
    "=": _equal,
    "!=": _not_equal,
    ">": _greater,
    "<": lambda c, v: v.compare(c.con) < 0,
    ">=": lambda c, v: v.compare(c.con) >= 0,
    "=>": lambda c, v: v.compare(c.con) >= 0,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def _rewrite_ranges(text: str) -> str:
    """``1.2 - 1.4.5`` -> ``>= 1.2, <= 1.4.5 `` (Masterminds' rewriteRange)."""
    out = text
    for match in _RANGE.finditer(text):
        low, high = match.group(1), match.group(2 + _CV_GROUPS)
        out = out.replace(match.group(0), f">= {low}, <= {high} ", 1)
    return out


@dataclass(frozen=True, slots=True)
class Constraint:
    """A parsed range: alternatives (``||``) of comparisons that must all hold."""

    text: str
    alternatives: tuple[tuple[_Comparison, ...], ...]

    def contains(self, version: Version | str) -> bool:
        """True when ``version`` satisfies the range (Masterminds' Check).

        Raises ConstraintError for a version text that does not parse."""
        v = parse_version(version) if isinstance(version, str) else version
        for group in self.alternatives:
            include_pre = any(c.con.pre for c in group)
            if all(c.check(v, include_pre) for c in group):
                return True
        return False


@functools.lru_cache(maxsize=4096)
def parse_constraint(text: str) -> Constraint:
    """Parse a range as Masterminds' NewConstraint does. Raises ConstraintError."""
    if not isinstance(text, str):
        raise ConstraintError("a range must be text")
    if len(text) > MAX_CONSTRAINT_LENGTH:
        raise ConstraintError(f"the range is longer than {MAX_CONSTRAINT_LENGTH} characters")
    rewritten = _rewrite_ranges(text)
    alternatives = []
    for part in rewritten.split("||"):
        if not _VALID.match(part):
            raise ConstraintError(f"improper constraint: {part.strip()!r}")
        found = [m.group(0) for m in _FIND.finditer(part)] or [part]
        alternatives.append(tuple(_comparison(item) for item in found))
    return Constraint(text, tuple(alternatives))
