"""When a question is shown: `if`, `show_if` and the subquestion conditions, as Rancher's
dashboard evaluates them.

The dashboard evaluates Jexl expressions over the answers. This module understands the
part of Jexl that questions use, and the install form's `site/theme/js/conditions.js` is
its twin (the tests run both over one table of cases, `tests/data/conditions.json`):

    literals   'text'  "text"  12  1.5  true  false  null
    names      a  ingress.enabled  my-var (in show_if terms only: a name may hold `-`)
    operators  !x   x == y   x != y   x < y   x <= y   x > y   x >= y   x && y   x || y  ( )

A name is the answer of that variable (a dotted name is first a variable of its own, else
a path into a nested answer); an unanswered one is `undefined`. `==` and `!=` are
JavaScript's loose equality (`5 == "5"`, `null == undefined`); `&&` / `||` give one of
their operands, and the result counts by JavaScript truthiness (`""`, `0`, `false`,
`null` are false; any list or mapping is true).

- `if:` is an expression; when a question has one, Rancher ignores its `show_if`.
- `show_if:` is rewritten as the dashboard does: split on `||`, then on `&&`; each term
  `key=value` or `key!=value` compares the answer with the text `value`, except that
  `true`, `false` and `null` are those literals and an empty value tests the answer
  itself (`key=` holds when it is empty, `key!=` when it is not). A term without `=`
  is an expression of its own (`enabled`, `true`).
- A parent's subquestions are shown when `subquestions_if` / `subquestion_if` (an
  expression) holds, else by `show_subquestions_if` / `show_subquestion_if`: `true`
  tests that the parent's answer is truthy, `false` that it is not, anything else that
  it equals that text.

What Rancher cannot evaluate, it shows; so do we: an expression or term that does not
parse (or uses Jexl beyond this subset) holds, and `ConditionProblem`s say why, for lint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Condition",
    "ConditionError",
    "ConditionProblem",
    "parse_expression",
    "question_condition",
    "show_if_condition",
    "subquestion_condition",
    "truthy",
]

MAX_EXPRESSION = 2000  # characters: a hostile catalog cannot make parsing expensive
MAX_DEPTH = 32  # nesting of ( ) and !

_UNDEFINED = object()  # a name with no answer (JavaScript's `undefined`)
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()])|(?P<name>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*))"
)
_TERM_NAME = re.compile(r"[A-Za-z_$][\w$.\-]*")
_JS_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class ConditionError(ValueError):
    """An expression this module cannot evaluate; the message says why."""


@dataclass(frozen=True)
class ConditionProblem:
    """Something lint should say about a condition: `kind` is "syntax" (Rancher cannot
    evaluate it either, so the question is always shown) or "unsupported" (valid Jexl
    beyond this module's subset: Rancher may hide the question, the server will not)."""

    kind: str
    message: str


# An expression tree: ("lit", value) | ("name", "a.b") | ("not", x) | (op, left, right).
Node = tuple


@dataclass(frozen=True)
class Condition:
    """A parsed condition. `holds(answers)` decides it; `names` are the variables it reads."""

    tree: Node
    source: str = ""
    names: frozenset[str] = field(default_factory=frozenset)

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return truthy(_evaluate(self.tree, answers))


ALWAYS = Condition(("lit", True), "true")


# --- parsing ---------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"{text!r}: cannot read {text[pos:].strip()[:20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Precedence climbing: || below &&, below comparisons; ! and ( ) bind tightest."""

    LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="))

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.names: set[str] = set()

    def parse(self) -> Node:
        if not self.tokens:
            raise ConditionError("the expression is empty")
        tree = self.binary(0, 0)
        if self.pos < len(self.tokens):
            raise ConditionError(f"{self.text!r}: unexpected {self.tokens[self.pos][1]!r}")
        return tree

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def binary(self, level: int, depth: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary(depth)
        left = self.binary(level + 1, depth)
        while (token := self.peek()) and token[0] == "op" and token[1] in self.LEVELS[level]:
            self.pos += 1
            left = (token[1], left, self.binary(level + 1, depth))
        return left

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ConditionError(f"{self.text[:40]!r}...: nested too deeply")
        token = self.peek()
        if token is None:
            raise ConditionError(f"{self.text!r}: ends where a value is expected")
        self.pos += 1
        kind, text = token
        if kind == "op" and text == "!":
            return ("not", self.unary(depth + 1))
        if kind == "op" and text == "(":
            inner = self.binary(0, depth + 1)
            if self.peek() != ("op", ")"):
                raise ConditionError(f"{self.text!r}: a '(' is not closed")
            self.pos += 1
            return inner
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.S))
        if kind == "name":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text in ("null", "undefined"):
                return ("lit", None)
            self.names.add(text)
            return ("name", text)
        raise ConditionError(f"{self.text!r}: unexpected {text!r}")


