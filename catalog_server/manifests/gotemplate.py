"""A safe renderer for the Go text/template subset Rancher compose catalogs use.

Rancher 1.6 rendered ``docker-compose.yml.tpl`` (and ``{{ }}`` in other catalog files) with
Go's text/template plus the sprig functions and ``splitPreserveQuotes``, on the data
``{"Values": answers}`` where answers were a ``map[string]string`` and no ``missingkey``
option was set. This module follows that:

- answers reach the template as text (booleans "true"/"false", numbers in decimal), so
  ``eq .Values.X "true"`` works and ``eq .Values.X true`` fails with Go's
  "incompatible types for comparison"; ``{{ if .Values.X }}`` is true for "false".
- a missing key renders as ``<no value>`` (Go's default); ``index .Values "MISSING"`` is ""
  (the zero value of a string map).
- ``extra`` adds top-level data beside Values (``.Release.Name``, ``.Stack.Name``).

Supported: text, ``{{- -}}`` trimming, comments, ``if``/``else if``/``else``/``end``,
``range`` (with ``$i, $e :=`` or ``.`` rebinding, and ``else``), ``with``, ``$x :=`` and
``$x =``, pipelines, parentheses, string/raw/number/bool/nil literals and the functions in
FUNCTIONS. ``define``, ``template``, ``block``, ``break``, ``continue`` and unknown functions
are refused. Nothing is evaluated as Python. Every failure raises TemplateError, whose str
is "FILE:LINE: message".

Limits: the output (MAX_OUTPUT characters), range iterations (MAX_ITERATIONS), nesting
(MAX_DEPTH), every value a function builds (govalues.MAX_TEXT characters, MAX_ITEMS
items), and the total work of a render (MAX_WORK: one unit per function call, range
iteration and output write, plus one per character or item it builds), so a hostile
template costs bounded memory and time, whatever it loops over.

:func:`render_marked` also says where answers landed in the output (:class:`AnswerSpan`):
``.Values`` text is marked (govalues.AnswerText) and so is what functions build from
it, so the compose manifest can check that answers stayed data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog_server.manifests import gofunctions as fn
from catalog_server.manifests import govalues
from catalog_server.manifests.answers import answer_text
from catalog_server.manifests.goparse import (
    LAZY,
    MAX_DEPTH,
    Node,
    Operand,
    Parser,
    Pipeline,
    TemplateError,
)
from catalog_server.manifests.govalues import (
    MAX_ITEMS,
    MAX_TEXT,
    GoError,
    StringMap,
    go_text,
    mark,
    sources_of,
    truth,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_ITERATIONS",
    "MAX_OUTPUT",
    "MAX_TEXT",
    "MAX_WORK",
    "AnswerSpan",
    "Rendered",
    "TemplateError",
    "render",
    "render_marked",
]

MAX_OUTPUT = 10 * 1024 * 1024  # characters of rendered text
MAX_ITERATIONS = 10_000  # range iterations over the whole render, nested ranges included
MAX_WORK = 50_000_000  # units of work in one render (see the module's docstring)
FUNCTIONS: Mapping[str, Callable[..., Any]] = fn.FUNCTIONS
# --- Execution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerSpan:
    """Characters ``start:end`` of the output came from the answers ``sources``, printed
    by the action on template line ``line``."""

    start: int
    end: int
    sources: frozenset[str]
    line: int


@dataclass
class Rendered:
    text: str
    spans: list[AnswerSpan]


class _Renderer:
    def __init__(self, filename: str, data: Any) -> None:
        self.filename = filename
        self.out: list[str] = []
        self.spans: list[AnswerSpan] = []
        self.size = 0
        self.iterations = 0
        self.work = 0
        self.variables: list[tuple[str, Any]] = [("$", data)]

    def fail(self, message: str, line: int) -> TemplateError:
        return TemplateError(message, self.filename, line)

    def spend(self, units: int, line: int) -> None:
        self.work += units
        if self.work > MAX_WORK:
            raise self.fail(f"the template does more than {MAX_WORK} units of work", line)

    def write(self, text: str, line: int, sources: frozenset[str] = frozenset()) -> None:
        self.spend(1 + len(text), line)
        start = self.size
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise self.fail(f"rendered output exceeds {MAX_OUTPUT} characters", line)
        self.out.append(text)
        if sources and text:
            self.spans.append(AnswerSpan(start, self.size, sources, line))

    def run(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if node.kind == "text":
                self.write(node.text, node.line)
            elif node.kind == "action":
                value = self.pipeline(node.pipe, dot)
                if not node.pipe.declare:
                    self.write(go_text(value), node.line, sources_of(value))
            else:
                mark = len(self.variables)
                try:
                    getattr(self, "run_" + node.kind)(node, dot)
                finally:
                    del self.variables[mark:]

    def run_if(self, node: Node, dot: Any) -> None:
        value = self.pipeline(node.pipe, dot)
        self.run(node.body if truth(value) else node.otherwise, dot)

    def run_with(self, node: Node, dot: Any) -> None:
        value = self.pipeline(node.pipe, dot)
        if truth(value):
            self.run(node.body, value)
        else:
            self.run(node.otherwise, dot)

    def run_range(self, node: Node, dot: Any) -> None:
        pipe = node.pipe
        value = self.pipeline(Pipeline(pipe.line, pipe.commands), dot)
        if isinstance(value, Mapping):
            pairs = [(key, value[key]) for key in sorted(value, key=str)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(max(value, 0))]  # Go 1.22 ranges over an int
        elif value is None:
            pairs = []
        else:
            raise self.fail(f"range can't iterate over {go_text(value)}", node.line)
        if not pairs:
            self.run(node.otherwise, dot)
            return
        mark = len(self.variables)
        for key, element in pairs:
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise self.fail(f"more than {MAX_ITERATIONS} range iterations", node.line)
            self.spend(1, node.line)
            del self.variables[mark:]
            if len(pipe.declare) == 2:
                self.variables += [(pipe.declare[0], key), (pipe.declare[1], element)]
            elif pipe.declare:
                self.variables.append((pipe.declare[0], element))
            self.run(node.body, element)

    def pipeline(self, pipe: Pipeline, dot: Any) -> Any:
        value, has_value = None, False
        for command in pipe.commands:
            value = self.command(command, dot, value, has_value, pipe.line)
            has_value = True
        for name in pipe.declare:
            if pipe.assign:
                found = [i for i, (n, _) in enumerate(self.variables) if n == name]
                if not found:
                    raise self.fail(f"undefined variable {name!r}", pipe.line)
                self.variables[found[-1]] = (name, value)
            else:
                self.variables.append((name, value))
        return value

    def command(self, command: list[Operand], dot: Any, final: Any, has_final: bool, line: int):
        head = command[0]
        if head.kind != "func":
            if len(command) > 1 or has_final:
                raise self.fail(f"can't give argument to non-function {_describe(head)}", line)
            return self.operand(head, dot, line)
        args: list[Any] = [lambda a=a: self.operand(a, dot, line) for a in command[1:]]
        if has_final:
            args.append(lambda: final)
        if head.value in LAZY:
            args_sources: frozenset[str] = frozenset()  # and/or return an argument as it is
        else:
            args = [arg() for arg in args]
            args_sources = frozenset().union(*(sources_of(arg) for arg in args))
        try:
            result = fn.call(head.value, args)
        except GoError as exc:
            raise self.fail(f"error calling {head.value}: {exc}", line) from None
        self.spend(1 + self.size_of(result, head.value, line), line)
        if args_sources and isinstance(result, str | list | tuple):
            # What a function builds from answers holds them (conservatively, all of it).
            result = mark(result, args_sources | sources_of(result))
        return result

    def size_of(self, value: Any, function: str, line: int) -> int:
        """Characters or items of what a function returned; over the limits it fails."""
        if not isinstance(value, str | list | tuple):
            return 0
        limit = MAX_TEXT if isinstance(value, str) else MAX_ITEMS
        if len(value) > limit:
            raise self.fail(f"{function} built a value of {len(value)} (limit {limit})", line)
        return len(value)

    def operand(self, operand: Operand, dot: Any, line: int) -> Any:
        kind = operand.kind
        if kind == "lit":
            value = operand.value
        elif kind in ("dot", "field"):
            value = dot
        elif kind == "var":
            found = [v for n, v in reversed(self.variables) if n == operand.value][:1]
            if not found:
                raise self.fail(f"undefined variable {operand.value!r}", line)
            value = found[0]
        elif kind == "pipe":
            value = self.pipeline(operand.value, dot)
        else:
            # A function name as an argument: Go calls it with no arguments.
            return self.command([operand], dot, None, False, line)
        for name in operand.chain:
            value = self.field(value, name, line)
        return value

    def field(self, value: Any, name: str, line: int) -> Any:
        if value is None:
            return None  # Go: a missing key's fields are missing too (<no value>).
        if isinstance(value, Mapping):
            return value.get(name)
        raise self.fail(f"can't evaluate field {name} in type {govalues.go_type(value)}", line)


def _describe(operand: Operand) -> str:
    if operand.kind == "lit":
        return answer_text(operand.value) if operand.value is not None else "nil"
    if operand.kind == "var":
        return operand.value + "".join("." + n for n in operand.chain)
    return "." + ".".join(operand.chain) if operand.chain else "."


def _values(values: Mapping[str, Any]) -> StringMap:
    """``.Values``: scalars as text, as Rancher's string map had them, each marked with the
    variable it answers."""
    data = StringMap(
        {
            key: mark(
                value if isinstance(value, list | tuple | Mapping) else answer_text(value),
                frozenset({key}),
            )
            for key, value in values.items()
        }
    )
    data.sources = frozenset(values)
    return data


def render_marked(
    text: str, values: Mapping[str, Any], *, filename: str, extra: Mapping[str, Any] | None = None
) -> Rendered:
    """Render as :func:`render` does, and say where the output holds answers.

    ``extra``'s values are marked too (under their key's name), since they come from the
    request (the release name). Raises TemplateError as :func:`render` does.
    """
    nodes = Parser(text, filename).parse()
    data: dict[str, Any] = {
        key: mark(value, frozenset({key})) for key, value in (extra or {}).items()
    }
    data["Values"] = _values(values)
    renderer = _Renderer(filename, data)
    renderer.run(nodes, data)
    return Rendered("".join(renderer.out), renderer.spans)


def render(
    text: str, values: Mapping[str, Any], *, filename: str, extra: Mapping[str, Any] | None = None
) -> str:
    """Render a catalog template with ``values`` as ``.Values`` and ``extra`` beside it.

    Scalar values are passed as text, as Rancher's string map did; lists and mappings are
    passed as they are. Raises TemplateError ("FILE:LINE: message") on anything outside the
    supported subset, on Go runtime errors (bad comparison, bad index, missing arguments),
    and when output, range iterations, nesting, a value or the work done exceed their
    limits (MAX_OUTPUT, MAX_ITERATIONS, MAX_DEPTH, MAX_TEXT / MAX_ITEMS, MAX_WORK).
    """
    return render_marked(text, values, filename=filename, extra=extra).text
