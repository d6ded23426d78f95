"""What today's `docker compose config` refuses in a compose document, as findings.

:func:`check_compose` takes a document in the Compose Specification's layout (a file of
another format goes through :func:`.composeconvert.convert` first) and returns every
:class:`Finding` (rule id, path in the document, message): the Compose Specification JSON
Schema that check-jsonschema ships, then what `docker compose config` also rejects after
the schema (FORMATS.md): no services, a service with neither image nor build, references
to services, networks, volumes, secrets and configs that are not declared, and
``network_mode`` beside ``networks``. Validation reports findings as problems; install
manifests refuse a document that has any. Pure: no Flask, no files.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from catalog_server.jsonschemas import compose_schema
from catalog_server.manifests.composeconvert import named_volume
from catalog_server.manifests.composeformat import spec_keys

__all__ = ["MAX_SCHEMA_FINDINGS", "Finding", "check_compose", "show_path"]

MAX_SCHEMA_FINDINGS = 50
_REFERENCES = (  # (service key, top-level key, rule)
    ("networks", "networks", "compose.undefined-network"),
    ("volumes", "volumes", "compose.undefined-volume"),
    ("secrets", "secrets", "compose.undefined-secret"),
    ("configs", "configs", "compose.undefined-config"),
)
_UNEXPECTED = ("additionalProperties", "unevaluatedProperties")
_UNEVALUATED = re.compile(r"\((.*) (?:was|were) unexpected\)", re.S)
_DEFINITION = {"services": "service", "volumes": "volume", "networks": "network"}


@dataclass(frozen=True)
class Finding:
    rule: str
    path: tuple[Any, ...]  # in the checked document
    message: str


def show_path(path: tuple[Any, ...]) -> str:
    """A path as people write it: ``services.web.ports[0]``; "top level" for ()."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def check_compose(
    document: Any,
    shown: Callable[[tuple[Any, ...]], tuple[Any, ...]] = tuple,
    label: str | None = None,
) -> list[Finding]:
    """Every finding of ``document`` (module docstring). ``shown`` maps a path of the
    document to the path named in messages (the file's own, for a converted document);
    ``label`` names the file's format in messages about unknown keys."""
    findings = list(_schema(document, shown, label))
    if isinstance(document, dict):
        findings.extend(_semantics(document))
    return findings


def _schema(document: Any, shown, label: str | None) -> Iterator[Finding]:
    errors = sorted(
        compose_schema().iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
    )
    for error in errors[:MAX_SCHEMA_FINDINGS]:
        if error.context:  # oneOf / anyOf: the deepest branch explains it best
            error = best_match(error.context) or error
        path = tuple(error.absolute_path)
        unexpected = _unexpected_keys(error)
        if unexpected:
            for key in unexpected:
                what = _DEFINITION.get(path[0]) if len(path) == 2 else None
                message = (
                    f"{show_path(shown(path))}: unknown key `{key}`"
                    + (f" for a {what}" if what else "")
                    + (f" in {label}" if label else "")
                    + _suggest(path, key)
                )
                yield Finding("compose.schema", (*path, key), message)
            continue
        yield Finding("compose.schema", path, f"{show_path(shown(path))}: {error.message}")


def _unexpected_keys(error: ValidationError) -> list[str]:
    """The keys an additionalProperties / unevaluatedProperties error is about."""
    if error.validator not in _UNEXPECTED or not isinstance(error.instance, dict):
        return []
    if error.validator == "additionalProperties" and isinstance(error.schema, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        return [
            str(k)
            for k in error.instance
            if k not in known and not any(re.search(p, str(k)) for p in patterns)
        ]
    found = _UNEVALUATED.search(error.message)
    try:
        keys = ast.literal_eval(f"({found.group(1)},)") if found else ()
    except (ValueError, SyntaxError):
        keys = ()
    return [str(k) for k in keys]


def _suggest(path: tuple[Any, ...], key: str) -> str:
    definition = _DEFINITION.get(path[0]) if len(path) == 2 else None
    if definition is None:
        return ""
    close = difflib.get_close_matches(key, sorted(spec_keys(definition)), n=1, cutoff=0.75)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _semantics(top: dict[str, Any]) -> Iterator[Finding]:
    raw = top.get("services")
    services = (
        {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}
    )
    if not raw:
        yield Finding("compose.schema", (), "the file defines no services")
    for name, service in services.items():
        base = ("services", name)
        if "image" not in service and "build" not in service and "extends" not in service:
            yield Finding(
                "compose.no-image",
                base,
                f"service {name!r} has neither `image` nor `build`; name the image it runs",
            )
        for key, dep in _service_references(service):
            if dep not in services:
                yield Finding(
                    "compose.unknown-dependency",
                    (*base, key),
                    f"service {name!r} {_VERBS[key]} {dep!r}, which is not a service of this file",
                )
        if "network_mode" in service and "networks" in service:
            yield Finding(
                "compose.schema",
                (*base, "networks"),
                f"service {name!r} has both `network_mode` and `networks`; they exclude each other",
            )
        for key, top_key, rule in _REFERENCES:
            declared = set(_names(top.get(top_key)))
            if key == "networks":
                declared.add("default")
            values = service.get(key)
            refs = (
                [(i, named_volume(v)) for i, v in enumerate(values or ())]
                if key == "volumes" and isinstance(values, list)
                else [(None, ref) for ref in _names(values)]
                if key != "volumes"
                else []
            )
            for index, ref in refs:
                if ref is None or ref in declared:
                    continue
                where = (*base, key) if index is None else (*base, key, index)
                what = "mounts volume" if key == "volumes" else f"uses {key[:-1]}"
                fix = "declare it or mount a path" if key == "volumes" else "declare it"
                yield Finding(
                    rule,
                    where,
                    f"service {name!r} {what} {ref!r}, which is not declared under the "
                    f"top-level `{top_key}:`; {fix}",
                )


_VERBS = {
    "depends_on": "depends on",
    "links": "links to",
    "volumes_from": "takes volumes from",
    "network_mode": "shares the network of",
}


def _service_references(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, service name) for every other service this one names."""
    for dep in _names(service.get("depends_on")):
        yield "depends_on", dep
    for link in service.get("links") or ():
        if isinstance(link, str) and link:
            yield "links", link.split(":", 1)[0]
    for source in service.get("volumes_from") or ():
        if isinstance(source, str) and source and not source.startswith("container:"):
            name = source.removeprefix("service:").split(":", 1)[0]
            yield "volumes_from", name
    mode = service.get("network_mode")
    if isinstance(mode, str) and mode.startswith("service:"):
        yield "network_mode", mode[len("service:") :]


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
