"""Check a user's answers against a template version's questions.

Questions are Rancher catalog questions, from Rancher 1.6 compose catalogs
(``rancher-compose.yml``'s ``.catalog.questions``) and Rancher 2.x Helm ``questions.yml``.
The semantics follow Rancher's own UI where it is the only reference:

- ``show_if`` is ``a=b`` terms joined by ``&&`` and ``||`` (no parentheses; ``&&`` binds
  tighter). Each side is trimmed; the right side is compared, as text, with the current
  answer of the variable on the left (a default when not answered, "" when neither).
  Visibility is decided once, on every question's current answer, hidden or not, as
  Rancher's UI does. A hidden question is neither required, nor checked, nor applied.
- A subquestion is shown when its parent is shown and the parent's answer, as text
  (booleans as "true"/"false"), equals ``show_subquestion_if``; its own ``show_if``, if
  any, must hold too.
- ``valid_chars`` and ``invalid_chars`` are the *body of a regular-expression character
  class*, as in Rancher's dashboard (``validateChars``): every character must be in
  ``[valid_chars]`` and none may be in ``[invalid_chars]``. A body with an unescaped
  ``[`` or ``]`` is refused, which also keeps hostile catalogs from smuggling in a
  backtracking pattern.
- ``min``/``max`` bound int and float values; ``min_length``/``max_length`` bound the
  length of text answers.
- Answers for variables no question declares are passed through unchanged, as Rancher
  passes them to a stack (Helm manifests refuse them first: see :mod:`.helm`); answers for
  hidden questions are dropped.
- An optional question with no answer and no default is set to "" when its type is text
  (Rancher's UI sends "" for it, and templates test ``ne .Values.X ""``); a number or
  boolean question is left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AnswerCheck",
    "ShowIf",
    "answer_text",
    "check_answers",
    "parse_show_if",
    "question_variables",
]

NUMBER_TYPES = frozenset({"int", "float"})
# Every other known type, and any unknown one, holds text.
KNOWN_TYPES = frozenset(
    {
        "string", "multiline", "password", "int", "float", "boolean", "enum", "date",
        "service", "certificate", "secret", "storageclass", "hostname", "pvc",
    }
)  # fmt: skip
MAX_SUBQUESTION_DEPTH = 8
_INT = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_HOSTNAME_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

# A parsed show_if: alternatives (||) of conjunctions (&&) of (variable, value) terms.
ShowIf = tuple[tuple[tuple[str, str], ...], ...]


@dataclass
class AnswerCheck:
    """Result of check_answers: coerced values to apply, and messages per variable."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def _error(self, variable: str, message: str) -> None:
        self.errors.setdefault(variable, []).append(message)


def answer_text(value: Any) -> str:
    """An answer as Rancher compares and passes it: text, booleans as "true"/"false"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_show_if(expr: str) -> ShowIf:
    """Parse a ``show_if`` expression such as ``a=b&&c=d||e=true``.

    Raises ValueError, with a message a contributor can act on, when the expression is
    empty, uses parentheses or ``!=``, or has a term that is not ``variable=value``.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("show_if is empty; write variable=value terms joined by && or ||")
    if "(" in expr or ")" in expr:
        raise ValueError(f"show_if {expr!r}: parentheses are not supported; && binds tighter")
    alternatives = []
    for alternative in expr.split("||"):
        terms = []
        for term in alternative.split("&&"):
            term = term.strip()
            if not term:
                raise ValueError(f"show_if {expr!r}: empty term around && or ||")
            if "!=" in term:
                raise ValueError(f"show_if {expr!r}: '!=' is not supported, only variable=value")
            if term.count("=") != 1:
                raise ValueError(
                    f"show_if {expr!r}: term {term!r} must be variable=value with one '='"
                )
            variable, value = (side.strip() for side in term.split("="))
            if not variable:
                raise ValueError(f"show_if {expr!r}: term {term!r} has no variable name")
            terms.append((variable, value))
        alternatives.append(tuple(terms))
    return tuple(alternatives)


def _shown(show_if: ShowIf, current: Mapping[str, Any]) -> bool:
    return any(
        all(answer_text(current.get(variable)) == value for variable, value in terms)
        for terms in show_if
    )


@dataclass
class _Question:
    spec: Mapping[str, Any]
    variable: str
    parent: _Question | None


def _flatten(questions: Iterable[Any], parent: _Question | None = None, depth=0) -> list[_Question]:
    flat: list[_Question] = []
    if depth > MAX_SUBQUESTION_DEPTH:
        return flat  # Hostile nesting: deeper subquestions are not followed.
    for spec in questions or ():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("variable"), str):
            continue  # Malformed question definitions are validation's to report.
        question = _Question(spec, spec["variable"], parent)
        flat.append(question)
        subquestions = spec.get("subquestions")
        # Subquestions do not nest in Rancher; a few levels are followed anyway.
        if isinstance(subquestions, list):
            flat.extend(_flatten(subquestions, question, depth + 1))
    return flat


def question_variables(questions: Iterable[Any]) -> set[str]:
    """Every variable the questions declare, subquestions included."""
    return {question.variable for question in _flatten(questions)}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _coerce(qtype: str, value: Any) -> tuple[Any, str | None]:
    """Return (coerced value, error message or None)."""
    if qtype == "int":
        if isinstance(value, bool):
            return value, "must be a whole number"
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value.strip()), None
        return value, f"must be a whole number, not {answer_text(value)!r}"
    if qtype == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(value.strip()) if isinstance(value, str) else math.nan
            except ValueError:
                number = math.nan
        if not math.isfinite(number):
            return value, f"must be a number, not {answer_text(value)!r}"
        return number, None
    if qtype == "boolean":
        if isinstance(value, bool):
            return value, None
        text = answer_text(value).strip().lower()
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return value, f"must be true or false, not {answer_text(value)!r}"
    if isinstance(value, str | int | float | bool):
        return answer_text(value), None
    return value, "must be text"


