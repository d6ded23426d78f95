"""Lexing and parsing of the Go text/template subset that :mod:`.gotemplate` renders.

The parser builds a tree of :class:`Node` (text, actions, ``if``/``range``/``with``) holding
:class:`Pipeline` of :class:`Operand`; it refuses what the renderer does not support
(``define``, ``template``, ``block``, ``break``, ``continue``, unknown functions) and
nesting deeper than MAX_DEPTH, raising TemplateError ("FILE:LINE: message").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests import govalues
from catalog_server.manifests.gofunctions import FUNCTIONS

MAX_DEPTH = 100  # nesting of control structures and parentheses
LAZY = frozenset({"and", "or"})
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
class Operand:
    kind: str  # "lit", "dot", "field", "var", "func", "pipe"
    value: Any = None  # literal value, variable name, function name, or Pipeline
    chain: tuple[str, ...] = ()  # field names applied after the operand


@dataclass
class Pipeline:
    line: int
    commands: list[list[Operand]]
    declare: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class Node:
    kind: str  # "text", "action", "if", "range", "with"
    line: int
    text: str = ""
    pipe: Pipeline | None = None
    body: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)


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


class Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.items = _split(text, filename)
        self.pos = 0
        self.scopes: list[set[str]] = [{"$"}]

    def fail(self, message: str, line: int) -> TemplateError:
        return TemplateError(message, self.filename, line)

    def parse(self) -> list[Node]:
        nodes, stop, line = self.parse_list(depth=0)
        if stop is not None:
            raise self.fail(f"unexpected {{{{{stop}}}}}", line)
        return nodes

    def parse_list(self, depth: int) -> tuple[list[Node], str | None, int]:
        """Parse until end of input or an else/end; return nodes, that keyword and its line."""
        if depth > MAX_DEPTH:
            raise self.fail(f"control structures nested deeper than {MAX_DEPTH}", 1)
        nodes: list[Node] = []
        while self.pos < len(self.items):
            kind, body, line = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                if body:
                    nodes.append(Node("text", line, text=body))
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
                nodes.append(Node("action", line, pipe=pipe))
        return nodes, None, 0

    def parse_control(self, word: str, tokens, line: int, depth: int) -> Node:
        self.scopes.append(set())
        pipe = self.parse_pipeline(tokens, line, allow_declare=True, is_range=word == "range")
        node = Node(word, line, pipe=pipe)
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

    def parse_pipeline(self, tokens, line: int, allow_declare=False, is_range=False) -> Pipeline:
        pipe = Pipeline(line, [])
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

    def parse_commands(self, tokens, line: int, depth: int) -> list[list[Operand]]:
        if depth > MAX_DEPTH:
            raise self.fail(f"parentheses nested deeper than {MAX_DEPTH}", line)
        commands: list[list[Operand]] = [[]]
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

    def parse_operand(self, tokens, i: int, depth: int) -> tuple[Operand, int]:
        kind, value, line = tokens[i]
        i += 1
        if kind == "open":
            close, level = i, 1
            while close < len(tokens) and level:
                level += {"open": 1, "close": -1}.get(tokens[close][0], 0)
                close += 1
            if level:
                raise self.fail("unclosed left paren", line)
            inner = Pipeline(line, self.parse_commands(tokens[i : close - 1], line, depth + 1))
            operand, i = Operand("pipe", inner), close
        elif kind == "variable":
            self.require_variable(value, line)
            operand = Operand("var", value)
        elif kind == "field":
            operand = Operand("field", None, (value[1:],))
        elif kind == "dot":
            operand = Operand("dot")
        elif kind == "ident":
            if value in ("true", "false"):
                operand = Operand("lit", value == "true")
            elif value == "nil":
                operand = Operand("lit", None)
            elif value in _KEYWORDS:
                raise self.fail(f"unexpected keyword {value!r} in operand", line)
            elif value not in FUNCTIONS:
                raise self.fail(f'function "{value}" not defined', line)
            else:
                operand = Operand("func", value)
        elif kind in ("string", "raw", "char", "number"):
            try:
                operand = Operand("lit", govalues.literal(kind, value))
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
