"""Values documents: what an install request sets for a Helm chart beyond its questions.

Pure Python (no Flask, no database). A request may carry ``values``: a YAML (or JSON)
document as text, or a mapping, merged over the chart's ``values.yaml`` as ``helm install
-f`` merges a values file (a key set to null removes the chart's value). This is how charts
without questions are configured, and the only way to set a value no question declares.

:func:`parse_values` reads it, keeping the line and column of every key of a text document
so that every later error can point at its line; :meth:`ValuesDocument.take` moves the values
of declared question variables out of it (they are answers, checked as such);
:func:`changed_values` keeps only what differs from the chart's own values.

Every problem is a :class:`ManifestError` ``invalid_values`` (422) whose details are
``{"errors": [{"line", "column", "path", "message"}]}`` (line and column 1-based, None when
the error has no place in the document; path dotted, None for the whole document).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests.model import ManifestError
from catalog_server.yamlfile import load_yaml

__all__ = [
    "MAX_VALUES_BYTES",
    "ValuesDocument",
    "changed_values",
    "dotted",
    "leaf_paths",
    "parse_values",
    "values_error",
]

MAX_VALUES_BYTES = 1 << 20
MAX_DEPTH = 100
MAX_NODES = 100_000
SOURCE = "values"  # how a text document is named in YAML problems

Path = tuple[Any, ...]


def values_error(message: str, errors: list[dict[str, Any]]) -> ManifestError:
    """ManifestError ``invalid_values`` listing ``errors``."""
    return ManifestError("invalid_values", message, {"errors": errors})


def entry(message: str, path: Path = (), place: tuple[int, int] | None = None) -> dict[str, Any]:
    """One error of a values document: its line and column, dotted path and message."""
    line, column = place if place else (None, None)
    return {"line": line, "column": column, "path": dotted(path) or None, "message": message}


def dotted(path: Iterable[Any]) -> str:
    """A values path as text: ``("image", "tag")`` -> ``image.tag``, list items ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class ValuesDocument:
    """A parsed values document: ``tree`` (a mapping) and, for text, key positions."""

    tree: dict[str, Any] = field(default_factory=dict)
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def place(self, path: Iterable[Any]) -> tuple[int, int] | None:
        """(line, column) of the key at ``path``, or of its nearest ancestor in the document."""
        parts = tuple(path)
        while parts:
            if parts in self.positions:
                return self.positions[parts]
            parts = parts[:-1]
        return None

    def holds(self, path: Iterable[Any]) -> bool:
        """True when the document itself sets ``path`` (or a key above it to a non-mapping)."""
        node: Any = self.tree
        for part in path:
            if not isinstance(node, dict):
                return True
            if part not in node:
                return False
            node = node[part]
        return True

    def take(self, variables: Iterable[str]) -> dict[str, tuple[Any, Path]]:
        """Remove the values of the given dotted variables from the document.

        Returns ``{variable: (value, path)}`` for each variable the document sets; a
        variable whose path meets a non-mapping on the way is not taken.
        """
        taken: dict[str, tuple[Any, Path]] = {}
        for variable in variables:
            parts = tuple(variable.split("."))
            node: Any = self.tree
            for part in parts[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and parts[-1] in node:
                taken[variable] = (node.pop(parts[-1]), parts)
        return taken


def parse_values(raw: str | Mapping[str, Any] | None) -> ValuesDocument:
    """Read a request's values: YAML or JSON text, a mapping, or None (nothing).

    Text is read with the catalog's safe YAML loader (no aliases bombs, no deep nesting);
    duplicate keys and unknown tags are errors here. The document must be a mapping of text
    keys, at most MAX_VALUES_BYTES of text, MAX_DEPTH levels and MAX_NODES values, with
    finite numbers only. Raises ManifestError ``invalid_values`` listing every problem.
    """
    if raw is None:
        return ValuesDocument()
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogatepass")
        if len(data) > MAX_VALUES_BYTES:
            raise values_error(
                f"the values document is larger than {MAX_VALUES_BYTES} bytes",
                [entry(f"larger than {MAX_VALUES_BYTES} bytes")],
            )
        result = load_yaml(data, SOURCE)
        if result.problems:
            errors = [
                {"line": p.line, "column": p.column, "path": None, "message": p.message}
                for p in result.problems
            ]
            raise values_error(_count("the values document is not valid YAML", errors), errors)
        value, positions = result.value, result.positions
    elif isinstance(raw, Mapping):
        value, positions = dict(raw), {}
    else:
        raise values_error(
            "values must be a YAML or JSON document (text) or an object",
            [entry("must be a YAML or JSON document (text) or an object")],
        )
    if value is None:
        return ValuesDocument({}, positions)
    if not isinstance(value, dict):
        errors = [entry("the values document must be a mapping of keys to values", (), (1, 1))]
        raise values_error("the values document is not a mapping", errors)
    doc = ValuesDocument(value, positions)
    errors = _shape_errors(doc)
    if errors:
        raise values_error(_count("the values document has errors", errors), errors)
    if not isinstance(raw, str):
        doc.tree = copy.deepcopy(value)  # bounded now; the caller's mapping stays as it was
    return doc


def _count(message: str, errors: list) -> str:
    return f"{message} ({len(errors)} error{'s' if len(errors) != 1 else ''})"


def _shape_errors(doc: ValuesDocument) -> list[dict[str, Any]]:
    """Non-text keys, numbers that are not finite, too deep or too many values."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[Any, Path]] = [(doc.tree, ())]
    nodes = 0
    while stack:
        node, path = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return [entry(f"holds more than {MAX_NODES} values")]
        if len(path) > MAX_DEPTH:
            return [entry(f"nests deeper than {MAX_DEPTH} levels", path, doc.place(path))]
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    errors.append(entry(f"key {key!r} must be text: quote it", path,
                                        doc.place((*path, key))))  # fmt: skip
                    continue
                stack.append((child, (*path, key)))
        elif isinstance(node, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            errors.append(entry("must be a finite number", path, doc.place(path)))
    errors.sort(key=lambda e: (e["line"] or 0, e["column"] or 0))
    return errors


def changed_values(override: Any, defaults: Any) -> Any:
    """What ``override`` changes when merged over ``defaults`` (see helm.deep_merge).

    Keys whose value equals the default are dropped, mappings compared key by key; a null
    for a key the defaults lack changes nothing and is dropped too.
    """
    if not isinstance(override, dict):
        return copy.deepcopy(override)
    base = defaults if isinstance(defaults, dict) else {}
    out: dict[str, Any] = {}
    for key, value in override.items():
        if key not in base:
            if value is not None:
                out[key] = changed_values(value, {})
            continue
        default = base[key]
        if isinstance(value, dict) and isinstance(default, dict):
            sub = changed_values(value, default)
            if sub:
                out[key] = sub
        elif not (type(value) is type(default) and value == default):
            out[key] = copy.deepcopy(value)
    return out


def leaf_paths(tree: Any, limit: int = 1000) -> list[str]:
    """Dotted paths of the values in ``tree`` (lists and empty mappings count as one)."""
    found: list[str] = []
    stack: list[tuple[Any, Path]] = [(tree, ())]
    while stack and len(found) < limit:
        node, path = stack.pop()
        if isinstance(node, dict) and node:
            stack.extend((child, (*path, key)) for key, child in reversed(node.items()))
        elif path:
            found.append(dotted(path))
    return found
