"""Rules for compose files: each file against its own format's rules, then what today's
`docker compose config` rejects.

Each version's `docker-compose.yml` is interpolated with the question defaults (and the
`${VAR:-d}` defaults it writes itself). A `.tpl` file is first rendered by the manifests'
Go template renderer with the same defaults; its problems then carry no line, since lines
of the rendered text are not the file's.

The file's format is detected (v1, 2.x, 3.x or the Compose Specification,
`manifests.composeformat`) and the file converted to the Compose Specification's layout
(`manifests.composeconvert`), as an install manifest is. What the conversion notes becomes
a problem: `compose.legacy-v1`, `compose.legacy-key` and `compose.rancher-extension`
(info: valid in the file's format, replaced or absent in today's Compose), and
`compose.format-key` and `compose.version` (warning). The converted document is then
checked with `manifests.composecheck` (the Compose Specification schema, references,
images), and each finding reported at the line of the file it comes from. So a key that
the file's own format allows is never an error, and a file written in the Compose
Specification is held to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests.answers import answer_text
from catalog_server.manifests.composecheck import check_compose
from catalog_server.manifests.composeconvert import Conversion, Note, convert
from catalog_server.manifests.gotemplate import TemplateError, render
from catalog_server.manifests.interpolate import InterpolationError, interpolate
from catalog_server.problems import Problem
from catalog_server.validation.config import COMPOSE_FILES
from catalog_server.validation.content import VersionFiles, line_of
from catalog_server.validation.questions import VersionQuestions
from catalog_server.yamlfile import YamlResult, load_yaml

# Question types whose answers are text: an optional one left empty is "" (Rancher's UI).
_NUMBER_TYPES = frozenset({"int", "float"})


@dataclass
class ComposeDocument:
    """One compose file of a version, read the way validation and policy need it.

    `original` (as written) and `resolved` (interpolated with defaults and converted to the
    Compose Specification) are in the modern layout (services under `services:`), whatever
    the file's format; `line(path)` maps a path in that layout back to a line of the file
    (None for a rendered `.tpl`).
    """

    file: str
    parsed: YamlResult | None
    conversion: Conversion | None = None
    original: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: tuple[Any, ...]) -> int | None:
        if self.parsed is None:
            return None
        if self.conversion is not None:
            path = self.conversion.original_path(path)
        return line_of(self.parsed, path)

    def services(self, resolved: bool = True) -> dict[str, Any]:
        services = (self.resolved if resolved else self.original).get("services")
        if not isinstance(services, dict):
            return {}
        return {k: v for k, v in services.items() if isinstance(v, dict)}


def question_values(found: VersionQuestions) -> dict[str, Any]:
    """Answers to validate with: each default; with none, "" for an optional text question
    (what Rancher's UI sends), else a placeholder fitting the question's type."""
    values: dict[str, Any] = {}
    for entry in found.entries:
        if not entry.variable:
            continue
        spec, default = entry.spec, entry.spec.get("default")
        if default is None or default == "":
            qtype, options = spec.get("type"), spec.get("options")
            if qtype in _NUMBER_TYPES:
                default = spec.get("min") if isinstance(spec.get("min"), int | float) else 1
            elif qtype == "boolean":
                default = False
            elif qtype == "enum" and isinstance(options, list) and options:
                default = options[0]
            elif str(spec.get("required")).lower() != "true":
                default = ""
            else:
                default = "value"
        values[entry.variable] = default
    return values


def compose_documents(files: VersionFiles, found: VersionQuestions) -> list[ComposeDocument]:
    """Every compose file of a version, read once per VersionFiles (cached on it)."""
    if "compose" not in files.memo:
        values = question_values(found)
        files.memo["compose"] = [
            _read(files, rel, values) for rel in COMPOSE_FILES if files.has(rel)
        ]
    return files.memo["compose"]


def _read(files: VersionFiles, rel: str, values: dict[str, Any]) -> ComposeDocument:
    if rel.endswith(".tpl"):
        doc = ComposeDocument(rel, None)
        parsed = _render(files, rel, values, doc)
        if parsed is None:
            return doc
    else:
        parsed = files.yaml(rel)
        doc = ComposeDocument(rel, parsed)
        if parsed is None:
            return doc  # the loader reports why
    value = parsed.value
    if not isinstance(value, dict):
        doc.problems.append(
            files.report(
                "compose.schema", "a compose file must be a mapping with a `services:` key", rel, 1
            )
        )
        return doc
    text_values = {k: answer_text(v) for k, v in values.items()}
    resolved = _interpolate(value, text_values, files, doc)
    doc.conversion = convert(resolved)
    doc.resolved = doc.conversion.document
    doc.original = {"services": value} if doc.conversion.format.family == "1" else value
    doc.problems.extend(_notes(files, doc))
    return doc


def _render(
    files: VersionFiles, rel: str, values: dict[str, Any], doc: ComposeDocument
) -> YamlResult | None:
    try:
        text = (files.data(rel) or b"").decode("utf-8")
        rendered = render(
            text, values, filename=files.path(rel), extra={"Stack": {"Name": files.template.id}}
        )
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason}); save it as UTF-8"
        doc.problems.append(files.report("compose.template", message, rel))
        return None
    except TemplateError as exc:
        message = f"does not render with the question defaults: {exc.message}"
        doc.problems.append(files.report("compose.template", message, rel, exc.line))
        return None
    parsed = load_yaml(rendered.encode("utf-8"), files.path(rel))
    if not parsed.ok:
        first = next(p for p in parsed.problems if p.blocking)
        message = (
            f"rendered with the question defaults, it is not valid YAML: {first.message} "
            f"(line {first.line} of the rendered text)"
        )
        doc.problems.append(files.report("compose.template", message, rel))
        return None
    return parsed


def _interpolate(
    value: Any,
    variables: dict[str, str],
    files: VersionFiles,
    doc: ComposeDocument,
    path: tuple[Any, ...] = (),
) -> Any:
    """`value` (as written: paths are the file's own) with every string interpolated."""
    if isinstance(value, str):
        try:
            return interpolate(value, variables)[0]
        except InterpolationError as exc:
            if exc.variable and "required" in exc.message.lower():
                return ""  # an undeclared `${X:?}`: question.undeclared-variable says so
            line = line_of(doc.parsed, path) if doc.parsed is not None else None
            doc.problems.append(files.report("compose.interpolation", exc.message, doc.file, line))
            return value
    if isinstance(value, dict):
        return {k: _interpolate(v, variables, files, doc, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables, files, doc, (*path, i)) for i, v in enumerate(value)]
    return value


def _notes(files: VersionFiles, doc: ComposeDocument) -> Iterator[Problem]:
    """The conversion's notes as problems; one problem per rule and message, naming every
    service it concerns, at the first one's line."""
    assert doc.conversion is not None
    grouped: dict[tuple[str, str], list[Note]] = {}
    for note in doc.conversion.notes:
        if note.rule is not None:
            grouped.setdefault((note.rule, note.message), []).append(note)
    for (rule, message), notes in grouped.items():
        services = sorted({n.service for n in notes if n.service}, key=str)
        if services:
            which = ", ".join(repr(s) for s in services)
            message = f"{message} (service{'s' if len(services) > 1 else ''} {which})"
        line = line_of(doc.parsed, notes[0].path) if doc.parsed is not None else None
        yield files.report(rule, message, doc.file, line)


def validate_compose(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    """Every compose problem of one version (format, schema, references, images)."""
    for doc in compose_documents(files, found):
        yield from doc.problems
        if doc.conversion is None:
            continue
        conversion = doc.conversion
        label = conversion.format.label
        for finding in check_compose(doc.resolved, conversion.original_path, label):
            yield files.report(finding.rule, finding.message, doc.file, doc.line(finding.path))


def mount_source(volume: Any) -> str | None:
    """The host path or volume name a service mount reads from, or None."""
    if isinstance(volume, dict):
        source = volume.get("source")
        return source if isinstance(source, str) else None
    if isinstance(volume, str) and ":" in volume:
        return volume.split(":", 1)[0]
    return None
