"""Check a user's answers against a template version's questions.

Questions are Rancher catalog questions, from Rancher 1.6 compose catalogs
(``rancher-compose.yml``'s ``.catalog.questions``) and Rancher 2.x Helm ``questions.yml``.
The semantics follow Rancher's own UI where it is the only reference:

- Visibility (``if``, ``show_if``, ``show_subquestion_if`` and their other spellings) is
  decided as Rancher's dashboard decides it; :mod:`.conditions` states the rules. It is
  decided once, on every question's current answer (the answer given, else the default,
  coerced to the question's type), hidden or not. A hidden question is neither
  required, nor checked, nor applied; a subquestion is shown only when its parent is.
  A condition that cannot be evaluated shows its question, as in Rancher; lint reports it.
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
- Text answers are one line: no line break (``\n``, ``\r``, U+0085, U+2028, U+2029) and no
  other control character, except for ``multiline``, ``certificate``, ``yaml`` and ``text``
  questions (text areas in Rancher's dashboard), which may hold line breaks and tabs (still
  no other control character).
- An optional question with no answer and no default is set to "" when its type is text
  (Rancher's UI sends "" for it, and templates test ``ne .Values.X ""``); a number or
  boolean question is left out. (A Helm chart's is left out whatever its type, so that its
  ``values.yaml`` value stands: see :mod:`.helm`.)
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests.conditions import (
    Condition,
    question_condition,
    subquestion_condition,
)

__all__ = [
    "AnswerCheck",
    "answer_text",
    "check_answers",
    "flat_questions",
    "question_variables",
    "visibility",
]

NUMBER_TYPES = frozenset({"int", "float"})
# Every other known type, and any unknown one, holds text. Rancher 1.6's types, and the
# ones Rancher's dashboard knows (it also reads `array[...]`, `map[...]`, `reference[...]`).
KNOWN_TYPES = frozenset(
    {
        "string", "multiline", "password", "int", "float", "boolean", "enum", "date",
        "service", "certificate", "secret", "storageclass", "hostname", "pvc", "text",
        "configmap", "cloudcredential", "radio", "yaml", "reference", "questionMap",
    }
)  # fmt: skip
KNOWN_TYPE_PREFIXES = ("array[", "map[", "reference[")
MAX_SUBQUESTION_DEPTH = 8
_INT = re.compile(r"[+-]?[0-9]+")
# The number syntax the install form's JavaScript reads the same way.
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_HOSTNAME_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Types whose answers may span lines; every other text answer is one line.
MULTILINE_TYPES = frozenset({"multiline", "certificate", "yaml", "text"})
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")


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


def flat_questions(questions: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Every question with a variable, subquestions included (as deep as they are followed)."""
    return [question.spec for question in _flatten(questions)]


def question_variables(questions: Iterable[Any]) -> set[str]:
    """Every variable the questions declare, subquestions included."""
    return {question.variable for question in _flatten(questions)}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _coerce(
    qtype: str, value: Any, spec: Mapping[str, Any] | None = None
) -> tuple[Any, str | None]:
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
            text = value.strip() if isinstance(value, str) else ""
            number = float(text) if _FLOAT.fullmatch(text) else math.nan
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
    if qtype == "enum" and any(isinstance(o, list | dict) for o in enum_options(spec or {})):
        return value, None  # an enum whose options are lists or mappings: checked against them
    return value, "must be text"


def enum_options(question: Mapping[str, Any]) -> list[Any]:
    """An enum's options: a list, or the keys of a mapping of value to label (both are
    read by Rancher's dashboard)."""
    options = question.get("options")
    if isinstance(options, Mapping):
        return list(options)
    return list(options) if isinstance(options, list) else []


def _control_characters(qtype: str, text: str) -> str | None:
    """What is wrong with the control characters in a text answer, or None."""
    multiline = qtype in MULTILINE_TYPES
    for char in text:
        if char in _LINE_BREAKS:
            if not multiline:
                return "must be one line (a line break is only allowed in multiline answers)"
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp") and not (multiline and char == "\t"):
            return f"must not hold control characters (found U+{ord(char):04X})"
    return None


def _check_text(question: Mapping[str, Any], qtype: str, text: Any) -> list[str]:
    errors: list[str] = []
    control = _control_characters(qtype, text) if isinstance(text, str) else None
    if control:
        errors.append(control)
    if qtype == "enum":
        options = enum_options(question)
        if isinstance(text, list | dict):  # an option that is itself a list or mapping
            if text not in options:
                shown = ", ".join(answer_text(o) for o in options) or "(no options)"
                errors.append(f"must be one of {shown}")
            return errors
        texts = [answer_text(option) for option in options]
        if text not in texts:
            errors.append(f"must be one of {', '.join(texts) or '(no options)'}")
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
    A condition that cannot be evaluated shows its question (lint reports the condition).
    Raises nothing for bad answers or bad question definitions.
    """
    result = AnswerCheck()
    flat = _flatten(questions)
    known = {question.variable for question in flat}

    current, candidates = _current(flat, answers)
    visible = _visible(flat, current)
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


def _visible(flat: list[_Question], current: Mapping[str, Any]) -> dict[str, bool]:
    """Each question's visibility on the current answers (parents come first in `flat`)."""
    visible: dict[str, bool] = {}
    for question in flat:
        shown = True
        parent = question.parent
        if parent is not None:
            shown = visible.get(parent.variable, True) and _holds(
                subquestion_condition(parent.spec)[0], current
            )
        visible[question.variable] = shown and _holds(question_condition(question.spec)[0], current)
    return visible


def _holds(condition: Condition | None, current: Mapping[str, Any]) -> bool:
    return condition is None or condition.holds(current)


def _current(flat: list[_Question], answers: Mapping[str, Any]):
    """Each question's current answer (given, else default; coerced when it fits its type)
    over the answers given, and the (value, error) candidates to check."""
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
        value, error = _coerce(qtype, raw, question.spec)
        candidates[question.variable] = (value, error)
        current[question.variable] = raw if error else value
    return current, candidates


def visibility(questions: list[Any], answers: Mapping[str, Any]) -> dict[str, bool]:
    """Which questions (by variable, subquestions too) are shown for ``answers``, as the
    install form decides it (``site/theme/js/conditions.js``)."""
    flat = _flatten(questions)
    return _visible(flat, _current(flat, answers)[0])


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