def parse_expression(text: str) -> Condition:
    """Parse a Jexl expression of the subset above. Raises ConditionError."""
    if not isinstance(text, str):
        raise ConditionError(f"an expression must be text, not {type(text).__name__}")
    if len(text) > MAX_EXPRESSION:
        raise ConditionError(f"the expression is longer than {MAX_EXPRESSION} characters")
    parser = _Parser(text)
    return Condition(parser.parse(), text, frozenset(parser.names))


def _term(term: str, problems: list[ConditionProblem], expr: str) -> Node:
    """One show_if term, rewritten as the dashboard does."""
    term = term.strip()
    if not term:
        problems.append(ConditionProblem("syntax", f"show_if {expr!r}: empty term around && "
                                         "or ||"))  # fmt: skip
        return ("lit", True)
    if "=" not in term:
        try:
            return parse_expression(term).tree
        except ConditionError:
            problems.append(ConditionProblem(
                "syntax", f"show_if {expr!r}: term {term!r} is not variable=value"
            ))  # fmt: skip
            return ("lit", True)
    negate = "!=" in term
    key, _, value = term.partition("!=" if negate else "=")
    key, value = key.strip(), value.strip()
    if "(" in key or ")" in key:
        message = "parentheses are not supported; && binds tighter than ||"
    elif "=" in value:
        message = f"term {term!r} must be variable=value with one '='"
    elif not _TERM_NAME.fullmatch(key):
        message = f"term {term!r} has no variable name before the '='"
    elif '"' in value:
        message = f"term {term!r}: a value cannot hold a double quote"
    else:
        if value in ("true", "false", "null"):
            right: Node = ("lit", None if value == "null" else value == "true")
            return ("!=" if negate else "==", ("name", key), right)
        if value == "":
            tested: Node = ("not", ("name", key))
            return ("not", tested) if negate else tested
        return ("!=" if negate else "==", ("name", key), ("lit", value))
    problems.append(ConditionProblem("syntax", f"show_if {expr!r}: {message}"))
    return ("lit", True)


def show_if_condition(expr: Any) -> tuple[Condition, list[ConditionProblem]]:
    """A `show_if` value as a Condition, and what is wrong with it (see the module
    docstring). A term that cannot be read holds, as in Rancher."""
    problems: list[ConditionProblem] = []
    if not isinstance(expr, str):
        problems.append(ConditionProblem(
            "syntax", f"show_if must be text (variable=value), not {type(expr).__name__}"
        ))  # fmt: skip
        return ALWAYS, problems
    if not expr.strip():
        problems.append(ConditionProblem("syntax", "show_if is empty; write variable=value "
                                         "terms joined by && or ||"))  # fmt: skip
        return ALWAYS, problems
    if len(expr) > MAX_EXPRESSION:
        problems.append(ConditionProblem("syntax", f"show_if is longer than {MAX_EXPRESSION} "
                                         "characters"))  # fmt: skip
        return ALWAYS, problems
    alternatives = []
    for alternative in expr.split("||"):
        terms = [_term(term, problems, expr) for term in alternative.split("&&")]
        node = terms[0]
        for term in terms[1:]:
            node = ("&&", node, term)
        alternatives.append(node)
    tree = alternatives[0]
    for node in alternatives[1:]:
        tree = ("||", tree, node)
    return Condition(tree, expr, frozenset(_names(tree))), problems


def _names(node: Node) -> set[str]:
    if node[0] == "name":
        return {node[1]}
    if node[0] == "lit":
        return set()
    return set().union(*(_names(child) for child in node[1:]))


def _expression(value: Any, key: str) -> tuple[Condition, list[ConditionProblem]]:
    try:
        return parse_expression(value), []
    except ConditionError as exc:
        kind = "syntax" if not isinstance(value, str) or not value.strip() else "unsupported"
        return ALWAYS, [ConditionProblem(kind, f"{key}: {exc}")]


