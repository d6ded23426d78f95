"""Rules for compose files: the Compose Specification schema, and what `docker compose
config` rejects after it.

Each version's `docker-compose.yml` is interpolated with the question defaults (and the
`${VAR:-d}` defaults it writes itself), then validated against the Compose Specification
JSON Schema that the `check-jsonschema` package ships (read with importlib.resources, never
copied here). A `.tpl` file is first rendered by the manifests' Go template renderer with
the same defaults; its problems then carry no line, since lines of the rendered text are
not the file's. A legacy v1 file (services at the top level) is accepted with a warning
and validated as if its services sat under `services:`; names it uses for volumes and
networks are not checked, since v1 created them on the fly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import best_match

from catalog_server.jsonschemas import CheckedSchema, compose_schema
from catalog_server.loaders.yamlfile import YamlResult, load_yaml
from catalog_server.manifests.answers import answer_text
from catalog_server.manifests.gotemplate import TemplateError, render
from catalog_server.manifests.interpolate import InterpolationError, interpolate
from catalog_server.problems import Problem
from catalog_server.validation.config import COMPOSE_FILES
from catalog_server.validation.content import VersionFiles, line_of
from catalog_server.validation.questions import VersionQuestions

MAX_SCHEMA_PROBLEMS = 50
_REFERENCES = (  # (service key, top-level key, rule)
    ("networks", "networks", "compose.undefined-network"),
    ("secrets", "secrets", "compose.undefined-secret"),
    ("configs", "configs", "compose.undefined-config"),
)


def compose_schema_validator() -> CheckedSchema:
    """A validator for the Compose Specification schema shipped by check-jsonschema."""
    return compose_schema()


@dataclass
class ComposeDocument:
    """One compose file of a version, read the way validation and policy need it.

    `original` and `resolved` (interpolated with defaults) are in the modern layout
    (services under `services:`), whatever the file's layout; `line(path)` maps a path in
    that layout back to a line of the file (None for a rendered `.tpl`).
    """

    file: str
    parsed: YamlResult | None
    legacy: bool = False
    original: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: tuple[Any, ...]) -> int | None:
        if self.parsed is None:
            return None
        if self.legacy and path[:1] == ("services",):
            path = path[1:]
        return line_of(self.parsed, path)

    def services(self, resolved: bool = True) -> dict[str, Any]:
        services = (self.resolved if resolved else self.original).get("services")
        return {k: v for k, v in services.items() if isinstance(v, dict)} \
            if isinstance(services, dict) else {}


def question_values(found: VersionQuestions) -> dict[str, Any]:
    """Answers to validate with: each default, or a placeholder fitting the question's type."""
    values: dict[str, Any] = {}
    for entry in found.entries:
        if not entry.variable:
            continue
        spec, default = entry.spec, entry.spec.get("default")
        if default is None or default == "":
            qtype, options = spec.get("type"), spec.get("options")
            if qtype in ("int", "float"):
                default = spec.get("min") if isinstance(spec.get("min"), int | float) else 1
            elif qtype == "boolean":
                default = False
            elif qtype == "enum" and isinstance(options, list) and options:
                default = options[0]
            else:
                default = "value"
        values[entry.variable] = default
    return values


def compose_documents(files: VersionFiles, found: VersionQuestions) -> list[ComposeDocument]:
    """Every compose file of a version, read once per VersionFiles (cached on it)."""
    if "compose" not in files.memo:
        values = question_values(found)
        files.memo["compose"] = [_read(files, rel, values)
                                 for rel in COMPOSE_FILES if files.has(rel)]
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
        doc.problems.append(files.report("compose.schema", "a compose file must be a mapping "
                                         "with a `services:` key", rel, 1))
        return doc
    if "services" not in value and value:
        doc.legacy = True
        doc.problems.append(files.report(
            "compose.legacy-v1", "legacy v1 layout: services at the top level; move them under "
            "`services:` (Compose Specification)", rel, 1 if doc.parsed else None))
        value = {"services": value}
    doc.original = value
    text_values = {k: answer_text(v) for k, v in values.items()}
    doc.resolved = _interpolate(value, text_values, files, doc)
    return doc


def _render(files: VersionFiles, rel: str, values: dict[str, Any],
            doc: ComposeDocument) -> YamlResult | None:
    try:
        text = (files.data(rel) or b"").decode("utf-8")
        rendered = render(text, values, filename=files.path(rel),
                          extra={"Stack": {"Name": files.template.id}})
    except UnicodeDecodeError as exc:
        doc.problems.append(files.report("compose.template", f"not UTF-8 text ({exc.reason}); "
                                         "save it as UTF-8", rel))
        return None
    except TemplateError as exc:
        doc.problems.append(files.report("compose.template", f"does not render with the "
                                         f"question defaults: {exc.message}", rel, exc.line))
        return None
    parsed = load_yaml(rendered.encode("utf-8"), files.path(rel))
    if not parsed.ok:
        first = next(p for p in parsed.problems if p.blocking)
        doc.problems.append(files.report(
            "compose.template", f"rendered with the question defaults, it is not valid YAML: "
            f"{first.message} (line {first.line} of the rendered text)", rel))
        return None
    return parsed


