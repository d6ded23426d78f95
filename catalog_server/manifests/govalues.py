"""Go values for the catalog template renderer (gotemplate): kinds, truth, printing,
literals and comparison, as Go's text/template has them, and the bounds on what is built.

Values follow Go's text/template rules as far as templates can see them: ``None`` is a
missing value (printed ``<no value>``), truth is Go's (empty text, 0, false, nil, empty list
or map are false), ``eq`` refuses to compare different kinds. Every value a function builds
is bounded before it is built: text at MAX_TEXT characters, lists at MAX_ITEMS items.

Answers are marked: :class:`AnswerText` (and :class:`AnswerList`, :class:`AnswerMap`) are
``str``, ``list`` and ``dict`` that remember which answers (``.Values`` variables) they
hold; the renderer marks what functions build from them, so it knows where answers land
in its output.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

MAX_UNTIL = 10_000  # same bound as range iterations: until builds the list up front
MAX_WIDTH = 100_000  # printf width and precision
MAX_TEXT = 1024 * 1024  # characters of any text a function builds
MAX_ITEMS = 100_000  # items of any list a function builds


class GoError(Exception):
    """What Go reports as "error calling FUNC: ..."."""


class AnswerText(str):
    """Text that holds answers: ``sources`` names the ``.Values`` variables it came from."""

    sources: frozenset[str]

    def __new__(cls, text: str, sources: frozenset[str]) -> AnswerText:
        self = super().__new__(cls, text)
        self.sources = sources
        return self


class AnswerList(list):
    """A list from an answer (``sources`` as in AnswerText)."""

    sources: frozenset[str] = frozenset()


class AnswerMap(dict):
    """A mapping from an answer (``sources`` as in AnswerText)."""

    sources: frozenset[str] = frozenset()


class StringMap(dict):
    """``.Values``: a Go map[string]string, whose missing keys ``index`` reads as ""."""

    sources: frozenset[str] = frozenset()


def mark(value: Any, sources: frozenset[str]) -> Any:
    """``value`` (an answer, or what a function built from answers) marked as holding
    the answers ``sources``: text, and the text inside lists and mappings."""
    if isinstance(value, str):
        return AnswerText(value, sources)
    if isinstance(value, list | tuple):
        marked = AnswerList(mark(item, sources) for item in value)
        marked.sources = sources
        return marked
    if isinstance(value, Mapping) and not isinstance(value, StringMap):
        mapping = AnswerMap((mark(k, sources), mark(v, sources)) for k, v in value.items())
        mapping.sources = sources
        return mapping
    return value


def sources_of(value: Any) -> frozenset[str]:
    """The answers a value holds (nothing for what the template wrote itself)."""
    found = getattr(value, "sources", None)
    if found is not None:
        return found
    if isinstance(value, list | tuple):
        return frozenset().union(*(sources_of(item) for item in value))
    return frozenset()


def check_text(text: str, function: str) -> str:
    if len(text) > MAX_TEXT:
        raise GoError(f"{function} would build text of {len(text)} characters; the limit is "
                      f"{MAX_TEXT}")  # fmt: skip
    return text


def check_length(length: int, function: str) -> None:
    if length > MAX_TEXT:
        raise GoError(f"{function} would build text of {length} characters; the limit is "
                      f"{MAX_TEXT}")  # fmt: skip


def go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, StringMap):
        return "map[string]string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return "<nil>" if value is None else type(value).__name__


def truth(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | Mapping):
        return bool(value)
    return True


def go_float(number: float) -> str:
    """Format like Go's %v for float64 (strconv 'g', shortest digits, exponent at 1e+06)."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "+Inf" if number > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + exponent  # position of the decimal point in ``digits``
    minus = "-" if sign else ""
    if number == 0:
        return minus + "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def go_text(value: Any) -> str:
    """Print a value as text/template does (fmt's %v)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Mapping):
        items = " ".join(f"{go_text(k)}:{go_text(value[k])}" for k in sorted(value, key=str))
        return f"map[{items}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(item) for item in value) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """strconv.Quote: Go string literal syntax."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(char)])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out) + '"'


def literal(kind: str, token: str) -> Any:
    """The value of a string, raw string, char or number token; ValueError when malformed."""
    if kind == "raw":
        return token[1:-1]
    if kind in ("string", "char"):
        # Go and Python escapes agree on the forms a template uses (\n \t \" \\ \x \u).
        value = ast.literal_eval(token if kind == "string" else '"' + token[1:-1] + '"')
        if kind == "char":
            if len(value) != 1:
                raise ValueError(f"malformed character constant: {token}")
            return ord(value)
        return value
    clean = token.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", clean):
            return int(clean, 16)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean, 10)
        return float(clean)
    except ValueError:
        raise ValueError(f"bad number syntax: {token!r}") from None


# --- Comparison ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise GoError(f"uncomparable type {go_type(value)}: {go_text(value)}")


def eq(first: Any, *others: Any) -> bool:
    if not others:
        raise GoError("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        other_kind = _kind(other)
        if kind != other_kind:
            if "nil" in (kind, other_kind):
                continue  # Go: a missing value equals nothing that is present.
            raise GoError("incompatible types for comparison")
        if first == other:
            return True
    return False


def ne(first: Any, second: Any) -> bool:
    return not eq(first, second)


def _ordered(first: Any, second: Any) -> tuple[Any, Any]:
    kind = _kind(first)
    if kind != _kind(second):
        raise GoError("incompatible types for comparison")
    if kind in ("nil", "bool"):
        raise GoError(f"invalid type for comparison: {kind}")
    return first, second


def lt(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return a < b


def le(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return a <= b


def gt(a: Any, b: Any) -> bool:
    return not le(a, b)


def ge(a: Any, b: Any) -> bool:
    return not lt(a, b)


def and_(*thunks: Callable[[], Any]) -> Any:
    """Go's and: the first false argument, else the last; later ones are not evaluated."""
    value = None
    for thunk in thunks:
        value = thunk()
        if not truth(value):
            return value
    return value


def or_(*thunks: Callable[[], Any]) -> Any:
    """Go's or: the first true argument, else the last; later ones are not evaluated."""
    value = None
    for thunk in thunks:
        value = thunk()
        if truth(value):
            return value
    return value