def question_condition(spec: Mapping[str, Any]) -> tuple[Condition | None, list[ConditionProblem]]:
    """When question `spec` is shown: its `if`, else its `show_if`; None: always.

    As in the dashboard, a present `if` wins even when empty (the question is then shown)."""
    if "if" in spec:
        if spec["if"] in (None, "", False, 0):
            return None, []
        return _expression(spec["if"], "if")
    if spec.get("show_if") is None:
        return None, []
    if spec["show_if"] == "":
        return ALWAYS, [ConditionProblem("syntax", "show_if is empty; write variable=value "
                                         "terms joined by && or ||")]  # fmt: skip
    return show_if_condition(spec["show_if"])


def subquestion_condition(
    spec: Mapping[str, Any],
) -> tuple[Condition | None, list[ConditionProblem]]:
    """When the subquestions of question `spec` are shown (with `spec` itself); None: always."""
    key = "subquestions_if" if "subquestions_if" in spec else "subquestion_if"
    expr = spec.get(key)  # the dashboard: `a === undefined ? b : a`
    if truthy(expr):
        return _expression(expr, key)
    keys = [k for k in ("show_subquestions_if", "show_subquestion_if") if k in spec]
    if not keys:
        return None, []
    old = spec[keys[0]]
    variable = str(spec.get("variable") or "")
    name: Node = ("name", variable)
    if old is False or old == "false":
        tree: Node = ("not", name)
    elif old is True or old == "true":
        tree = ("not", ("not", name))
    else:
        tree = ("==", name, ("lit", js_string(old)))
    return Condition(tree, f"{variable}: {js_string(old)}", frozenset({variable})), []


# --- evaluation: JavaScript's rules --------------------------------------------------------


def js_string(value: Any) -> str:
    """String(value) in JavaScript, for the values answers hold."""
    if value is None:
        return "null"
    if value is _UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None or v is _UNDEFINED else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _number(value: Any) -> float:
    """Number(value) in JavaScript."""
    if value is None:
        return 0.0
    if value is _UNDEFINED:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | dict):
        return _number(js_string(value))
    text = str(value).strip()
    if not text:
        return 0.0
    if _JS_NUMBER.fullmatch(text):
        return float(text)
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if text[0] == "-" else math.inf
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if text[:2].lower() == prefix:
            try:
                return float(int(text[2:], base))
            except ValueError:
                return math.nan
    return math.nan


def _kind(value: Any) -> str:
    if value is None or value is _UNDEFINED:
        return "nullish"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's `a == b`."""
    ka, kb = _kind(a), _kind(b)
    if ka == "nullish" or kb == "nullish":
        return ka == kb
    if ka == "object" and kb == "object":
        return a is b
    if ka == kb:
        return _number(a) == _number(b) if ka == "number" else a == b
    if ka == "boolean":
        return loose_equal(_number(a), b)
    if kb == "boolean":
        return loose_equal(a, _number(b))
    if ka == "object":
        return loose_equal(js_string(a), b)
    if kb == "object":
        return loose_equal(a, js_string(b))
    return _number(a) == _number(b)  # a number and a string


def _compare(op: str, a: Any, b: Any) -> bool:
    """JavaScript's relational operators."""
    if isinstance(a, list | dict):
        a = js_string(a)
    if isinstance(b, list | dict):
        b = js_string(b)
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a.encode("utf-16-be")
        y: Any = b.encode("utf-16-be")
    else:
        x, y = _number(a), _number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def truthy(value: Any) -> bool:
    """JavaScript truthiness."""
    if value is None or value is _UNDEFINED or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _lookup(answers: Mapping[str, Any], name: str) -> Any:
    if name in answers:
        value = answers[name]
        return _UNDEFINED if value is None else value
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        node = answers.get(".".join(parts[:cut]))
        for part in parts[cut:]:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    return _UNDEFINED


def _evaluate(node: Node, answers: Mapping[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "name":
        return _lookup(answers, node[1])
    if op == "not":
        return not truthy(_evaluate(node[1], answers))
    left = _evaluate(node[1], answers)
    if op == "&&":
        return _evaluate(node[2], answers) if truthy(left) else left
    if op == "||":
        return left if truthy(left) else _evaluate(node[2], answers)
    right = _evaluate(node[2], answers)
    if op == "==":
        return loose_equal(left, right)
    if op == "!=":
        return not loose_equal(left, right)
    return _compare(op, left, right)
