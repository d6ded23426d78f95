"""Compose Specification variable interpolation for install manifests.

Forms, as `docker compose` (compose-go) reads them:

    $VAR  ${VAR}          the value; unset becomes "" with a warning
    ${VAR:-default}       default when VAR is unset or empty
    ${VAR-default}        default when VAR is unset
    ${VAR:?message}       error when VAR is unset or empty
    ${VAR?message}        error when VAR is unset
    ${VAR:+alternative}   alternative when VAR is set and not empty, else ""
    ${VAR+alternative}    alternative when VAR is set, else ""
    $$                    a literal "$"

Names are ``[_a-zA-Z][_a-zA-Z0-9]*``. Defaults, alternatives and messages may hold further
expressions (``${A:-${B:-x}}``). Any other use of ``$`` (``$1``, ``$(pwd)``, ``${}``,
``${1X}``, a lone ``$`` at the end) is an error, as in compose, which tells users to escape
``$`` as ``$$``.

Unlike compose-go, which substitutes inside a default even when the default is not used,
only the branch that is taken is evaluated: an unset variable inside an unused default gives
no warning. Every expression is still parsed first, so a syntax error anywhere is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "InterpolationError",
    "VariableUse",
    "interpolate",
    "interpolate_tree",
    "variable_uses",
    "variables_used",
    "variables_with_default",
]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
# Longest operators first so ":-" is not read as ":" followed by "-".
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
# Nesting of ${...} inside defaults; hostile text must not exhaust the Python stack.
MAX_NESTING = 32
# Forms that never warn or fail when the variable is unset.
_FALLBACK_OPERATORS = frozenset({":-", "-", ":+", "+"})


class InterpolationError(ValueError):
    """A ``$`` expression is malformed, or a required variable (``?`` forms) has no value.

    ``line`` is 1-based within the interpolated text; ``variable`` names the variable at
    fault when there is one; ``path`` locates the string inside a YAML tree.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        variable: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.variable = variable
        self.path = path

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where} line {self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class VariableUse:
    """One ``$VAR`` / ``${VAR...}`` in a text: the name, the operator ("" when bare), line."""

    name: str
    operator: str
    line: int

    @property
    def has_fallback(self) -> bool:
        """True when an unset variable here neither warns nor fails."""
        return self.operator in _FALLBACK_OPERATORS


# Parsed text is a list of parts: plain strings and _Expr nodes.
@dataclass(frozen=True, slots=True)
class _Expr:
    name: str
    operator: str  # "" for $VAR / ${VAR}
    argument: tuple[str | _Expr, ...]
    line: int


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _closing_brace(text: str, start: int) -> int:
    """Index of the "}" closing the "${" whose content starts at ``start``, or -1."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _invalid(text: str, pos: int, detail: str) -> InterpolationError:
    return InterpolationError(
        f"invalid interpolation format {detail}; escape a literal $ as $$",
        line=_line_at(text, pos),
    )


def _parse(text: str, start: int, end: int, base: str, depth: int = 0) -> list[str | _Expr]:
    """Parse ``base[start:end]`` into plain strings and expressions (line numbers from base)."""
    if depth > MAX_NESTING:
        raise InterpolationError(
            f"expressions nested deeper than {MAX_NESTING}", line=_line_at(base, start)
        )
    parts: list[str | _Expr] = []
    plain: list[str] = []
    i = start
    while i < end:
        dollar = text.find("$", i, end)
        if dollar < 0:
            plain.append(text[i:end])
            break
        plain.append(text[i:dollar])
        nxt = text[dollar + 1] if dollar + 1 < end else ""
        if nxt == "$":
            plain.append("$")
            i = dollar + 2
            continue
        if nxt == "{":
            close = _closing_brace(text, dollar + 2)
            if close < 0 or close >= end:
                raise _invalid(base, dollar, f"in {text[dollar:end]!r}: no closing }}")
            expr = _parse_braced(text, dollar + 2, close, base, depth)
            i = close + 1
        else:
            match = _NAME.match(text, dollar + 1, end)
            if not match:
                raise _invalid(base, dollar, f"at {text[dollar : dollar + 8]!r}")
            expr = _Expr(match.group(), "", (), _line_at(base, dollar))
            i = match.end()
        if plain:
            parts.append("".join(plain))
            plain = []
        parts.append(expr)
    if plain and "".join(plain):
        parts.append("".join(plain))
    return parts


def _parse_braced(text: str, start: int, close: int, base: str, depth: int) -> _Expr:
    match = _NAME.match(text, start, close)
    content = text[start:close]
    if not match:
        raise _invalid(base, start - 2, f"in '${{{content}}}': not a variable name")
    rest = match.end()
    line = _line_at(base, start - 2)
    if rest == close:
        return _Expr(match.group(), "", (), line)
    operator = next((op for op in _OPERATORS if text.startswith(op, rest)), None)
    if operator is None:
        raise _invalid(base, start - 2, f"in '${{{content}}}'")
    argument = _parse(text, rest + len(operator), close, base, depth + 1)
    return _Expr(match.group(), operator, tuple(argument), line)


def _render(parts: list[str | _Expr] | tuple[str | _Expr, ...], variables, warnings) -> str:
    out: list[str] = []
    for part in parts:
        out.append(part if isinstance(part, str) else _evaluate(part, variables, warnings))
    return "".join(out)


def _evaluate(expr: _Expr, variables: Mapping[str, str], warnings: list[str]) -> str:
    is_set = expr.name in variables
    value = str(variables[expr.name]) if is_set else ""
    op = expr.operator
    if op == "":
        if not is_set:
            _warn(warnings, f'The "{expr.name}" variable is not set. Defaulting to a blank string.')
        return value
    if op == ":-":
        return value if value else _render(expr.argument, variables, warnings)
    if op == "-":
        return value if is_set else _render(expr.argument, variables, warnings)
    if op == ":+":
        return _render(expr.argument, variables, warnings) if value else ""
    if op == "+":
        return _render(expr.argument, variables, warnings) if is_set else ""
    # ":?" and "?": fail with the template's own message.
    if (op == ":?" and not value) or (op == "?" and not is_set):
        message = _render(expr.argument, variables, warnings)
        raise InterpolationError(
            f"required variable {expr.name} is missing a value: {message}"
            if message
            else f"required variable {expr.name} is missing a value",
            line=expr.line,
            variable=expr.name,
        )
    return value


def _warn(warnings: list[str], message: str) -> None:
    if message not in warnings:
        warnings.append(message)


def interpolate(text: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    """Substitute variables in ``text``; return the result and warnings (unset variables).

    Raises InterpolationError for malformed expressions and for ``?`` forms whose variable
    has no value. Each distinct warning is listed once, in order of appearance.
    """
    warnings: list[str] = []
    if "$" not in text:
        return text, warnings
    return _render(_parse(text, 0, len(text), text), variables, warnings), warnings


def _join_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def interpolate_tree(
    obj: Any, variables: Mapping[str, str], path: str = ""
) -> tuple[Any, list[str]]:
    """Interpolate every string value of a parsed YAML tree; keys are left as they are.

    Returns a new tree and the warnings, each prefixed with the dotted path of its string
    (``services.web.image``, ``services.web.ports[0]``). Raises InterpolationError for
    the first failing string, with ``path`` set. Non-string scalars are returned unchanged.
    """
    warnings: list[str] = []

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            try:
                result, found = interpolate(node, variables)
            except InterpolationError as exc:
                exc.path = where or None
                raise
            for message in found:
                _warn(warnings, f"{where}: {message}" if where else message)
            return result
        if isinstance(node, Mapping):
            return {key: walk(value, _join_path(where, key)) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [walk(item, _join_path(where, i)) for i, item in enumerate(node)]
        return node

    return walk(obj, path), warnings


def _walk_uses(parts) -> Iterator[VariableUse]:
    for part in parts:
        if isinstance(part, _Expr):
            yield VariableUse(part.name, part.operator, part.line)
            yield from _walk_uses(part.argument)


def variable_uses(text: str) -> list[VariableUse]:
    """Every variable expression in ``text``, nested ones included, in order.

    Raises InterpolationError when the text is malformed.
    """
    if "$" not in text:
        return []
    return list(_walk_uses(_parse(text, 0, len(text), text)))


def variables_used(text: str) -> set[str]:
    """Names of all variables ``text`` refers to. Raises InterpolationError when malformed."""
    return {use.name for use in variable_uses(text)}


def variables_with_default(text: str) -> set[str]:
    """Names whose every use in ``text`` is safe when unset (``:-``, ``-``, ``:+``, ``+``).

    A lint rule "each ${VAR} is a question or has a default" flags
    ``variables_used(text) - questions - variables_with_default(text)``.
    Raises InterpolationError when the text is malformed.
    """
    uses = variable_uses(text)
    bare = {use.name for use in uses if not use.has_fallback}
    return {use.name for use in uses if use.has_fallback} - bare