def _interpolate(value: Any, variables: dict[str, str], files: VersionFiles,
                 doc: ComposeDocument, path: tuple[Any, ...] = ()) -> Any:
    if isinstance(value, str):
        try:
            return interpolate(value, variables)[0]
        except InterpolationError as exc:
            if exc.variable and "required" in exc.message.lower():
                return ""  # an undeclared `${X:?}`: question.undeclared-variable says so
            doc.problems.append(files.report("compose.interpolation", exc.message, doc.file,
                                             doc.line(path)))
            return value
    if isinstance(value, dict):
        return {k: _interpolate(v, variables, files, doc, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables, files, doc, (*path, i)) for i, v in enumerate(value)]
    return value


def validate_compose(files: VersionFiles, found: VersionQuestions) -> Iterator[Problem]:
    """Every compose problem of one version (schema, references, images)."""
    for doc in compose_documents(files, found):
        yield from doc.problems
        if not doc.resolved:
            continue
        yield from _schema(files, doc)
        yield from _semantics(files, doc)


def _schema(files: VersionFiles, doc: ComposeDocument) -> Iterator[Problem]:
    errors = sorted(compose_schema_validator().iter_errors(doc.resolved),
                    key=lambda e: list(map(str, e.absolute_path)))
    for error in errors[:MAX_SCHEMA_PROBLEMS]:
        if error.context:  # oneOf / anyOf: the deepest branch explains it best
            error = best_match(error.context) or error
        path = tuple(error.absolute_path)
        shown_path = path[1:] if doc.legacy and path[:1] == ("services",) else path
        shown = ".".join(str(p) for p in shown_path) or "top level"
        yield files.report("compose.schema", f"{shown}: {error.message}", doc.file,
                           doc.line(path))


def _semantics(files: VersionFiles, doc: ComposeDocument) -> Iterator[Problem]:
    top = doc.resolved
    services = doc.services()

    def at(rule: str, message: str, path: tuple[Any, ...]) -> Problem:
        return files.report(rule, message, doc.file, doc.line(path))

    for name, service in services.items():
        base = ("services", name)
        if "image" not in service and "build" not in service and "extends" not in service:
            yield at("compose.no-image", f"service {name!r} has neither `image` nor `build`; "
                     "name the image it runs", base)
        for dep in _names(service.get("depends_on")):
            if dep not in services:
                yield at("compose.unknown-dependency", f"service {name!r} depends on {dep!r}, "
                         "which is not a service of this file", (*base, "depends_on"))
        for key, top_key, rule in _REFERENCES:
            if doc.legacy and key == "networks":
                continue
            declared = set(_names(top.get(top_key)))
            if key == "networks":
                declared.add("default")
            for ref in _names(service.get(key)):
                if ref not in declared:
                    yield at(rule, f"service {name!r} uses {key[:-1]} {ref!r}, which is not "
                             f"declared under the top-level `{top_key}:`; declare it",
                             (*base, key))
        if not doc.legacy:
            declared = set(_names(top.get("volumes")))
            for i, volume in enumerate(service.get("volumes") or ()):
                source = named_volume(volume)
                if source is not None and source not in declared:
                    yield at("compose.undefined-volume", f"service {name!r} mounts volume "
                             f"{source!r}, which is not declared under the top-level "
                             "`volumes:`; declare it or mount a path", (*base, "volumes", i))


def _names(value: Any) -> list[str]:
    """Names in a list of names / {source: name} items, or the keys of a mapping."""
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("source"), str):
                out.append(item["source"])
        return out
    return []


def named_volume(volume: Any) -> str | None:
    """The named volume a service mount uses, or None for paths, tmpfs and anonymous ones."""
    if isinstance(volume, dict):
        source = volume.get("source")
        kind = volume.get("type", "volume")
        return source if kind == "volume" and isinstance(source, str) and source else None
    if not isinstance(volume, str) or ":" not in volume:
        return None
    source = volume.split(":", 1)[0]
    if not source or source.startswith(("/", ".", "~", "$")) or "/" in source or "\\" in source:
        return None
    return source


def mount_source(volume: Any) -> str | None:
    """The host path or volume name a service mount reads from, or None."""
    if isinstance(volume, dict):
        source = volume.get("source")
        return source if isinstance(source, str) else None
    if isinstance(volume, str) and ":" in volume:
        return volume.split(":", 1)[0]
    return None
