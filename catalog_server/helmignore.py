""".helmignore: which files of a chart folder `helm package` leaves out.

Go `filepath.Match` globs as Helm's `pkg/ignore` reads them: a pattern without `/` matches a
base name at any depth, one with `/` (or a leading `/`) matches from the chart root, `dir/`
matches folders only, ignoring a folder drops everything under it, and Helm's default rule
`templates/.?*` always applies. `**` and `!` are refused, as Helm refuses them in effect.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

HELMIGNORE = ".helmignore"


@functools.lru_cache(maxsize=1024)  # every chart has Helm's default rule, most share the rest
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a Go ``filepath.Match`` pattern into a regular expression.

    ``*`` and ``?`` never match ``/``; ``[...]`` is a class negated by ``^`` (``[!x]`` is a
    class holding ``!`` and ``x``, as in Go); ``\\`` escapes the next character.

    Raises:
        ValueError: the pattern is malformed (an unclosed class or a trailing ``\\``), as
            Go's ``filepath.ErrBadPattern``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i >= n:
                raise ValueError(f"bad pattern {pattern!r}: trailing backslash")
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            j = i
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            parts: list[str] = []
            while j < n and (pattern[j] != "]" or not parts):
                ch = pattern[j]
                if ch == "\\":
                    j += 1
                    if j >= n:
                        break
                    ch = pattern[j]
                if j + 2 < n and pattern[j + 1] == "-" and pattern[j + 2] != "]":
                    hi = pattern[j + 2]
                    if hi == "\\" and j + 3 < n:
                        hi = pattern[j + 3]
                        j += 1
                    parts.append(f"{re.escape(ch)}-{re.escape(hi)}")
                    j += 3
                else:
                    parts.append(re.escape(ch))
                    j += 1
            if j >= n or not parts:
                raise ValueError(f"bad pattern {pattern!r}: unclosed or empty [ ]")
            out.append(("[^" if negate else "[") + "".join(parts) + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Rule:
    regex: re.Pattern[str]
    must_dir: bool  # the pattern ended in "/": it matches directories only
    whole_path: bool  # the pattern holds a "/": it matches the path, else the base name


class HelmIgnore:
    """The rules of a chart's ``.helmignore``, applied as ``helm package`` applies them.

    Supported, matching Helm's ``pkg/ignore``: one pattern a line; blank lines and ``#``
    comments skipped; surrounding spaces trimmed; Go glob syntax (``*``, ``?``, ``[a-z]``,
    ``[^a]``, ``\\`` escapes) where ``*`` stops at ``/``; a pattern without ``/`` matches
    the base name at any depth; a pattern with ``/`` (a leading ``/`` is dropped) matches
    the whole path from the chart root; a trailing ``/`` matches directories only; an
    ignored directory drops everything below it. Helm's default rule ``templates/.?*``
    (dotfiles directly in ``templates/``) always applies.

    Refused with ``ValueError``, as Helm refuses them or breaks on them: ``**`` (Helm:
    "double-star (**) syntax is not supported"), malformed globs, and ``!`` negations.
    Helm does not re-include on ``!``: it ignores every path that does *not* match the
    negated pattern, so a chart using one loses its Chart.yaml and cannot be packaged.
    """

    DEFAULT_RULES = ("templates/.?*",)

    def __init__(self, text: str = "") -> None:
        self._rules: list[_Rule] = []
        for line in (*text.splitlines(), *self.DEFAULT_RULES):
            self._add(line)

    def _add(self, line: str) -> None:
        rule = line.strip()
        if not rule or rule.startswith("#"):
            return
        if "**" in rule:
            raise ValueError(f".helmignore: {rule!r}: double-star (**) syntax is not supported")
        if rule.startswith("!"):
            raise ValueError(
                f".helmignore: {rule!r}: negation (!) is not supported; Helm would ignore "
                "every file the pattern does not match, Chart.yaml included"
            )
        must_dir = rule.endswith("/")
        rule = rule.rstrip("/") if must_dir else rule
        whole_path = "/" in rule
        rule = rule.removeprefix("/")
        try:
            regex = _glob_regex(rule)
        except ValueError as exc:
            raise ValueError(f".helmignore: {exc}") from None
        self._rules.append(_Rule(regex, must_dir, whole_path))

    def ignores(self, path: str, *, is_dir: bool = False) -> bool:
        """True when the rules ignore ``path`` itself (ancestors are not looked at)."""
        base = path.rpartition("/")[2]
        for rule in self._rules:
            if rule.must_dir and not is_dir:
                continue
            if rule.regex.match(path if rule.whole_path else base):
                return True
        return False

    def excludes(self, path: str) -> bool:
        """True when ``path`` (a file) or any folder above it is ignored, or it is in .git."""
        parts = path.split("/")
        if ".git" in parts:
            return True
        for depth in range(1, len(parts)):
            if self.ignores("/".join(parts[:depth]), is_dir=True):
                return True
        return self.ignores(path)


# --- chart archives -----------------------------------------------------------------------
