"""Safe YAML loading for untrusted catalog content.

`load_yaml(data, path)` never raises for bad input: everything wrong with the bytes comes
back as problems on a `YamlResult`, located by `path` (relative to the catalog root) and a
1-based line and column.

How it reads: libyaml's event stream (`CSafeLoader`, falling back to the pure-Python
`SafeLoader`) is turned into Python values by one iterative loop here, without PyYAML's
composer and constructor. Measured on a 4 MB values file, composing nodes with the C loader
costs 1.6 s of `yaml.load`'s 2.1 s while the event stream alone costs 0.2 s, so building from
events is the cheaper of the two, and it keeps no recursion anywhere: the nesting depth is
checked on every event, so a 10,000-level document stops at level `MAX_DEPTH + 1` without
being read further.

The loop also
- detects duplicate mapping keys (PyYAML silently keeps the last value; so do we, with a
  `yaml.duplicate-key` warning),
- records the position of every mapping key and sequence item,
- counts the nodes a full expansion of aliases would construct, and stops with
  `yaml.alias-bomb` past `max(MIN_NODE_BUDGET, len(text))`: aliases share one Python object
  as in PyYAML, but whoever walks the value later (JSON, templates) pays for the expansion.

Scalars resolve with SafeLoader's own implicit resolvers (YAML 1.1: `yes` is True, `010` is
8). Timestamps and `!!binary` stay the strings they were written as (JSON-safe, and what
Helm's and Rancher's Go parsers see). Unknown tags (`!Ref x`) give a `yaml.unknown-tag`
warning and the untagged value. Sets, omaps and pairs become dicts and lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from catalog_server.problems import Problem

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 200
MIN_NODE_BUDGET = 100_000

Path = tuple[Any, ...]

_YAML = "tag:yaml.org,2002:"
_MERGE = object()  # the resolved value of a `<<` merge key
_MISSING = object()
_RESOLVERS = Resolver.yaml_implicit_resolvers
_CONSTRUCT = SafeConstructor()
# Tags whose plain text is turned into a Python value; every other known tag keeps the text.
_CONVERTERS = {
    _YAML + "null": lambda n: None,
    _YAML + "bool": _CONSTRUCT.construct_yaml_bool,
    _YAML + "int": _CONSTRUCT.construct_yaml_int,
    _YAML + "float": _CONSTRUCT.construct_yaml_float,
}
_TEXT_TAGS = {_YAML + t for t in ("str", "timestamp", "binary", "value", "yaml")}
_COLLECTION_TAGS = {_YAML + t for t in ("map", "seq", "omap", "set", "pairs")}
# Characters YAML does not allow in a stream (libyaml would stop with a ReaderError).
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARS = re.compile("[\x80-\x84\x86-\x9f\ufffe\uffff]")


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


def _problem(
    rule: str,
    message: str,
    path: str,
    line: int | None = None,
    column: int | None = None,
    *,
    blocking: bool = True,
    severity: str = "error",
) -> Problem:
    return Problem(
        rule,
        severity,
        message,
        file=path,
        line=line,
        column=column,  # type: ignore[arg-type]
        blocking=blocking,
    )


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    nl = "\n" if isinstance(data, str) else b"\n"
    line = data.count(nl, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - (data.rfind(nl, 0, offset) + 1) + 1  # type: ignore[arg-type]


def decode_text(data: bytes, path: str) -> tuple[str | None, list[Problem]]:
    """Decode a text file as UTF-8 (a BOM is dropped).

    Returns (text, []) or (None, [problem]): `file.binary` for NUL bytes, `file.encoding`
    for UTF-16 or bytes that are not UTF-8 (with the line of the first bad byte). Both are
    blocking errors.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [
            _problem("file.encoding", "file is UTF-16 encoded; save it as UTF-8", path, 1)
        ]
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        return None, [
            _problem(
                "file.binary",
                f"file holds binary data (a NUL byte at line {line}); it must be UTF-8 text",
                path,
                line,
                col,
            )
        ]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        byte = data[exc.start]
        return None, [
            _problem(
                "file.encoding",
                f"byte 0x{byte:02x} at line {line} is not UTF-8; save the file as UTF-8",
                path,
                line,
                col,
            )
        ]


