"""Questions for Helm charts that have no questions file, derived from ``values.schema.json``.

Pure Python (no Flask, no database). Most public charts have no ``questions.yml``; many have
a values schema. :func:`questions_from_schema` turns its properties into Rancher questions,
so the install form, the manifest API and the docs treat them like written ones:

- A property whose schema says what it holds becomes a question: ``string`` (``enum`` when
  it has an ``enum`` of strings; ``password`` for ``format: password`` or ``writeOnly``;
  ``hostname`` and ``date`` for those formats; ``multiline`` when its default has a line
  break), ``integer`` (``int``), ``number`` (``float``) and ``boolean``. An ``enum`` of
  numbers keeps its type and lists the ``options``. ``minimum``/``maximum`` become
  ``min``/``max`` (an integer's exclusive bounds too), ``minLength``/``maxLength``
  ``min_length``/``max_length``, ``pattern`` is kept for the form; ``title`` is the label,
  ``description`` the help.
- The variable is the dotted path of the property (``image.tag``), as written Helm answers
  use. A property whose name holds a dot cannot be one and is left to the values document.
- Nested objects are groups: a question's group is the titles (or names) of the objects it
  sits in, joined by " / "; top-level properties have none (the form's "General").
- ``required`` holds when the property and every object above it are listed in their
  parent's ``required``.
- The default is the chart's ``values.yaml`` value at that path (what Helm applies), else
  the schema's ``default``. Helm never applies a schema's default, so neither does an
  unanswered question without one: :mod:`.helm` leaves it unset.
- Arrays, maps (objects without ``properties``), ``anyOf``/``oneOf`` and untyped
  properties are not asked: they are set through the values document. Local ``$ref``
  (``#/definitions/...``, ``#/$defs/...``) and ``allOf`` are followed.
- Kubeapps' conventions, used by Bitnami's schemas: when any property is marked ``form``
  (true or a field id), only marked properties are asked; ``hidden`` (a path, or
  conditions on paths) becomes ``show_if`` where it can (boolean conditions on questions).

Everything is bounded (nesting depth, ``$ref`` expansions, number of questions): a hostile
schema costs little and yields fewer questions, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SCHEMA_FILE",
    "ChartQuestions",
    "chart_questions",
    "load_schema",
    "questions_from_schema",
]

SCHEMA_FILE = "values.schema.json"
MAX_DEPTH = 32
MAX_QUESTIONS = 500
MAX_REFS = 2000
_SCALAR_TYPES = {"string", "integer", "number", "boolean"}
_QUESTION_TYPE = {"string": "string", "integer": "int", "number": "float", "boolean": "boolean"}


@dataclass
class ChartQuestions:
    """The questions a chart version asks, and where they come from.

    ``source`` is ``"questions"`` (the chart's questions file), ``"values.schema.json"``
    (derived) or None (no questions at all). ``left_to_values`` lists the schema paths not
    asked (arrays, maps, untyped properties): only the values document sets them.
    """

    questions: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    left_to_values: list[str] = field(default_factory=list)

    @property
    def derived(self) -> bool:
        return self.source == SCHEMA_FILE


def load_schema(raw: bytes | None) -> Any:
    """The parsed schema, or None when there is none or it is not a JSON object."""
    if raw is None:
        return None
    try:
        schema = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return schema if isinstance(schema, dict) else None


def chart_questions(
    files: Mapping[str, bytes | None], questions: list[dict] | None, defaults: Any
) -> ChartQuestions:
    """The questions of a chart version: its questions file's, else derived from its schema.

    ``questions`` are the questions file's (empty when the chart has none); ``defaults`` the
    parsed ``values.yaml``. Never raises for bad content.
    """
    if questions:
        return ChartQuestions(list(questions), "questions")
    schema = load_schema(files.get(SCHEMA_FILE))
    if schema is None:
        return ChartQuestions()
    derived = questions_from_schema(schema, defaults)
    derived.source = SCHEMA_FILE if derived.questions else None
    return derived


def questions_from_schema(schema: Mapping[str, Any], defaults: Any = None) -> ChartQuestions:
    """Questions for the properties of ``schema``; see the module docstring for the rules.

    ``defaults`` is the chart's parsed ``values.yaml``. Returns a ChartQuestions whose
    ``source`` is None (the caller says where the schema came from).
    """
    walker = _Walker(schema, defaults if isinstance(defaults, dict) else {})
    walker.form_only = walker.marks_form(schema)
    walker.walk(schema, (), (), True, None, 0)
    questions = walker.questions[:MAX_QUESTIONS]
    left = walker.left + [q["variable"] for q in walker.questions[MAX_QUESTIONS:]]
    variables = {q["variable"] for q in questions}
    for question in questions:
        hidden = question.pop("_hidden", None)
        show_if = _show_if(hidden, variables)
        if show_if:
            question["show_if"] = show_if
    return ChartQuestions(questions, None, left)


class _Walker:
    def __init__(self, root: Mapping[str, Any], defaults: dict[str, Any]):
        self.root = root
        self.defaults = defaults
        self.questions: list[dict[str, Any]] = []
        self.left: list[str] = []
        self.refs = 0
        self.form_only = False

    def marks_form(self, node: Any) -> bool:
        """True when some property in the schema is marked ``form: true``."""
        stack, seen = [node], 0
        while stack and seen < 20_000:
            item = stack.pop()
            seen += 1
            if isinstance(item, dict):
                if _marked(item):
                    return True
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return False

    def resolve(self, node: Any, depth: int = 0) -> dict[str, Any] | None:
        """``node`` with local ``$ref`` and ``allOf`` followed; None when not a schema."""
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            return None
        ref = node.get("$ref")
        if isinstance(ref, str):
            self.refs += 1
            if self.refs > MAX_REFS:
                return None
            target = self.resolve(_pointer(self.root, ref), depth + 1)
            if target is None:
                return None
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        parts = node.get("allOf")
        if isinstance(parts, list) and parts:
            merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
            for part in parts:
                resolved = self.resolve(part, depth + 1)
                if resolved is None:
                    continue
                for key, value in resolved.items():
                    if key == "properties" and isinstance(value, dict):
                        known = merged.get("properties") or {}
                        extra = {k: v for k, v in value.items() if k not in known}
                        merged["properties"] = {**known, **extra}
                    elif key == "required" and isinstance(value, list):
                        merged["required"] = list(merged.get("required") or []) + value
                    else:
                        merged.setdefault(key, value)
            node = merged
        return node

    def walk(self, node: Any, path: tuple[str, ...], groups: tuple[str, ...], required: bool,
             hidden: Any, depth: int) -> None:  # fmt: skip
        """Questions for ``node`` at ``path``; ``hidden`` is an enclosing object's."""
        schema = self.resolve(node)
        if schema is None or depth > MAX_DEPTH or len(self.questions) > MAX_QUESTIONS:
            if path:
                self.left.append(".".join(path))
            return
        kind = _kind(schema)
        properties = schema.get("properties")
        if kind == "object" and isinstance(properties, dict) and properties:
            names = schema.get("required") if isinstance(schema.get("required"), list) else []
            if path:
                groups = (*groups, _text(schema.get("title")) or path[-1])
            hidden = schema.get("hidden", hidden)
            for name, child in properties.items():
                if not isinstance(name, str) or not name or "." in name:
                    self.left.append(".".join((*path, str(name))))
                    continue
                needed = required and name in names
                self.walk(child, (*path, name), groups, needed, hidden, depth + 1)
            return
        if not path:
            return
        variable = ".".join(path)
        question = self.question(schema, kind, variable, required)
        if question is None:
            self.left.append(variable)
            return
        if schema.get("hidden", hidden) is not None:
            question["_hidden"] = schema.get("hidden", hidden)
        if groups:
            question["group"] = " / ".join(groups)
        self.questions.append(question)

    def question(self, schema: dict[str, Any], kind: str | None, variable: str,
                 required: bool) -> dict[str, Any] | None:  # fmt: skip
        if self.form_only and not _marked(schema):
            return None
        options = None
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            kind, options = _enum(enum, kind)
            if kind is None:
                return None
        if kind not in _SCALAR_TYPES:
            return None
        q: dict[str, Any] = {"variable": variable, "label": _text(schema.get("title"))}
        q["label"] = q["label"] or variable.rpartition(".")[2]
        if _text(schema.get("description")):
            q["description"] = _text(schema.get("description"))
        q["type"] = _QUESTION_TYPE[kind]
        default = _lookup(self.defaults, variable.split("."))
        if default is None or isinstance(default, dict | list):
            default = schema.get("default")
        if default is not None and not isinstance(default, dict | list):
            q["default"] = default
        if kind == "string":
            q["type"] = _string_type(schema, default, options)
        if options is not None:
            q["options"] = options
        if required:
            q["required"] = True
        _bounds(schema, kind, q)
        return q


def _marked(schema: Mapping[str, Any]) -> bool:
    """Kubeapps' ``form`` mark: true, or a field id."""
    form = schema.get("form")
    return form is True or (isinstance(form, str) and bool(form))


def _kind(schema: Mapping[str, Any]) -> str | None:
    declared = schema.get("type")
    if isinstance(declared, list):
        types = [t for t in declared if t != "null"]
        declared = types[0] if len(types) == 1 else None
    if isinstance(declared, str):
        return declared
    if isinstance(schema.get("properties"), dict):
        return "object"
    return None


def _enum(values: list[Any], kind: str | None) -> tuple[str | None, list[Any] | None]:
    """The type and options of an enum; (None, None) when its values mix types."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    if all(isinstance(v, bool) for v in values):
        return "boolean", None
    if all(isinstance(v, str) for v in values):
        return "string", values
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return ("number" if kind == "number" else "integer"), values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number", values
    return None, None


def _string_type(schema: Mapping[str, Any], default: Any, options: list | None) -> str:
    if options is not None:
        return "enum"
    fmt = schema.get("format")
    if fmt == "password" or schema.get("writeOnly") is True:
        return "password"
    if fmt in ("hostname", "idn-hostname"):
        return "hostname"
    if fmt == "date":
        return "date"
    if isinstance(default, str) and "\n" in default:
        return "multiline"
    return "string"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounds(schema: Mapping[str, Any], kind: str, q: dict[str, Any]) -> None:
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if kind == "integer":
            if _number(schema.get("exclusiveMinimum")):
                low = int(schema["exclusiveMinimum"] // 1) + 1
            if _number(schema.get("exclusiveMaximum")):
                high = -int(-schema["exclusiveMaximum"] // 1) - 1
        if _number(low):
            q["min"] = low
        if _number(high):
            q["max"] = high
    if kind == "string":
        for key, name in (("minLength", "min_length"), ("maxLength", "max_length")):
            value = schema.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                q[name] = value
        if isinstance(schema.get("pattern"), str):
            q["pattern"] = schema["pattern"]


def _show_if(hidden: Any, variables: set[str]) -> str | None:
    """Kubeapps' ``hidden`` as a show_if, when it can be one; else None (always shown).

    ``hidden`` is a path (hidden while that value is true), ``{path, value}`` (hidden while
    the value at path equals value), Bitnami's older ``{value: path, condition}``, or
    ``{conditions: [...], operator: and|or|nor}``. Paths may use "/" for ".". Only boolean
    conditions on questions can be written as show_if (which has no ``!=``).
    """
    if isinstance(hidden, dict) and isinstance(hidden.get("conditions"), list):
        found = [_hidden_term(c, variables) for c in hidden["conditions"]]
        terms = [term for term in found if term is not None]
        if not terms or len(terms) != len(found):
            return None
        operator = hidden.get("operator") or "and"
        if operator == "nor":  # hidden when none holds: shown when one does
            return "||".join(f"{path}={_bool(value)}" for path, value in terms)
        # "and": hidden when all hold, shown when one fails; "or": shown when all fail.
        joiner = {"and": "||", "or": "&&"}.get(operator)
        if joiner is None:
            return None
        return joiner.join(f"{path}={_bool(not value)}" for path, value in terms)
    term = _hidden_term(hidden, variables)
    if term is None:
        return None
    return f"{term[0]}={_bool(not term[1])}"


def _hidden_term(hidden: Any, variables: set[str]) -> tuple[str, bool] | None:
    """(path, value it hides at) of one Kubeapps condition, or None."""
    if isinstance(hidden, str):
        path, value = hidden, True
    elif isinstance(hidden, dict) and "path" in hidden:
        path, value = hidden.get("path"), hidden.get("value", True)
    elif isinstance(hidden, dict) and "condition" in hidden:
        path, value = hidden.get("value"), hidden.get("condition")
    else:
        return None
    if isinstance(value, str) and value in ("true", "false"):
        value = value == "true"
    if not isinstance(path, str) or not isinstance(value, bool):
        return None
    path = path.replace("/", ".")
    return (path, value) if path in variables else None


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _lookup(tree: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _pointer(root: Mapping[str, Any], ref: str) -> Any:
    """The schema a local JSON pointer (``#/definitions/x``) names; None for any other ref."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
