"""What the validators read: a version's files, re-parsed with positions.

The loaders keep each version's files (`LoadedVersion.files`) but not the positions of
keys; validators re-read the bytes with `load_yaml` to locate problems by line. Problems
the re-read finds (parse errors, duplicate keys) are the loader's and are dropped here:
a file that does not parse is simply skipped.

Paths in problems are relative to the catalog root, as the loaders' are.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.problems import Problem
from catalog_server.sources import MAX_FILE_BYTES, Snapshot, SourceError
from catalog_server.validation.rules import problem
from catalog_server.yamlfile import YamlResult, load_yaml


def catalog_path(*parts: str | None) -> str:
    """Join path parts relative to the catalog root, skipping empty ones."""
    return "/".join(p.strip("/") for p in parts if p)


def suggestion(key: Any, known: Iterable[str]) -> str:
    """' (did you mean `x`?)' for a misspelt key, or ''."""
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return f" (did you mean `{close[0]}`?)" if close else ""


def line_of(result: YamlResult | None, path: tuple[Any, ...]) -> int | None:
    """The line of `path` in a parsed file, or of its nearest located ancestor."""
    if result is None:
        return None
    path = tuple(path)
    while path:
        pos = result.positions.get(path)
        if pos:
            return pos[0]
        path = path[:-1]
    return 1


class VersionFiles:
    """One version's files: bytes by path, parsed YAML (cached), catalog-root paths."""

    def __init__(self, template: LoadedTemplate, version: LoadedVersion):
        self.template = template
        self.version = version
        self.folder = catalog_path(template.folder, version.folder)
        self._files = {f.path: f for f in version.files}
        self._yaml: dict[str, YamlResult | None] = {}
        self.memo: dict[str, Any] = {}  # what one family reads and another reuses

    def paths(self) -> list[str]:
        return sorted(self._files)

    def has(self, rel: str) -> bool:
        return rel in self._files

    def first(self, *names: str) -> str | None:
        """The first of `names` that this version holds."""
        return next((n for n in names if n in self._files), None)

    def path(self, rel: str) -> str:
        return catalog_path(self.folder, rel)

    def data(self, rel: str) -> bytes | None:
        entry = self._files.get(rel)
        return entry.content if entry is not None else None

    def yaml(self, rel: str) -> YamlResult | None:
        """The file parsed, or None when it is absent, unreadable or does not parse."""
        if rel not in self._yaml:
            # The loader keeps what it parsed; parse again only what it did not.
            result = self.version.parsed.get(rel)
            if result is None and (data := self.data(rel)) is not None:
                result = load_yaml(data, self.path(rel))
            self._yaml[rel] = result if result is not None and result.ok else None
        return self._yaml[rel]

    def report(
        self, rule: str, message: str, rel: str | None = None, line: int | None = None, **kw: Any
    ) -> Problem:
        """A problem of `rule` in file `rel` of this version (the folder when None)."""
        return problem(
            rule,
            message,
            file=self.path(rel) if rel else self.folder,
            line=line,
            template=self.template.id,
            version=self.version.version,
            **kw,
        )


def read_template_file(
    snapshot: Snapshot, template: LoadedTemplate, name: str, limit: int = MAX_FILE_BYTES
) -> bytes | None:
    """A file of the template folder itself (config.yml, the icon), or None."""
    try:
        return snapshot.read(catalog_path(template.folder, name), limit)
    except SourceError:  # absent, too large, a symlink: the loader reports those
        return None


def parse_template_yaml(
    snapshot: Snapshot, template: LoadedTemplate, name: str
) -> YamlResult | None:
    data = read_template_file(snapshot, template, name)
    if data is None:
        return None
    result = load_yaml(data, catalog_path(template.folder, name))
    return result if result.ok else None


def strings(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Every string value of a parsed YAML tree with its key path (keys are not included).

    Iterative, so deep documents cost no recursion; the loader has already bounded their
    size (alias expansion included).
    """
    stack = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            stack.extend(((*where, k), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend(((*where, i), v) for i, v in reversed(list(enumerate(node))))