def load_yaml(data: bytes, path: str) -> YamlResult:
    """Read one YAML document (see the module docstring). Never raises."""
    return _load(data, path, multi=False)


def load_yaml_all(data: bytes, path: str) -> YamlResult:
    """Read every document of a stream (Kubernetes manifests): `value` is their list."""
    return _load(data, path, multi=True)


def _load(data: bytes, path: str, *, multi: bool) -> YamlResult:
    result = YamlResult(value=[] if multi else None)
    try:
        text, problems = decode_text(data, path)
        if text is None:
            result.problems.extend(problems)
            result.value = None
            return result
        bad = _CONTROL_BYTES.search(data) or _CONTROL_CHARS.search(text)
        if bad:
            line, col = _line_col(bad.string, bad.start())
            code = ord(bad.group()) if isinstance(bad.group(), str) else bad.group()[0]
            result.problems.append(
                _problem(
                    "file.binary",
                    f"control character U+{code:04X} at line {line} is not allowed "
                    "in YAML; the file must be plain text",
                    path,
                    line,
                    col,
                )
            )
            result.value = None
            return result
        _Builder(text, path, result, multi).run()
    except yaml.MarkedYAMLError as exc:
        result.problems.append(_marked_problem(exc, path, text))
    except yaml.YAMLError as exc:
        result.problems.append(_problem("yaml.parse", f"not valid YAML: {exc}", path))
    except _Stop as stop:
        result.problems.append(stop.problem)
    except Exception as exc:  # never a traceback for bad content
        result.problems.append(
            _problem("yaml.parse", f"could not be read ({type(exc).__name__}: {exc})", path)
        )
    if not result.ok:
        result.value = None
        result.positions.clear()
        result.raw_scalars.clear()
    return result


