"""Rules for questions, in compose catalog blocks and Helm questions.yml files.

The shape of questions is the JSON Schema in `catalog_server/schemas/questions.schema.json`;
the rules here add what a schema cannot say (known types, defaults that fit their type and
bounds, enum options, show_if, unique variables) and, for compose templates, how questions
and the uses of variables in the version's files (`validation.variables`) match up.
Defaults are checked with the install form's own `check_answers`, so a default lint
accepts is one the form accepts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema

from catalog_server.jsonschemas import CheckedSchema
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.manifests.answers import (
    KNOWN_TYPE_PREFIXES,
    KNOWN_TYPES,
    character_class,
    check_answers,
    enum_options,
)
from catalog_server.manifests.conditions import (
    ConditionProblem,
    question_condition,
    subquestion_condition,
)
from catalog_server.problems import Problem
from catalog_server.validation.config import catalog_block
from catalog_server.validation.content import VersionFiles, line_of, suggestion
from catalog_server.validation.variables import version_uses
from catalog_server.yamlfile import YamlResult

HELM_QUESTIONS = ("questions.yml", "questions.yaml")
SECRET_TYPES = frozenset({"password", "secret"})
RANCHER_COMPOSE_PREFIX = "rancher-compose."


@functools.cache
def questions_schema() -> dict[str, Any]:
    """The questions JSON Schema (catalog_server/schemas/questions.schema.json)."""
    text = resources.files("catalog_server").joinpath("schemas/questions.schema.json")
    return json.loads(text.read_text(encoding="utf-8"))


@functools.cache
def _validator(definition: str | None) -> CheckedSchema:
    schema = questions_schema()
    if definition:  # validate against one $defs entry, keeping $defs for its $refs
        schema = {
            "$schema": schema.get("$schema"),
            "$defs": schema["$defs"],
            "$ref": f"#/$defs/{definition}",
        }
        schema = {k: v for k, v in schema.items() if v is not None}
    cls = jsonschema.validators.validator_for(questions_schema())
    return CheckedSchema(schema, cls(schema))


QUESTION_KEYS = frozenset(questions_schema()["$defs"]["question"]["properties"])


@dataclass
class QuestionEntry:
    spec: dict[str, Any]
    path: tuple[Any, ...]  # key path in the parsed file
    parent: QuestionEntry | None = None

    @property
    def variable(self) -> str | None:
        v = self.spec.get("variable")
        return v if isinstance(v, str) and v else None


@dataclass
class VersionQuestions:
    """A version's questions: the file they are in, and each question (subquestions too)."""

    file: str | None = None
    parsed: YamlResult | None = None
    prefix: tuple[Any, ...] = ()  # key path of the questions list
    document: Any = None  # what the schema validates
    definition: str | None = None  # the schema $defs entry for `document`, None for the root
    entries: list[QuestionEntry] = field(default_factory=list)

    def line(self, entry: QuestionEntry, key: str | None = None) -> int | None:
        return line_of(self.parsed, (*entry.path, key) if key else entry.path)

    @property
    def variables(self) -> set[str]:
        return {e.variable for e in self.entries if e.variable}


def version_questions(template: LoadedTemplate, files: VersionFiles) -> VersionQuestions:
    """Find a version's questions (compose: the catalog block; Helm: questions.yml)."""
    found = VersionQuestions()
    if template.kind == "compose":
        rel, prefix, block = catalog_block(files)
        if block is None:
            return found
        found.file, found.parsed, found.prefix = rel, files.yaml(rel), (*prefix, "questions")
        found.document, found.definition = block.get("questions"), "questions"
    else:
        rel = files.first(*HELM_QUESTIONS)
        parsed = files.yaml(rel) if rel else None
        if parsed is None:
            return found
        found.file, found.parsed, found.prefix = rel, parsed, ("questions",)
        found.document = parsed.value
        if not isinstance(parsed.value, dict):
            return found
    questions = found.document if found.definition else found.document.get("questions")
    if isinstance(questions, list):
        stack = [(found.prefix, questions, None)]
        while stack:
            prefix, items, parent = stack.pop(0)
            for i, spec in enumerate(items):
                if isinstance(spec, dict):
                    entry = QuestionEntry(spec, (*prefix, i), parent)
                    found.entries.append(entry)
                    if isinstance(spec.get("subquestions"), list):
                        stack.append(((*prefix, i, "subquestions"), spec["subquestions"], entry))
    return found


