"""Install manifests of Helm chart versions: a values file and the rendered manifests.

Pure Python (no Flask, no database). :func:`helm_manifest` checks the answers against the
chart's questions (its questions file's, else those derived from ``values.schema.json``,
see :mod:`.schema_questions`), turns them into a values override as Rancher does (a dotted
variable is a path of nested keys: ``ingress.tls.enabled: true`` -> ``{ingress: {tls:
{enabled: true}}}``; an optional question left empty sets nothing), deep-merges the
override over the chart's ``values.yaml`` and checks the result against
``values.schema.json`` when the chart has one. Then the Helm SDK renders
the chart (the ``helm template`` equivalent) with the release name and namespace.

Answers are data: an answer for a variable no question declares is refused. Anything else
is set through the request's raw values document (:mod:`.values`), merged over
``values.yaml`` before the answers; a value it gives for a declared variable is that
question's answer and checked as such, and the manifest's warnings say which raw values
were applied.

The output is ``values.yaml`` (the override: what ``helm install -f values.yaml`` takes), each
non-empty rendered template under ``manifests/`` (``manifests/<chart>/templates/x.yaml``) and
``NOTES.txt`` when the chart has notes; the commands add the catalog's chart repository and
install the chart from it. Everything but the rendering works without the SDK, which is
reported as ManifestError ``helm_sdk_missing`` (501).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from catalog_server import helmsdk
from catalog_server.helmrepo import ChartNotPackable, chart_archive
from catalog_server.manifests.answers import (
    answer_text,
    check_answers,
    flat_questions,
    question_variables,
)
from catalog_server.manifests.model import Manifest, ManifestError, ManifestFile, dump_yaml
from catalog_server.manifests.schema_questions import SCHEMA_FILE, chart_questions
from catalog_server.manifests.values import (
    changed_values,
    entry,
    leaf_paths,
    parse_values,
    values_error,
)
from catalog_server.yamlfile import load_yaml

__all__ = ["deep_merge", "helm_manifest", "values_override"]

VALUES_FILE = "values.yaml"
UNDECLARED = "no question declares this variable; set it in the request's values instead"
MAX_NOTED = 20  # raw values named in the manifest's warning
# "template: demo/templates/cm.yaml:7:12: executing ..." and "parse error at (demo/x.yaml:3)".
_HELM_PLACE = re.compile(r"([\w.\-/]+\.(?:ya?ml|tpl|txt|json)):(\d+)")


def values_override(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Nest dotted variables into a values tree; return it and conflicts per variable.

    ``a.b`` and ``a.c`` share ``a``; ``a=1`` beside ``a.b=2`` is a conflict (``a`` cannot be
    both a value and a mapping), reported against the later variable.
    """
    tree: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for variable, value in values.items():
        parts = variable.split(".")
        if any(not part for part in parts):
            errors.setdefault(variable, []).append("has an empty part between dots")
            continue
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                errors.setdefault(variable, []).append(
                    f"conflicts with {prefix}, which is answered with a value, not a mapping"
                )
                break
            node = child
        else:
            leaf = parts[-1]
            if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
                errors.setdefault(variable, []).append(
                    f"conflicts with answers for keys below {variable}"
                )
                continue
            node[leaf] = (
                deep_merge(node[leaf], value) if isinstance(node.get(leaf), dict) else value
            )
    return tree, errors


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key, anything else replaces.

    As Helm coalesces values, a ``None`` in the override deletes the key.
    """
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validator_class(schema: Any):
    """The validator for the schema's ``$schema``, read loosely: charts write the draft URI
    with either scheme. Without one, or an unknown one, draft 7 (what charts are written for)."""
    from jsonschema.validators import Draft7Validator, validator_for

    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(declared, str):
        return Draft7Validator
    declared = declared.strip()
    swapped = (
        declared.replace("https://", "http://", 1)
        if declared.startswith("https://")
        else declared.replace("http://", "https://", 1)
    )
    for uri in (declared, swapped):
        cls = validator_for({"$schema": uri}, default=None)
        if cls is not None:
            return cls
    return Draft7Validator


SchemaError = tuple[tuple[Any, ...], tuple[Any, ...], str]


def _schema_errors(files: Mapping[str, bytes | None], values: Any) -> list[SchemaError]:
    """The schema's errors as (path of the value at fault, path of the value checked,
    message): for a missing required property the first names the property itself."""
    raw = files.get(SCHEMA_FILE)
    if raw is None:
        return []
    from jsonschema.exceptions import SchemaError

    try:
        schema = json.loads(raw.decode("utf-8"))
        if not isinstance(schema, dict | bool):
            raise ValueError("the schema must be an object")
        cls = _validator_class(schema)
        cls.check_schema(schema)
        validator = cls(schema)
    except (ValueError, SchemaError) as exc:
        raise ManifestError(
            "render_error",
            f"{SCHEMA_FILE} is not a valid JSON schema: {exc}",
            {"file": SCHEMA_FILE},
        ) from None
    errors: list[SchemaError] = []
    for error in validator.iter_errors(values):
        checked = tuple(error.path)
        at_fault = checked
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [
                name
                for name in error.validator_value or ()
                if name not in error.instance and repr(name) in error.message
            ]
            if len(missing) == 1:
                at_fault = (*checked, missing[0])
        errors.append((at_fault, checked, error.message))
    return errors


def _defaults(files: Mapping[str, bytes | None]) -> dict[str, Any]:
    raw = files.get(VALUES_FILE)
    if raw is None:
        return {}
    result = load_yaml(raw, VALUES_FILE)
    blocking = [p for p in result.problems if p.blocking]
    if blocking:
        raise ManifestError(
            "render_error", f"{VALUES_FILE}: {blocking[0].message}",
            {"file": VALUES_FILE, "line": blocking[0].line},
        )  # fmt: skip
    return result.value if isinstance(result.value, dict) else {}


def _helm_failure(exc: Exception) -> ManifestError:
    message = str(exc)
    details: dict[str, Any] = {}
    match = _HELM_PLACE.search(message)
    if match:
        details = {"file": match.group(1), "line": int(match.group(2))}
    return ManifestError("render_error", f"helm could not render the chart: {message}", details)


def helm_manifest(
    files: Mapping[str, bytes | None],
    questions: list[dict],
    answers: Mapping[str, Any],
    *,
    chart_name: str,
    version: str,
    created: datetime | None,
    release: str,
    namespace: str,
    repo_name: str,
    repo_url: str,
    values: str | Mapping[str, Any] | None = None,
) -> Manifest:
    """Files to install chart ``chart_name`` ``version`` with ``answers`` and ``values``.

    ``files`` are the chart's files (paths relative to the chart folder), packaged as the
    chart repository serves them (``created`` pins their times). ``questions`` are the
    chart's questions file's (none: derived from its values schema). ``values`` is the
    request's raw values document (text or mapping), or None. ``repo_name`` and
    ``repo_url`` go into the ``helm repo add`` command. Raises ManifestError:
    ``invalid_answers`` (undeclared variables, the questions' checks, conflicting dotted
    variables and values.schema.json violations, by variable or values path),
    ``invalid_values`` (the values document, by line: see :mod:`.values`; its details also
    carry ``answers``, the answers' errors by variable), ``render_error`` (Helm's message,
    file and line when Helm gives them), ``helm_sdk_missing`` (status 501).
    """
    defaults = _defaults(files)
    doc = parse_values(values) if values is not None else None
    asked = chart_questions(files, questions, defaults)
    declared = question_variables(asked.questions)
    undeclared = sorted(variable for variable in answers if variable not in declared)
    if undeclared:
        raise ManifestError(
            "invalid_answers",
            f"no question declares {', '.join(undeclared)}: set undeclared values in the "
            "request's values, not as answers",
            {variable: [UNDECLARED] for variable in undeclared},
        )
    given = dict(answers)
    from_doc: dict[str, tuple[Any, ...]] = {}
    doc_errors: list[dict[str, Any]] = []
    if doc is not None:
        for variable, (value, path) in doc.take(sorted(declared)).items():
            if variable in given and not _same(given[variable], value):
                message = f"{variable} is answered too, with another value: give it once"
                doc_errors.append(entry(message, path, doc.place(path)))
                continue
            given[variable] = value
            from_doc[variable] = path
    check = check_answers(asked.questions, given)
    _unset_empty(asked.questions, given, check.values)
    answer_errors: dict[str, list[str]] = {}
    for variable, messages in check.errors.items():
        if variable in from_doc and doc is not None:
            path = from_doc[variable]
            doc_errors.extend(entry(message, path, doc.place(path)) for message in messages)
        else:
            answer_errors[variable] = messages
    answered, conflicts = values_override(check.values)
    answer_errors.update(conflicts)
    failed_questions = sorted(answer_errors)

    # The schema is checked even when answers failed (theirs are left out, so the chart's
    # defaults stand in), so that every problem is reported at once.
    raw = changed_values(doc.tree, defaults) if doc is not None else {}
    if asked.derived:
        answered = changed_values(answered, defaults)
    override = deep_merge(raw, answered) if raw else answered
    merged = deep_merge(defaults, override)
    for at_fault, checked, message in _schema_errors(files, merged):
        where = ".".join(str(part) for part in at_fault) or "(values)"
        if doc is not None and where not in check.values and doc.holds(checked):
            doc_errors.append(entry(message, at_fault, doc.place(at_fault)))
        elif doc is not None and where not in check.values:
            doc_errors.append(entry(message, at_fault))
        else:
            answer_errors.setdefault(where, []).append(message)
    _raise_for(answer_errors, doc_errors, failed_questions)
    if not helmsdk.available():
        raise ManifestError("helm_sdk_missing", helmsdk.missing_message(), status=501)
    try:
        archive = chart_archive(chart_name, sorted(files.items()), created)
    except ChartNotPackable as exc:
        raise ManifestError("render_error", f"the chart cannot be packaged: {exc}") from None
    try:
        rendered = helmsdk.render(archive, override, release, namespace)
    except helmsdk.HelmError as exc:
        raise _helm_failure(exc) from None

    manifest = Manifest()
    if raw:
        paths = leaf_paths(raw)
        more = f" and {len(paths) - MAX_NOTED} more" if len(paths) > MAX_NOTED else ""
        manifest.warnings.append(
            "raw values were applied from the request's values, checked by no question: "
            + ", ".join(paths[:MAX_NOTED]) + more
        )  # fmt: skip
    manifest.files.append(ManifestFile(VALUES_FILE, dump_yaml(override) if override else "{}\n"))
    for path in sorted(rendered):
        text = rendered[path]
        if path.endswith("NOTES.txt"):
            if path == f"{chart_name}/templates/NOTES.txt" and text.strip():
                manifest.files.append(ManifestFile("NOTES.txt", text))
            continue
        if text.strip():
            manifest.files.append(ManifestFile(f"manifests/{path}", text))
    manifest.commands = [
        f"helm repo add {repo_name} {repo_url}",
        f"helm install {release} {repo_name}/{chart_name} --version {version} "
        f"-n {namespace} --create-namespace -f values.yaml",
    ]
    return manifest


def _same(answer: Any, value: Any) -> bool:
    if isinstance(answer, dict | list) or isinstance(value, dict | list):
        return answer == value
    return answer_text(answer) == answer_text(value)


def _unset_empty(questions: list[dict], given: Mapping[str, Any], values: dict) -> None:
    """An optional question (subquestions too) left empty, with no default, sets nothing:
    the chart's ``values.yaml`` value stands, as in Rancher's form, which edits the chart's
    values and sends what changed. "" would replace that value and could break the chart's
    schema (an integer, a pattern, a format). A required one left empty is an error."""
    for question in flat_questions(questions):
        variable = question["variable"]
        empty = values.get(variable) == "" and given.get(variable) in (None, "")
        if empty and question.get("default") in (None, ""):
            del values[variable]


def _raise_for(
    answer_errors: dict[str, list[str]], doc_errors: list[dict[str, Any]], failed: list[str]
) -> None:
    """Raise for what was found: the values document's errors (with the answers'), else the
    answers' alone (``failed``: those that failed the questions, not only the schema)."""
    if doc_errors:
        doc_errors.sort(key=lambda e: (e["line"] is None, e["line"] or 0, e["column"] or 0))
        count = len(doc_errors)
        message = f"the values document has {count} error{'s' if count != 1 else ''}"
        if answer_errors:
            message += f"; answers failed too: {', '.join(sorted(answer_errors))}"
        error = values_error(message, doc_errors)
        error.details["answers"] = answer_errors
        raise error
    if failed:
        count = sum(len(messages) for messages in answer_errors.values())
        raise ManifestError(
            "invalid_answers",
            f"{count} answer{'s' if count != 1 else ''} failed the chart's questions: "
            + ", ".join(sorted(answer_errors)),
            answer_errors,
        )
    if answer_errors:
        raise ManifestError(
            "invalid_answers",
            f"the values break the chart's {SCHEMA_FILE}: {', '.join(sorted(answer_errors))}",
            answer_errors,
        )