def _marked_problem(exc: yaml.MarkedYAMLError, path: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    at_end = mark is not None and mark.line >= len(text.splitlines())
    if at_end and exc.context_mark is not None:
        # An unclosed bracket or quote is found only at the end of the file; the line where
        # it was opened is the one to fix.
        mark = exc.context_mark
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    problem = (exc.problem or "").strip()
    if "maximum nesting depth" in problem:
        return _problem(
            "yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels", path, line, column
        )
    if line is not None:
        lines = text.splitlines()
        source = lines[line - 1] if line <= len(lines) else ""
        indent = source[: len(source) - len(source.lstrip(" \t"))]
        if "tab" in problem or "\t" in indent:
            return _problem(
                "yaml.tab-indent",
                f"line {line} is indented with a tab; YAML indentation must use spaces",
                path,
                line,
                column,
            )
    message = problem[:1].upper() + problem[1:] if problem else "not valid YAML"
    if exc.context:
        where = ""
        if exc.context_mark and exc.context_mark is not mark:
            cm = exc.context_mark
            where = f" that starts at line {cm.line + 1}, column {cm.column + 1}"
        message += f" ({exc.context}{where})"
    if at_end and exc.context_mark is not None:
        message += "; the file ends before it is closed"
    return _problem("yaml.parse", message, path, line, column)


def _pos(event: ev.Event) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


class _Stop(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class _Frame:
    __slots__ = (
        "value",
        "path",
        "size",
        "anchor",
        "key",
        "key_path",
        "first_lines",
        "merges",
        "is_map",
        "pos",
    )

    def __init__(self, is_map: bool, path: Path | None, anchor: str | None, pos: tuple[int, int]):
        self.is_map = is_map
        self.pos = pos
        self.value: Any = {} if is_map else []
        self.path = path  # None inside a complex (collection) key: no positions there
        self.size = 1
        self.anchor = anchor
        self.key: Any = _MISSING
        self.key_path: Path | None = None
        self.first_lines: dict[Any, int] = {}
        self.merges: list[dict[Any, Any]] = []


class _Builder:
    def __init__(self, text: str, path: str, result: YamlResult, multi: bool):
        self.text, self.path, self.result, self.multi = text, path, result, multi
        self.budget = max(MIN_NODE_BUDGET, len(text))
        self.count = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.documents = 0
        self.scalar_cache: dict[str, tuple[Any, bool]] = {}

    def run(self) -> None:
        loader = _Loader(self.text)
        try:
            handlers = {
                ev.ScalarEvent: self.scalar,
                ev.AliasEvent: self.alias,
                ev.SequenceStartEvent: self.start,
                ev.MappingStartEvent: self.start,
                ev.SequenceEndEvent: self.end,
                ev.MappingEndEvent: self.end,
                ev.DocumentStartEvent: self.document,
            }
            while loader.check_event():
                event = loader.get_event()
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(event)
        finally:
            loader.dispose()

    # -- events ---------------------------------------------------------------------------

    def document(self, event: ev.DocumentStartEvent) -> None:
        self.documents += 1
        self.anchors.clear()  # anchors do not cross documents, as in PyYAML
        if self.documents > 1 and not self.multi:
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            raise _Stop(
                _problem(
                    "yaml.parse",
                    f"a second YAML document starts at line {line}; "
                    "this file must hold one document",
                    self.path,
                    line,
                    column,
                )
            )

    def scalar(self, event: ev.ScalarEvent) -> None:
        self.tick(1, event)
        value, numeric = self.resolve(event)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)
        self.add(value, 1, _pos(event), event.value if numeric else None)

    def alias(self, event: ev.AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self.stop(
                "yaml.alias-bomb",
                f"alias *{name} refers to a collection that "
                "contains it: the value would be infinite",
                event,
            )
        if name not in self.anchors:
            raise self.stop(
                "yaml.parse", f"alias *{name} refers to no anchor &{name} defined before it", event
            )
        value, size = self.anchors[name]
        self.tick(size, event)
        self.add(value, size, _pos(event), None)

    def start(self, event: ev.CollectionStartEvent) -> None:
        self.tick(1, event)
        if len(self.stack) >= MAX_DEPTH:
            raise self.stop("yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels", event)
        self.check_tag(event.tag, event)
        frame = _Frame(
            isinstance(event, ev.MappingStartEvent),
            self.child_path(event),
            event.anchor,
            _pos(event),
        )
        if event.anchor:
            self.open_anchors.add(event.anchor)
        self.stack.append(frame)

    def end(self, event: ev.CollectionEndEvent) -> None:
        frame = self.stack.pop()
        value = frame.value
        if frame.merges:
            merged: dict[Any, Any] = {}
            for source in reversed(frame.merges):  # the first source listed wins
                merged.update(source)
            merged.update(value)  # explicit keys win over merged ones
            value = merged
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (value, frame.size)
        self.add(value, frame.size, frame.pos, None, collection=True)

    # -- building -------------------------------------------------------------------------

    def tick(self, size: int, event: ev.Event) -> None:
        self.count += size
        if self.count > self.budget:
            raise self.stop(
                "yaml.alias-bomb",
                f"aliases expand to more than {self.budget} "
                "nodes (a 'billion laughs' document); use fewer nested aliases",
                event,
            )

    def child_path(self, event: ev.Event) -> Path | None:
        if not self.stack:
            path: Path = (self.documents - 1,) if self.multi else ()
            return path
        parent = self.stack[-1]
        if parent.path is None:
            return None
        if not parent.is_map:
            path = (*parent.path, len(parent.value))
            self.result.positions[path] = _pos(event)
            return path
        if parent.key is _MISSING:
            return None  # a collection used as a key: reported when it is added
        return parent.key_path

    def add(
        self, value: Any, size: int, pos: tuple[int, int], raw: str | None, collection: bool = False
    ) -> None:
        if not self.stack:
            if self.multi:
                self.result.value.append(value)
            else:
                self.result.value = value
            return
        parent = self.stack[-1]
        parent.size += size
        if not parent.is_map:
            if not collection and parent.path is not None:  # collections recorded at start
                path = (*parent.path, len(parent.value))
                self.result.positions[path] = pos
                if raw is not None:
                    self.result.raw_scalars[path] = raw
            parent.value.append(value)
        elif parent.key is _MISSING:
            self.add_key(parent, value, pos)
        else:
            key, parent.key = parent.key, _MISSING
            if key is _MERGE:
                self.add_merge(parent, value, pos)
            else:
                if raw is not None and parent.key_path is not None:
                    self.result.raw_scalars[parent.key_path] = raw
                parent.value[key] = value

    def add_key(self, parent: _Frame, key: Any, pos: tuple[int, int]) -> None:
        line, column = pos
        if isinstance(key, dict | list):
            raise _Stop(
                _problem(
                    "yaml.parse",
                    f"the mapping key at line {line} is itself a "
                    "mapping or list; keys must be plain values (is a `{{ }}` "
                    "template expression meant to be quoted?)",
                    self.path,
                    line,
                    column,
                )
            )
        parent.key = key
        parent.key_path = (*parent.path, key) if parent.path is not None else None
        if key is _MERGE:
            return
        first = parent.first_lines.get(key)
        if first is not None:
            self.result.problems.append(
                _problem(
                    "yaml.duplicate-key",
                    f"duplicate key {key!r}: first at line {first}; the last value wins",
                    self.path,
                    line,
                    column,
                    blocking=False,
                    severity="warning",
                )
            )
        else:
            parent.first_lines[key] = line
        if parent.key_path is not None:
            self.result.positions[parent.key_path] = pos

    def add_merge(self, parent: _Frame, value: Any, pos: tuple[int, int]) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise _Stop(
                _problem(
                    "yaml.parse",
                    "a merge key `<<` must be given a mapping or a list of mappings",
                    self.path,
                    *pos,
                )
            )
        parent.merges.extend(sources)

    def resolve(self, event: ev.ScalarEvent) -> tuple[Any, bool]:
        """The Python value of a scalar, and whether it is a number (keep the raw text)."""
        tag, text = event.tag, event.value
        if tag is None and event.implicit[0]:
            cached = self.scalar_cache.get(text)
            if cached is not None:
                return cached
            resolved = self.plain(text)
            self.scalar_cache[text] = resolved
            return resolved
        if tag is None or tag == "!" or tag in _TEXT_TAGS:
            return text, False
        convert = _CONVERTERS.get(tag)
        if convert is None:
            self.check_tag(tag, event)
            return text, False
        try:
            value = convert(ScalarNode(tag, text))
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            raise self.stop(
                "yaml.parse", f"{text!r} is not a valid {tag.rsplit(':', 1)[-1]} ({exc})", event
            ) from None
        return value, isinstance(value, int | float) and not isinstance(value, bool)

    @staticmethod
    def plain(text: str) -> tuple[Any, bool]:
        for tag, regexp in _RESOLVERS.get(text[0] if text else "", ()):
            if regexp.match(text):
                if tag == _YAML + "merge":
                    return _MERGE, False
                convert = _CONVERTERS.get(tag)
                if convert is None:  # timestamps, `=`: kept as written
                    return text, False
                value = convert(ScalarNode(tag, text))
                return value, tag in (_YAML + "int", _YAML + "float")
        return text, False

    def check_tag(self, tag: str | None, event: ev.Event) -> None:
        if tag is None or tag == "!" or tag in _COLLECTION_TAGS or tag in _TEXT_TAGS:
            return
        if tag in _CONVERTERS:
            return
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        self.result.problems.append(
            _problem(
                "yaml.unknown-tag",
                f"tag {tag} is not a standard YAML tag; it is ignored and the "
                "value read as untagged",
                self.path,
                line,
                column,
                blocking=False,
                severity="warning",
            )
        )

    def stop(self, rule: str, message: str, event: ev.Event) -> _Stop:
        mark = event.start_mark
        return _Stop(_problem(rule, message, self.path, mark.line + 1, mark.column + 1))