def validate_questions(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    """Every question problem of one version (`found` = version_questions(files))."""
    if found.file is None:
        return
    yield from _schema(files, found)
    yield from _tolerated(files, found)
    yield from _each_question(files.template, files, found)
    if files.template.kind == "compose":
        yield from _compose_variables(files, found)


def _schema(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    base = found.prefix if found.definition else ()
    errors = sorted(
        _validator(found.definition).iter_errors(found.document),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    for error in errors[:50]:
        if error.validator == "required" and "'variable'" in error.message:
            continue  # question.missing-variable says it better
        where = (*base, *error.absolute_path)
        shown = ".".join(str(p) for p in where) or "the file"
        yield files.report(
            "question.schema", f"{shown}: {error.message}", found.file, line_of(found.parsed, where)
        )


def _each_question(
    template: LoadedTemplate, files: VersionFiles, found: VersionQuestions
) -> Iterator[Problem]:
    known = found.variables
    seen: dict[str, int | None] = {}
    for entry in found.entries:
        spec, name = entry.spec, entry.variable

        def at(rule: str, message: str, key: str | None = None, entry=entry, **kw) -> Problem:
            name = entry.variable
            label = f"question {name!r}" if name else "a question"
            return files.report(
                rule, f"{label}: {message}", found.file, found.line(entry, key), **kw
            )

        for key in spec:
            if key not in QUESTION_KEYS:
                yield at(
                    "question.unknown-key",
                    f"unknown key `{key}`{suggestion(key, QUESTION_KEYS)}; Rancher ignores it",
                    key,
                )
        if name is None:
            yield at("question.missing-variable", "has no `variable`; name the answer it sets")
        elif name in seen:
            yield at(
                "question.duplicate-variable",
                f"variable is already set by the question "
                f"at line {seen[name]}; each variable needs one question",
                "variable",
            )
        else:
            seen[name] = found.line(entry, "variable")
        qtype = spec.get("type")
        if qtype is None:
            helm = template.kind == "helm"
            yield at(
                "question.missing-type",
                "has no `type`; "
                + (
                    "Rancher assumes string, write `type: string` to say so"
                    if helm
                    else "add one (string, int, boolean, enum, password, ...)"
                ),
                severity="info" if helm else None,
            )
        elif (
            isinstance(qtype, str)
            and qtype not in KNOWN_TYPES
            and not qtype.startswith(KNOWN_TYPE_PREFIXES)
        ):
            yield at(
                "question.unknown-type",
                f"type {qtype!r} is not a Rancher question type"
                f"{suggestion(qtype, KNOWN_TYPES)}; it is shown as a text field",
                "type",
            )
        yield from _bounds(spec, at)
        yield from _default(spec, qtype, at)
        yield from _visibility(entry, known, at)


def _bounds(spec: dict, at) -> Iterator[Problem]:
    if qtype_is(spec, "enum") and not enum_options(spec):
        yield at(
            "question.enum-options",
            "is an enum with no `options`; list the choices",
            "options" if "options" in spec else "type",
        )
    for low, high in (("min", "max"), ("min_length", "max_length")):
        a, b = spec.get(low), spec.get(high)
        if _number(a) and _number(b) and a > b:
            yield at("question.min-max", f"`{low}: {a}` is above `{high}: {b}`", low)
    for key in ("valid_chars", "invalid_chars"):
        body = spec.get(key)
        if isinstance(body, str) and body and not character_class_ok(body):
            yield at(
                "question.regex",
                f"`{key}` {body!r} is not the body of a regular-"
                "expression character class (e.g. `a-z0-9-`); escape `[` and `]`",
                key,
            )


def _default(spec: dict, qtype: Any, at) -> Iterator[Problem]:
    default = spec.get("default")
    if default is None or default == "":
        return  # empty defaults are fine
    if qtype_is(spec, "enum"):
        options = enum_options(spec)
        if options and default not in options and str(default) not in map(str, options):
            yield at(
                "question.enum-default",
                f"default {default!r} is not one of the options ({', '.join(map(str, options))})",
                "default",
            )
        return
    if isinstance(default, dict | list):
        if not (isinstance(qtype, str) and qtype.startswith(("array[", "map[", "yaml"))):
            what = "a list" if isinstance(default, list) else "a mapping"
            yield at("question.default-type", f"default is {what}; a {qtype or 'string'} "
                     "question's answer is text", "default")  # fmt: skip
        return
    # Check the default as an answer to this question alone, as the install form would.
    probe = {
        k: spec[k]
        for k in (
            "variable",
            "type",
            "min",
            "max",
            "min_length",
            "max_length",
            "valid_chars",
            "invalid_chars",
        )
        if k in spec
    }
    for key in ("valid_chars", "invalid_chars"):
        if not (isinstance(probe.get(key), str) and character_class_ok(probe[key])):
            probe.pop(key, None)  # reported by question.regex
    probe["variable"] = "default"
    errors = check_answers([probe], {"default": default}).errors.get("default", [])
    for message in errors:
        yield at("question.default-type", f"default {default!r} {message}", "default")


def _visibility(entry: QuestionEntry, known: set[str], at) -> Iterator[Problem]:
    """Conditions as Rancher's dashboard reads them (`manifests.conditions`): a show_if it
    cannot evaluate is an error (the question is always shown); an `if` or
    `subquestions_if` beyond what the server evaluates is an info, never an error."""
    spec = entry.spec
    condition, problems = question_condition(spec)
    key = "if" if "if" in spec else "show_if"
    if key == "if" and spec.get("show_if") not in (None, ""):
        yield at("question.if", "has both `if` and `show_if`; Rancher uses `if` and ignores "
                 "show_if", "show_if")  # fmt: skip
    if key == "show_if" and not isinstance(spec.get("show_if"), str):
        problems = []  # question.schema says show_if must be text
    for found in problems:
        if key == "show_if":
            yield at("question.show-if", f"{found.message}; Rancher shows the question always",
                     key)  # fmt: skip
        else:
            yield at("question.if", _if_message(found), key)
    sub_condition, sub_problems = subquestion_condition(spec)
    for found in sub_problems:
        yield at("question.if", _if_message(found), _sub_key(spec))
    names = set(condition.names if condition else ()) | set(
        n for n in (sub_condition.names if sub_condition else ()) if n != entry.variable
    )
    for variable in sorted(names):
        if variable not in known:
            yield at(
                "question.show-if-variable",
                f"{key} names {variable!r}, which no question sets{suggestion(variable, known)}",
                key,
            )
    if entry.parent is not None and spec.get("subquestions"):
        yield at(
            "question.nested-subquestions",
            "is a subquestion with subquestions of its own; Rancher's dashboard shows them "
            "nested, older Rancher UIs one level only",
            "subquestions",
        )


def _if_message(found: ConditionProblem) -> str:
    if found.kind == "unsupported":
        return (
            f"{found.message}; this server evaluates a part of Jexl only, so it treats "
            "the question as shown (Rancher's dashboard evaluates the whole)"
        )
    return f"{found.message}; Rancher cannot evaluate it either and shows the question"


def _sub_key(spec: dict) -> str:
    return next(k for k in ("subquestions_if", "subquestion_if") if k in spec)


def _tolerated(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    """Top-level fields of a questions file that are empty: Rancher ignores them."""
    if found.definition or not isinstance(found.document, dict):
        return
    for key in ("categories", "labels", "namespace", "rancher_min_version",
                "rancher_max_version"):  # fmt: skip
        if key in found.document and found.document[key] is None:
            yield files.report(
                "question.tolerated",
                f"`{key}` is empty; Rancher ignores it; give it a value or remove it",
                found.file,
                line_of(found.parsed, (key,)),
            )


def _compose_variables(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    """question.undeclared-variable and question.unused, from every use in the version's
    deployed files (`validation.variables`). Undeclared uses are reported in the compose
    files and a Kubernetes template's manifests, once per variable; rancher-compose.yml
    uses count as uses but are not checked (Rancher's own settings may use variables of
    the environment there)."""
    declared = found.variables
    used: set[str] = set()
    reported: set[str] = set()
    for use in version_uses(files):
        used.add(use.name)
        if (
            use.name in declared
            or use.name in reported
            or use.has_fallback
            or use.file.startswith(RANCHER_COMPOSE_PREFIX)
        ):
            continue
        reported.add(use.name)
        if use.kind == "template":
            message = f".Values.{use.name} is used but no question sets it; add a question for it"
        else:
            message = (
                f"${{{use.name}}} has no question and no default; add a question or "
                f"write ${{{use.name}:-default}}"
            )
        yield files.report("question.undeclared-variable", message, use.file, use.line)
    for entry in found.entries:
        if entry.variable and entry.variable not in used:
            yield files.report(
                "question.unused",
                f"question {entry.variable!r} is used by no file of the version; use "
                f"${{{entry.variable}}} (or .Values.{entry.variable} in a .tpl) or remove it",
                found.file,
                found.line(entry, "variable"),
            )


def qtype_is(spec: dict, name: str) -> bool:
    return spec.get("type") == name


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def character_class_ok(body: str) -> bool:
    """True when `body` works as `[body]`, with `[` and `]` escaped (the install form's rule)."""
    return character_class(body) is not None
