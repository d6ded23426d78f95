"""Answers stay data in a rendered ``.tpl``: each one lands inside a single YAML scalar.

A ``docker-compose.yml.tpl`` is Go-template text that prints answers into YAML text, so an
answer could write YAML itself: ``"hi\\n    privileged: true"`` adds a key, ``[a, b]`` a
list, ``x #`` hides the rest of the line, ``*alias`` or ``!!tag`` change what a value is.
Quoting at print time cannot help, since a template prints answers everywhere: inside
quotes, in plain scalars, in keys, in block scalars.

So the check runs on the result. The renderer marks the characters of its output that
came from answers (what a function builds from an answer is marked whole); the rendered
text is then split into YAML tokens, and every marked stretch must lie inside one scalar
token (a key or a value; a whole quoted scalar made by ``quote`` counts), or inside a
comment the template itself started, on one line. Anything else, an answer that starts or
ends a token, adds an indicator, a line, an anchor, a tag or a comment, is refused with
``invalid_answers`` naming the variable: the manifest's structure is the template's alone.

Answers are also interpolated only once: compose's ``${VAR}`` interpolation runs after
rendering, over the template's text, so every ``$`` an answer put into a value is written
``$$`` first (keys are not interpolated and are left as they are). ``${OTHER}`` in an
answer stays that text.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from catalog_server.manifests.gotemplate import AnswerSpan

__all__ = ["OutOfPlace", "place_answers"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class OutOfPlace(ValueError):
    """Answers would change the structure of the file: ``errors`` maps each variable to
    its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


@dataclass(frozen=True)
class _Scalar:
    start: int
    end: int
    is_key: bool


def _tokens(text: str) -> tuple[list[_Scalar], list[tuple[int, int]]] | None:
    """Scalar tokens, and the ranges of every other token that holds characters; None when
    the text is not YAML (parsing reports that, with its line)."""
    scalars: list[_Scalar] = []
    others: list[tuple[int, int]] = []
    after_key = False
    try:
        for token in yaml.scan(text, Loader=_Loader):
            start, end = token.start_mark.index, token.end_mark.index
            if isinstance(token, yaml.ScalarToken):
                scalars.append(_Scalar(start, end, after_key))
            elif end > start:
                others.append((start, end))
            after_key = isinstance(token, yaml.KeyToken)
    except yaml.YAMLError:
        return None
    return scalars, others


def _trimmed_end(text: str, span: AnswerSpan) -> int:
    """The span's end without trailing spaces or tabs that only touch other blanks or the
    line's end: YAML drops them from a plain scalar, and they change no token."""
    end = len(text[span.start : span.end].rstrip(" \t")) + span.start
    if end < span.end and (span.end == len(text) or text[span.end] in " \t\r\n"):
        return end
    return span.end


class _Layout:
    """Where the tokens of a text are, for looking up one position after another."""

    def __init__(self, text: str, scalars: list[_Scalar], others: list[tuple[int, int]]):
        self.text = text
        self.scalars = scalars
        self.scalar_starts = [s.start for s in scalars]
        # Every token that holds characters, scalars included, in order (they never overlap).
        self.ranges = sorted([(s.start, s.end) for s in scalars] + others)
        self.range_starts = [start for start, _ in self.ranges]

    def scalar_around(self, start: int, end: int) -> _Scalar | None:
        i = bisect_right(self.scalar_starts, start) - 1
        if i >= 0 and self.scalars[i].end >= end:
            return self.scalars[i]
        return None

    def touches_a_token(self, start: int, end: int) -> bool:
        i = bisect_left(self.range_starts, end)  # tokens starting before the span ends
        return i > 0 and self.ranges[i - 1][1] > start

    def in_comment(self, start: int, end: int) -> bool:
        """True when ``start:end`` is on one line after a ``#`` that the template wrote to
        start a comment (outside every token)."""
        text = self.text
        if "\n" in text[start:end] or "\r" in text[start:end]:
            return False
        line_start = text.rfind("\n", 0, start) + 1
        i = bisect_left(self.range_starts, start)
        last_end = max(line_start, self.ranges[i - 1][1] if i > 0 else 0)
        hash_at = text.find("#", last_end, start)
        return hash_at >= 0 and (hash_at == line_start or text[hash_at - 1] in " \t")


# Words that cannot break YAML wherever they are printed.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/=+-]*(?: [A-Za-z0-9._/=+-]+)*")


def _blame_answers(text: str, spans: Sequence[AnswerSpan], filename: str) -> None:
    """The rendered text is not YAML: raise OutOfPlace when it is YAML with the answers
    that hold anything but plain words set aside (they broke it), else return (the
    template is broken whatever the answers; parsing says where)."""
    suspects = [s for s in spans if not _PLAIN.fullmatch(text[s.start : s.end])]
    if not suspects:
        return
    pieces, pos = [], 0
    for span in suspects:
        pieces += [text[pos : span.start], "a"]
        pos = span.end
    if _tokens("".join(pieces) + text[pos:]) is None:
        return
    errors: dict[str, list[str]] = {}
    for span in suspects:
        for variable in sorted(span.sources):
            message = _message(filename, span)
            if message not in errors.setdefault(variable, []):
                errors[variable].append(message)
    raise OutOfPlace(errors)


def _message(filename: str, span: AnswerSpan) -> str:
    return (
        f"would change the structure of {filename} (printed by its line {span.line}): "
        "an answer must stay inside one value; it may not add lines, keys, list items, "
        "comments, anchors, tags or quotes"
    )


def place_answers(text: str, spans: Sequence[AnswerSpan], filename: str) -> str:
    """Check that answers stay data in the rendered ``text`` and return the text with each
    ``$`` an answer put into a value doubled (``$$``, a literal ``$`` to interpolation).

    Raises OutOfPlace when an answer reaches outside a scalar. Text that is not YAML is
    returned unchanged: parsing it reports the error.
    """
    if not spans:
        return text
    found = _tokens(text)
    if found is None:
        _blame_answers(text, spans, filename)
        return text
    layout = _Layout(text, *found)
    errors: dict[str, list[str]] = {}
    escapes: list[AnswerSpan] = []
    for span in spans:
        home = layout.scalar_around(span.start, _trimmed_end(text, span))
        if home is not None:
            if not home.is_key and "$" in text[span.start : span.end]:
                escapes.append(span)
            continue
        if not layout.touches_a_token(span.start, span.end) and layout.in_comment(
            span.start, span.end
        ):
            continue
        message = _message(filename, span)
        for variable in sorted(span.sources):
            if message not in errors.setdefault(variable, []):
                errors[variable].append(message)
    if errors:
        raise OutOfPlace(errors)
    pieces, pos = [], 0
    for span in sorted(escapes, key=lambda s: s.start):
        pieces += [text[pos : span.start], text[span.start : span.end].replace("$", "$$")]
        pos = span.end
    return "".join(pieces) + text[pos:]
