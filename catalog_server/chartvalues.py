"""A chart's ``values.yaml`` as documentation: every key with its type, default and comment.

Plain Python (no Flask, no database). As helm-docs and Artifact Hub show a chart's values,
:func:`document_values` lists the keys of ``values.yaml`` in file order:

- every scalar (null included), every list (not descended into: its default is the whole
  list) and every empty mapping; a non-empty mapping only when it has a comment of its own;
- ``key`` is the dotted path (a name holding a dot or a space is quoted, as helm-docs does:
  ``podAnnotations."app.kubernetes.io/name"``), ``type`` one of string, int, float, bool,
  null, list, object, ``default`` the value as JSON (shortened past MAX_DEFAULT characters);
- ``description`` is the comment block right above the key, at the key's own indentation
  and with no blank line between (``#`` runs and one space stripped); from the last
  helm-docs ``# --`` line when there is one; annotation lines (``@default``, ``@section``,
  ...) left out; else the comment at the end of the key's line; Bitnami's
  ``## @param path text`` lines, anywhere in the file, win over both.

A file that is not a readable YAML mapping has no keys. At most MAX_KEYS are listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog_server.manifests.schema_questions import SCHEMA_FILE, ChartQuestions, chart_questions
from catalog_server.yamlfile import load_yaml

__all__ = [
    "CHART_VALUE_FILES",
    "MAX_KEYS",
    "VALUES_FILE",
    "ValueKey",
    "ValuesDoc",
    "document_values",
    "effective_questions",
    "values_defaults",
]

VALUES_FILE = "values.yaml"
CHART_VALUE_FILES = (VALUES_FILE, SCHEMA_FILE)
MAX_KEYS = 2000
MAX_DEFAULT = 160
MAX_DESCRIPTION = 2000
_PARAM = re.compile(r"^\s*#+\s*@param\s+(\S+)\s*(.*)$")
_MODIFIERS = re.compile(r"^\[[^\]]*\]\s*")  # `@param key [default: x] text`
_PLAIN_KEY = re.compile(r"[^.\s\"]+")


@dataclass
class ValueKey:
    key: str
    type: str
    default: str
    description: str
    line: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValuesDoc:
    """The documented keys (at most MAX_KEYS) and how many keys the file has in all."""

    keys: list[ValueKey] = field(default_factory=list)
    total: int = 0


def values_defaults(data: bytes | None) -> dict[str, Any]:
    """The parsed ``values.yaml``; empty when there is none or it is not a readable mapping."""
    if not data:
        return {}
    result = load_yaml(data, VALUES_FILE)
    return result.value if result.ok and isinstance(result.value, dict) else {}


def effective_questions(files: Mapping[str, bytes | None], questions: list | None):
    """A chart version's questions: its questions file's, else derived from its values
    schema (``files`` needs only CHART_VALUE_FILES). Returns a ChartQuestions."""
    result: ChartQuestions = chart_questions(
        files, questions, values_defaults(files.get(VALUES_FILE))
    )
    return result


def document_values(data: bytes | None) -> ValuesDoc:
    """The keys of a ``values.yaml`` with their comments; empty when there is no usable file.

    Never raises for bad content.
    """
    if not data:
        return ValuesDoc()
    result = load_yaml(data, VALUES_FILE)
    if not result.ok or not isinstance(result.value, dict):
        return ValuesDoc()
    lines = data.decode("utf-8", "replace").lstrip("\ufeff").splitlines()
    params = _params(lines)
    doc = ValuesDoc()
    stack: list[tuple[tuple[str, ...], Any]] = [
        ((k,), v) for k, v in reversed(result.value.items()) if isinstance(k, str)
    ]
    while stack:
        path, value = stack.pop()
        key = display_key(path)
        place = result.positions.get(path)
        description = params.get(key) or (_comment(lines, place) if place else "")
        if isinstance(value, dict) and value:
            children = [((*path, k), v) for k, v in value.items() if isinstance(k, str)]
            stack.extend(reversed(children))
            if not description:
                continue
        doc.total += 1
        if len(doc.keys) < MAX_KEYS:
            line = place[0] if place else None
            doc.keys.append(ValueKey(key, _type(value), _default(value), description, line))
    return doc


def display_key(path: tuple[str, ...]) -> str:
    """A values path as helm-docs writes it: dotted, names with dots or spaces quoted."""
    return ".".join(p if _PLAIN_KEY.fullmatch(p) else json.dumps(p) for p in path)


_TYPE_NAMES = ((bool, "bool"), (int, "int"), (float, "float"), (list, "list"), (dict, "object"))


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for cls, name in _TYPE_NAMES if isinstance(value, cls)), "string")


def _default(value: Any) -> str:
    if isinstance(value, dict) and value:
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_DEFAULT else text[: MAX_DEFAULT - 1] + "…"


def _params(lines: list[str]) -> dict[str, str]:
    """Bitnami's ``## @param key text`` lines, by key."""
    found = {}
    for line in lines:
        match = _PARAM.match(line)
        if match:
            found[match.group(1)] = _MODIFIERS.sub("", match.group(2)).strip()
    return found


def _strip(line: str) -> str:
    text = line.strip().lstrip("#")
    return text[1:] if text.startswith(" ") else text


def _comment(lines: list[str], place: tuple[int, int]) -> str:
    line, column = place
    block: list[str] = []
    index = line - 2
    while index >= 0:
        text = lines[index]
        stripped = text.lstrip()
        if not stripped.startswith("#") or len(text) - len(stripped) != column - 1:
            break
        block.append(_strip(text))
        index -= 1
    block.reverse()
    marked = [i for i, text in enumerate(block) if text.startswith("--")]
    if marked:
        block = block[marked[-1] :]
        block[0] = block[0][2:].lstrip()
    kept = [text.rstrip() for text in block if not text.lstrip().startswith("@")]
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    text = "\n".join(kept)
    if not text and 0 < line <= len(lines):
        text = _inline_comment(lines[line - 1][column - 1 :])
    return text[:MAX_DESCRIPTION]


def _inline_comment(text: str) -> str:
    """The comment at the end of a ``key: value`` line, outside quotes."""
    quote = None
    escaped = False
    for i, char in enumerate(text):
        if quote == '"' and escaped:
            escaped = False
        elif quote == '"' and char == "\\":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (i == 0 or text[i - 1] in " \t:[{,"):
            quote = char
        elif char == "#" and i > 0 and text[i - 1] in " \t":
            return _strip(text[i:])
    return ""
