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
(MAX_DEPTH), every value a function builds (gofunctions.MAX_TEXT characters, MAX_ITEMS
items), and the total work of a render (MAX_WORK: one unit per function call, range
iteration and output write, plus one per character or item it builds), so a hostile
template costs bounded memory and time, whatever it loops over.

:func:`render_marked` also says where answers landed in the output (:class:`AnswerSpan`):
``.Values`` text is marked (gofunctions.AnswerText) and so is what functions build from
it, so the compose manifest can check that answers stayed data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests import gofunctions as fn
from catalog_server.manifests.answers import answer_text
from catalog_server.manifests.gofunctions import (
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
MAX_DEPTH = 100  # nesting of control structures and parentheses
MAX_WORK = 50_000_000  # units of work in one render (see the module's docstring)
FUNCTIONS: Mapping[str, Callable[..., Any]] = fn.FUNCTIONS
_LAZY = frozenset({"and", "or"})
_CHAINABLE = frozenset({"field", "chain", "variable", "close"})
_UNSUPPORTED = frozenset({"define", "template", "block", "break", "continue"})
_KEYWORDS = frozenset({"if", "else", "end", "range", "with"}) | _UNSUPPORTED

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<declare>:=)|(?P<assign>=)|(?P<comma>,)|(?P<pipe>\|)|(?P<open>\()|(?P<close>\))
    |(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)|(?P<char>'(?:[^'\\\n]|\\.)+')
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
    |(?P<variable>\$\w*)|(?P<field>\.\w+)|(?P<dot>\.)|(?P<ident>[A-Za-z_]\w*)""",
    re.VERBOSE,
)
_QUOTED_OR_CLOSE = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|\}\}')


class TemplateError(ValueError):
    """A template could not be parsed or rendered; ``str()`` is "FILE:LINE: message"."""

    def __init__(self, message: str, filename: str, line: int) -> None:
        super().__init__(message)
        self.message, self.filename, self.line = message, filename, line

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.message}"


# --- Parse tree -----------------------------------------------------------------------------


@dataclass
class _Operand:
    kind: str  # "lit", "dot", "field", "var", "func", "pipe"
    value: Any = None  # literal value, variable name, function name, or _Pipeline
    chain: tuple[str, ...] = ()  # field names applied after the operand


@dataclass
class _Pipeline:
    line: int
    commands: list[list[_Operand]]
    declare: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class _Node:
    kind: str  # "text", "action", "if", "range", "with"
    line: int
    text: str = ""
    pipe: _Pipeline | None = None
    body: list[_Node] = field(default_factory=list)
    otherwise: list[_Node] = field(default_factory=list)


# --- Lexing ---------------------------------------------------------------------------------


def _split(text: str, filename: str) -> list[tuple[str, str, int]]:
    """Split into ("text", s, line) and ("action", s, line) items, applying trim markers."""
    items: list[tuple[str, str, int]] = []
    pos, line = 0, 1
    while True:
        start = text.find("{{", pos)
        if start < 0:
            items.append(("text", text[pos:], line))
            return items
        chunk = text[pos:start]
        inner = start + 2
        if text.startswith("-", inner) and text[inner + 1 : inner + 2] in (" ", "\t", "\r", "\n"):
            chunk = chunk.rstrip(" \t\r\n")
            inner += 2
        items.append(("text", chunk, line))
        line += text.count("\n", pos, start)
        end = _action_end(text, inner, filename, line)
        body = text[inner:end]
        trim_right = body.endswith(" -") or body[-2:] in ("\t-", "\n-", "\r-")
        if trim_right:
            body = body[:-2]
        if body.strip().startswith("/*"):
            if not body.strip().endswith("*/"):
                raise TemplateError("comment ends before closing delimiter", filename, line)
        else:
            items.append(("action", body, line))
        line += text.count("\n", start, end + 2)
        pos = end + 2
        if trim_right:
            while pos < len(text) and text[pos] in " \t\r\n":
                line += text[pos] == "\n"
                pos += 1


def _action_end(text: str, inner: int, filename: str, line: int) -> int:
    """Index of the "}}" closing an action, skipping quoted strings and comments."""
    if text[inner:].lstrip().startswith("/*"):
        close = text.find("*/", inner)
        end = text.find("}}", close) if close >= 0 else -1
    else:
        end, i = -1, inner
        while i < len(text):
            match = _QUOTED_OR_CLOSE.search(text, i)
            if not match:
                break
            if match.group() == "}}":
                end = match.start()
                break
            i = match.end()
    if end < 0:
        raise TemplateError("unclosed action", filename, line)
    return end


def _tokens(body: str, filename: str, line: int) -> list[tuple[str, str, int]]:
    """The action's tokens, spaces dropped. A field written right after a field, variable
    or `)` is a "chain" token (`.Values.A`, `$x.A`); after a space it starts a new operand,
    as in Go (`or .Values.A .Values.B` has two arguments)."""
    tokens: list[tuple[str, str, int]] = []
    pos, spaced = 0, True
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if not match:
            raise TemplateError(f"unexpected {body[pos]!r} in action", filename, line)
        kind = match.lastgroup or ""
        if kind == "field" and not spaced and tokens[-1][0] in _CHAINABLE:
            kind = "chain"
        spaced = kind == "space"
        if kind != "space":
            tokens.append((kind, match.group(), line))
        line += match.group().count("\n")
        pos = match.end()
    return tokens


# --- Parsing --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.items = _split(text, filename)
        self.pos = 0
        self.scopes: list[set[str]] = [{"$"}]

    def fail(self, message: str, line: int) -> TemplateError:
        return TemplateError(message, self.filename, line)

    def parse(self) -> list[_Node]:
        nodes, stop, line = self.parse_list(depth=0)
        if stop is not None:
            raise self.fail(f"unexpected {{{{{stop}}}}}", line)
        return nodes

    def parse_list(self, depth: int) -> tuple[list[_Node], str | None, int]:
        """Parse until end of input or an else/end; return nodes, that keyword and its line."""
        if depth > MAX_DEPTH:
            raise self.fail(f"control structures nested deeper than {MAX_DEPTH}", 1)
        nodes: list[_Node] = []
        while self.pos < len(self.items):
            kind, body, line = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                if body:
                    nodes.append(_Node("text", line, text=body))
                continue
            tokens = _tokens(body, self.filename, line)
            if not tokens:
                raise self.fail("missing value for command", line)
            word = tokens[0][1] if tokens[0][0] == "ident" else ""
            if word in _UNSUPPORTED:
                raise self.fail(f"{{{{{word}}}}} is not supported in catalog templates", line)
            if word in ("end", "else"):
                self.rest = tokens[1:]
                return nodes, word, line
            if word in ("if", "range", "with"):
                nodes.append(self.parse_control(word, tokens[1:], line, depth))
            else:
                pipe = self.parse_pipeline(tokens, line, allow_declare=True)
                nodes.append(_Node("action", line, pipe=pipe))
        return nodes, None, 0

    def parse_control(self, word: str, tokens, line: int, depth: int) -> _Node:
        self.scopes.append(set())
        pipe = self.parse_pipeline(tokens, line, allow_declare=True, is_range=word == "range")
        node = _Node(word, line, pipe=pipe)
        node.body, stop, stop_line = self.parse_list(depth + 1)
        if stop == "else":
            rest = self.rest
            self.scopes[-1] = set()
            if rest and rest[0][1] in ("if", "with") and word != "range":
                # "else if" shares the enclosing end: parse it as a nested control.
                node.otherwise = [self.parse_control(rest[0][1], rest[1:], stop_line, depth + 1)]
                self.scopes.pop()
                return node
            if rest:
                raise self.fail("unexpected tokens after else", stop_line)
            node.otherwise, stop, stop_line = self.parse_list(depth + 1)
        if stop == "else":
            raise self.fail("unexpected {{else}}: expected {{end}}", stop_line)
        if stop != "end":
            raise self.fail(f"unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}", line)
        if self.rest:
            raise self.fail("unexpected tokens after end", stop_line)
        self.scopes.pop()
        return node

    def parse_pipeline(self, tokens, line: int, allow_declare=False, is_range=False) -> _Pipeline:
        pipe = _Pipeline(line, [])
        names = []
        i = 0
        while allow_declare and i + 1 < len(tokens) and tokens[i][0] == "variable":
            follow = tokens[i + 1][0]
            if follow == "comma" and is_range and not names:
                names.append(tokens[i][1])
                i += 2
                continue
            if follow in ("declare", "assign"):
                names.append(tokens[i][1])
                pipe.assign = follow == "assign"
                i += 2
                pipe.declare = names
            break
        if names and not pipe.declare:
            raise self.fail("range can declare at most two variables, with :=", line)
        if pipe.assign:
            for name in names:
                self.require_variable(name, line)
        else:
            self.scopes[-1].update(names)
        pipe.commands = self.parse_commands(tokens[i:], line, depth=0)
        return pipe

    def require_variable(self, name: str, line: int) -> None:
        if not any(name in scope for scope in self.scopes):
            raise self.fail(f"undefined variable {name!r}", line)

    def parse_commands(self, tokens, line: int, depth: int) -> list[list[_Operand]]:
        if depth > MAX_DEPTH:
            raise self.fail(f"parentheses nested deeper than {MAX_DEPTH}", line)
        commands: list[list[_Operand]] = [[]]
        i = 0
        while i < len(tokens):
            kind, value, tline = tokens[i]
            if kind == "pipe":
                if not commands[-1]:
                    raise self.fail("missing command before |", tline)
                commands.append([])
                i += 1
                continue
            operand, i = self.parse_operand(tokens, i, depth)
            commands[-1].append(operand)
        if not commands[-1]:
            raise self.fail("missing value for command", line)
        for command in commands:
            if command[0].kind == "lit" and command[0].value is None and len(command) == 1:
                raise self.fail("nil is not a command", line)
        return commands

    def parse_operand(self, tokens, i: int, depth: int) -> tuple[_Operand, int]:
        kind, value, line = tokens[i]
        i += 1
        if kind == "open":
            close, level = i, 1
            while close < len(tokens) and level:
                level += {"open": 1, "close": -1}.get(tokens[close][0], 0)
                close += 1
            if level:
                raise self.fail("unclosed left paren", line)
            inner = _Pipeline(line, self.parse_commands(tokens[i : close - 1], line, depth + 1))
            operand, i = _Operand("pipe", inner), close
        elif kind == "variable":
            self.require_variable(value, line)
            operand = _Operand("var", value)
        elif kind == "field":
            operand = _Operand("field", None, (value[1:],))
        elif kind == "dot":
            operand = _Operand("dot")
        elif kind == "ident":
            if value in ("true", "false"):
                operand = _Operand("lit", value == "true")
            elif value == "nil":
                operand = _Operand("lit", None)
            elif value in _KEYWORDS:
                raise self.fail(f"unexpected keyword {value!r} in operand", line)
            elif value not in FUNCTIONS:
                raise self.fail(f'function "{value}" not defined', line)
            else:
                operand = _Operand("func", value)
        elif kind in ("string", "raw", "char", "number"):
            try:
                operand = _Operand("lit", fn.literal(kind, value))
            except ValueError as exc:
                raise self.fail(str(exc), line) from None
        else:
            raise self.fail(f"unexpected {value!r} in operand", line)
        chain = []
        while i < len(tokens) and tokens[i][0] == "chain":
            chain.append(tokens[i][1][1:])
            i += 1
        operand.chain += tuple(chain)
        return operand, i


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

    def run(self, nodes: list[_Node], dot: Any) -> None:
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

    def run_if(self, node: _Node, dot: Any) -> None:
        value = self.pipeline(node.pipe, dot)
        self.run(node.body if truth(value) else node.otherwise, dot)

    def run_with(self, node: _Node, dot: Any) -> None:
        value = self.pipeline(node.pipe, dot)
        if truth(value):
            self.run(node.body, value)
        else:
            self.run(node.otherwise, dot)

    def run_range(self, node: _Node, dot: Any) -> None:
        pipe = node.pipe
        value = self.pipeline(_Pipeline(pipe.line, pipe.commands), dot)
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

    def pipeline(self, pipe: _Pipeline, dot: Any) -> Any:
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

    def command(self, command: list[_Operand], dot: Any, final: Any, has_final: bool, line: int):
        head = command[0]
        if head.kind != "func":
            if len(command) > 1 or has_final:
                raise self.fail(f"can't give argument to non-function {_describe(head)}", line)
            return self.operand(head, dot, line)
        args: list[Any] = [lambda a=a: self.operand(a, dot, line) for a in command[1:]]
        if has_final:
            args.append(lambda: final)
        if head.value in _LAZY:
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

    def operand(self, operand: _Operand, dot: Any, line: int) -> Any:
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
        raise self.fail(f"can't evaluate field {name} in type {fn.go_type(value)}", line)


def _describe(operand: _Operand) -> str:
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
    nodes = _Parser(text, filename).parse()
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
