"""What reading a YAML file gives: the value, its problems, and where each part was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog_server.problems import Problem

MAX_DEPTH = 200
MIN_NODE_BUDGET = 100_000

Path = tuple[Any, ...]


@dataclass(slots=True)
class YamlResult:
    """The outcome of reading one YAML file.

    `value` is the document (None when unusable or empty); `positions` maps the path of
    every mapping key and sequence item, e.g. ("questions", 0, "default"), to its 1-based
    (line, column); for `load_yaml_all` paths start with the document index. Content
    reached through an alias has no positions of its own. `raw_scalars` holds the source
    text of every plain scalar that resolved to an int or float, so that `version: 1.10`
    can be read back as "1.10" rather than 1.1 (see `text_at`).
    """

    value: Any = None
    problems: list[Problem] = field(default_factory=list)
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    raw_scalars: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.blocking for p in self.problems)

    def line(self, *path: Any) -> int | None:
        pos = self.positions.get(path)
        return pos[0] if pos else None

    def text_at(self, *path: Any) -> str | None:
        """The value at `path` as text: numbers as written, None for absent/collections."""
        value: Any = self.value
        for part in path:
            in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
            if not (in_list or (isinstance(value, dict) and part in value)):
                return None
            value = value[part]
        if value is None or isinstance(value, dict | list):
            return None
        if path in self.raw_scalars:
            return self.raw_scalars[path]
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def yaml_problem(
    rule: str,
    message: str,
    path: str,
    line: int | None = None,
    column: int | None = None,
    *,
    blocking: bool = True,
    severity: str = "error",
) -> Problem:
    """A problem of a YAML file, located by 1-based line and column where known."""
    return Problem(
        rule,
        severity,
        message,
        file=path,
        line=line,
        column=column,  # type: ignore[arg-type]
        blocking=blocking,
    )