def _check_text(question: Mapping[str, Any], qtype: str, text: str) -> list[str]:
    errors: list[str] = []
    if qtype == "enum":
        options = [answer_text(option) for option in question.get("options") or ()]
        if text not in options:
            errors.append(f"must be one of {', '.join(options) or '(no options)'}")
    low, high = question.get("min_length"), question.get("max_length")
    if _is_number(low) and len(text) < low:
        errors.append(f"must be at least {low} characters long")
    if _is_number(high) and len(text) > high:
        errors.append(f"must be at most {high} characters long")
    for key, negate in (("valid_chars", True), ("invalid_chars", False)):
        body = question.get(key)
        if body in (None, ""):
            continue
        pattern = character_class(answer_text(body), negate)
        if pattern is None:
            errors.append(f"question's {key} {body!r} is not a character class body")
            continue
        bad = list(dict.fromkeys(pattern.findall(text)))  # in order of appearance
        if bad:
            shown = " ".join("[space]" if char == " " else char for char in bad)
            errors.append(f"contains characters that are not allowed: {shown}")
    if qtype == "hostname" and text and not _is_hostname(text):
        errors.append("must be a hostname: dot-separated labels of letters, digits and '-'")
    return errors


def character_class(body: str, negate: bool = False) -> re.Pattern[str] | None:
    """`[body]` (`[^body]` when `negate`) compiled, or None when `body` is not a character
    class on its own: an unescaped `[` or `]`, a trailing backslash, a bad range."""
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] in "[]":
            return None
        i += 1
    if body.endswith("\\") and not body.endswith("\\\\"):
        return None
    try:
        return re.compile(f"[{'^' if negate else ''}{body}]")
    except re.error:
        return None


def _is_hostname(text: str) -> bool:
    name = text[:-1] if text.endswith(".") else text
    return len(name) <= 253 and all(_HOSTNAME_LABEL.fullmatch(part) for part in name.split("."))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_range(question: Mapping[str, Any], number: float) -> list[str]:
    errors = []
    low, high = question.get("min"), question.get("max")
    if _is_number(low) and number < low:
        errors.append(f"must be at least {answer_text(low)}")
    if _is_number(high) and number > high:
        errors.append(f"must be at most {answer_text(high)}")
    return errors


def check_answers(questions: list[dict], answers: Mapping[str, Any]) -> AnswerCheck:
    """Check ``answers`` against ``questions``; collect every problem, never stop at one.

    Returns an AnswerCheck whose ``values`` hold the answers to apply (coerced to each
    question's type, defaults filled in, hidden questions left out, unknown variables passed
    through) and whose ``errors`` map a variable to its messages (empty when all is well).
    A malformed ``show_if`` is reported against its question, which is then treated as shown.
    Raises nothing for bad answers or bad question definitions.
    """
    result = AnswerCheck()
    flat = _flatten(questions)
    known = {question.variable for question in flat}

    # Each question's current answer, used to decide visibility: given answer, else default.
    current: dict[str, Any] = dict(answers)
    candidates: dict[str, tuple[Any, str | None]] = {}
    for question in flat:
        qtype = _question_type(question.spec)
        given = answers.get(question.variable)
        raw = question.spec.get("default") if _missing(given) else given
        if _missing(raw):
            candidates[question.variable] = (None, None)
            current.setdefault(question.variable, None)
            continue
        value, error = _coerce(qtype, raw)
        candidates[question.variable] = (value, error)
        current[question.variable] = raw if error else value

    visible: dict[str, bool] = {}
    for question in flat:  # Parents come before their subquestions in ``flat``.
        visible[question.variable] = _is_visible(question, current, visible, result)

    for question in flat:
        if not visible[question.variable]:
            continue
        _check_one(question, candidates[question.variable], result)

    for variable, value in answers.items():
        if variable not in known:
            result.values[variable] = value
    return result


def _question_type(spec: Mapping[str, Any]) -> str:
    qtype = spec.get("type")
    return qtype if isinstance(qtype, str) and qtype in KNOWN_TYPES else "string"


def _is_visible(
    question: _Question, current: Mapping[str, Any], visible: Mapping[str, bool], result
) -> bool:
    parent = question.parent
    if parent is not None:
        if not visible.get(parent.variable, True):
            return False
        expected = question.parent.spec.get("show_subquestion_if")
        if expected is not None and answer_text(current.get(parent.variable)) != answer_text(
            expected
        ):
            return False
    show_if = question.spec.get("show_if")
    if show_if in (None, ""):
        return True
    try:
        return _shown(parse_show_if(show_if), current)
    except ValueError as exc:
        result._error(question.variable, f"question definition: {exc}")
        return True


def _check_one(question: _Question, candidate: tuple[Any, str | None], result) -> None:
    spec, variable = question.spec, question.variable
    qtype = _question_type(spec)
    value, error = candidate
    if value is None:
        if spec.get("required") in (True, "true"):
            result._error(variable, "is required")
        elif qtype not in NUMBER_TYPES and qtype != "boolean":
            result.values[variable] = ""
        return
    if error:
        result._error(variable, error)
        return
    if qtype in NUMBER_TYPES:
        problems = _check_range(spec, value)
    elif qtype == "boolean":
        problems = []
    else:
        problems = _check_text(spec, qtype, value)
    for problem in problems:
        result._error(variable, problem)
    if not problems:
        result.values[variable] = value
