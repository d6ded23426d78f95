"""A chart's metadata as Helm loads it from an archive, and as Helm writes it in JSON.

``helm push`` stores the chart's metadata as the config blob of the OCI manifest: Helm loads
the archive (``loader.LoadArchive``), which reads ``Chart.yaml`` with sigs.k8s.io/yaml into
``chart.Metadata``, then ``requirements.yaml`` (when the archive has one) into the same
struct, and validates it (which also cleans strings: ``sanitizeString``); the push then writes
``json.Marshal(meta)``. :func:`chart_metadata` and :func:`go_json` do the same, so the
config we serve has the bytes, and so the digest, that Helm's own push would give:

- fields in the struct's order, empty ones left out (``omitempty``), except a dependency's
  ``name`` and ``repository``; maps with their keys sorted;
- YAML numbers and booleans given where Helm wants text become text as sigs.k8s.io/yaml makes
  it (a float through float32's shortest form: ``appVersion: 1.10`` is ``"1.1"``), and text
  is cleaned as Helm cleans it: both as the index's :mod:`catalog_server.chartmetadata` does;
- keys matched to fields as Go's JSON decoder does (exact, else ignoring ASCII case), unknown
  keys ignored;
- Go's string escapes, ``<``, ``>`` and ``&`` included (``\\u003e``).

Pure Python, no Flask. The package tests compare the result with what the Helm SDK's push
sends to a registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from catalog_server.chartmetadata import go_text, sanitize
from catalog_server.constraints import ConstraintError, parse_version
from catalog_server.yamlfile import YamlResult, load_yaml

__all__ = ["ChartMetadataError", "chart_metadata", "go_json"]


class ChartMetadataError(ValueError):
    """Helm would refuse to load the chart: its metadata cannot be read or is invalid."""


# chart.Metadata's JSON fields in declaration order: name -> kind.
_METADATA = {
    "name": "text",
    "home": "text",
    "sources": "text_list",
    "version": "text",
    "description": "text",
    "keywords": "text_list",
    "maintainers": "maintainers",
    "icon": "text",
    "apiVersion": "text",
    "condition": "text",
    "tags": "text",
    "appVersion": "text",
    "deprecated": "bool",
    "annotations": "text_map",
    "kubeVersion": "text",
    "dependencies": "dependencies",
    "type": "text",
}
_MAINTAINER = {"name": "text", "email": "text", "url": "text"}
_DEPENDENCY = {
    "name": "text",
    "version": "text",
    "repository": "text",
    "condition": "text",
    "tags": "text_list",
    "enabled": "bool",
    "import-values": "any_list",
    "alias": "text",
}
_ALWAYS_WRITTEN = {"name", "repository"}  # Dependency fields without omitempty
# Fields Metadata.Validate and Dependency.Validate clean with sanitizeString.
_SANITIZED = {
    "name",
    "description",
    "home",
    "icon",
    "condition",
    "tags",
    "appVersion",
    "kubeVersion",
    "sources",
    "keywords",
}
_DEPENDENCY_SANITIZED = {"name", "version", "repository", "condition", "tags"}
_ALIAS = re.compile(r"[a-zA-Z0-9_-]+\Z")
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")


def _text(value: Any, raw: str | None, where: str) -> str:
    """A YAML scalar given for a Go string field, as sigs.k8s.io/yaml hands it over."""
    if raw is not None and not isinstance(value, str) and _SEXAGESIMAL.match(raw):
        return raw  # YAML 1.1 base 60 (`1:20`): a number to PyYAML, text to Go's YAML
    try:
        return go_text(where, value)
    except ValueError as exc:
        raise ChartMetadataError(str(exc)) from None


def _go_key(key: Any) -> str:
    """A YAML mapping key as sigs.k8s.io/yaml turns it into a JSON key."""
    if isinstance(key, dict | list) or key is None:
        raise ChartMetadataError(f"unsupported mapping key {key!r}")
    text = go_text("key", key)
    return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)


class _Reader:
    """Decodes one YAML document into Helm's structs; ``raw`` gives numbers as written."""

    def __init__(self, result: YamlResult):
        self.raw = result.raw_scalars

    def fields(
        self, value: Any, spec: Mapping[str, str], path: tuple, where: str, into: dict
    ) -> None:
        if not isinstance(value, dict):
            raise ChartMetadataError(f"{where} must be a mapping, not {type(value).__name__}")
        # Go's decoder sees the keys sorted (they pass through a Go map), takes an exact
        # match or else one that differs in ASCII case, and keeps the last value it meets.
        keys = sorted(((_go_key(k), k) for k in value), key=lambda pair: pair[0])
        for text, original in keys:
            name = (
                text if text in spec else next((f for f in spec if f.lower() == text.lower()), None)
            )
            if name is None:
                continue
            child = value[original]
            into[name] = self.decode(
                child, spec[name], path + (original,), f"{where}.{name}", into.get(name)
            )

    def decode(self, value: Any, kind: str, path: tuple, where: str, current: Any) -> Any:
        if kind == "text":
            if value is None:  # null leaves a Go string as it was
                return current if current is not None else ""
            return _text(value, self.raw.get(path), where)
        if kind == "bool":
            if value is None:
                return current if current is not None else False
            if not isinstance(value, bool):
                raise ChartMetadataError(f"{where} must be true or false")
            return value
        if value is None:
            return None  # null empties a list or map field
        if kind == "text_map":
            if not isinstance(value, dict):
                raise ChartMetadataError(f"{where} must be a mapping")
            merged = dict(current or {})  # Go decodes into the map it already has
            for key, item in value.items():
                text = _go_key(key)
                if isinstance(item, dict | list):
                    raise ChartMetadataError(f"{where}.{text} must be text")
                merged[text] = _text(item, self.raw.get(path + (key,)), f"{where}.{text}")
            return merged
        if not isinstance(value, list):
            raise ChartMetadataError(f"{where} must be a list")
        if kind == "text_list":
            out = []
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    raise ChartMetadataError(f"{where}[{i}] must be text")
                out.append(_text(item, self.raw.get(path + (i,)), f"{where}[{i}]"))
            return out
        if kind == "any_list":
            return [_plain(item) for item in value]
        spec = _MAINTAINER if kind == "maintainers" else _DEPENDENCY
        items: list[dict | None] = []
        for i, item in enumerate(value):
            if item is None:
                items.append(None)
                continue
            decoded: dict[str, Any] = {}
            self.fields(item, spec, path + (i,), f"{where}[{i}]", decoded)
            items.append(decoded)
        return items


def _plain(value: Any) -> Any:
    """An untyped value (``[]any``): mapping keys become text, the rest stays as parsed."""
    if isinstance(value, dict):
        return dict(sorted((_go_key(k), _plain(v)) for k, v in value.items()))
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _sanitize_fields(values: dict[str, Any], names) -> None:
    """sanitizeString on each of ``names`` that is text or a list of text."""
    for name in names:
        value = values.get(name)
        if isinstance(value, str):
            values[name] = sanitize(value)
        elif isinstance(value, list):
            values[name] = [sanitize(v) for v in value]


def _validate(meta: dict[str, Any]) -> None:
    """Metadata.Validate: clean the strings it cleans, refuse what it refuses."""
    _sanitize_fields(meta, _SANITIZED)
    name = meta.get("name") or ""
    if not name:
        raise ChartMetadataError("chart.metadata.name is required")
    if name in (".", "..") or "/" in name:
        raise ChartMetadataError(f"chart.metadata.name {name!r} is not allowed")
    version = meta.get("version") or ""
    if not version:
        raise ChartMetadataError("chart.metadata.version is required")
    try:
        parse_version(version)  # Masterminds/semver, as Helm checks it
    except ConstraintError:
        raise ChartMetadataError(f"chart.metadata.version {version!r} is invalid") from None
    if meta.get("type") not in (None, "", "application", "library"):
        raise ChartMetadataError("chart.metadata.type must be application or library")
    for person in meta.get("maintainers") or []:
        if person is None:
            raise ChartMetadataError("maintainers must not contain empty or null nodes")
        _sanitize_fields(person, _MAINTAINER)
    seen = set()
    for dependency in meta.get("dependencies") or []:
        if dependency is None:
            raise ChartMetadataError("dependencies must not contain empty or null nodes")
        _sanitize_fields(dependency, _DEPENDENCY_SANITIZED)
        alias = dependency.get("alias") or ""
        if alias and not _ALIAS.match(alias):
            raise ChartMetadataError(
                f"dependency {dependency.get('name', '')!r} has disallowed characters in the alias"
            )
        key = alias or dependency.get("name") or ""
        if key in seen:
            raise ChartMetadataError(f"more than one dependency with name or alias {key!r}")
        seen.add(key)


def _omit_empty(values: Mapping[str, Any], spec: Mapping[str, str], keep=frozenset()) -> dict:
    """The struct as json.Marshal writes it: declared order, ``omitempty`` applied."""
    out: dict[str, Any] = {}
    for name in spec:
        value = values.get(name)
        if name in keep:
            out[name] = value or ""
        elif value not in (None, "", False, [], {}):
            out[name] = dict(sorted(value.items())) if isinstance(value, dict) else value
    return out


def chart_metadata(chart_yaml: bytes, requirements_yaml: bytes | None = None) -> dict[str, Any]:
    """``chart.Metadata`` of an archive holding ``chart_yaml`` (and ``requirements_yaml``),
    as Helm loads it, shaped as ``json.Marshal`` writes it (see :func:`go_json`).

    Raises:
        ChartMetadataError: Helm would refuse to load the chart (bad YAML, a field of the
            wrong type, no name or version, an invalid version, type or alias, ...).
    """
    meta: dict[str, Any] = {}
    for data, path in ((chart_yaml, "Chart.yaml"), (requirements_yaml, "requirements.yaml")):
        if data is None:
            continue
        result = load_yaml(data, path)
        if not result.ok:
            raise ChartMetadataError(f"cannot load {path}: {result.problems[0].message}")
        if result.value is not None:
            _Reader(result).fields(result.value, _METADATA, (), path, meta)
        if path == "Chart.yaml" and not meta.get("apiVersion"):
            meta["apiVersion"] = "v1"  # Helm 2 charts could leave it out
    _validate(meta)
    if meta.get("maintainers"):
        meta["maintainers"] = [_omit_empty(m, _MAINTAINER) for m in meta["maintainers"]]
    if meta.get("dependencies"):
        meta["dependencies"] = [
            _omit_empty(d, _DEPENDENCY, _ALWAYS_WRITTEN) for d in meta["dependencies"]
        ]
    return _omit_empty(meta, _METADATA)


# --- Go's encoding/json ------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _go_string(text: str) -> str:
    return (
        '"'
        + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text)
        + '"'
    )


def _go_float(value: float) -> str:
    """A float64 as encoding/json writes it (shortest form, exponent only when extreme)."""
    if not math.isfinite(value):
        raise ValueError("JSON has no NaN or infinity")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = repr(value).split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    sign, digits = ("-", exponent[1:]) if exponent.startswith("-") else ("+", exponent.lstrip("+"))
    return f"{mantissa}e{sign}{int(digits):02d}" if sign == "+" else f"{mantissa}e-{int(digits)}"


def go_json(value: Any) -> bytes:
    """``value`` serialised as Go's ``json.Marshal`` would: no spaces, mappings in the order
    given (build Go maps with sorted keys), HTML-safe escapes, Go's number forms."""
    parts: list[str] = []

    def emit(item: Any) -> None:
        if item is None:
            parts.append("null")
        elif item is True:
            parts.append("true")
        elif item is False:
            parts.append("false")
        elif isinstance(item, int):
            parts.append(str(item))
        elif isinstance(item, float):
            parts.append(_go_float(item))
        elif isinstance(item, str):
            parts.append(_go_string(item))
        elif isinstance(item, dict):
            parts.append("{")
            for i, (key, child) in enumerate(item.items()):
                parts.append(("," if i else "") + _go_string(str(key)) + ":")
                emit(child)
            parts.append("}")
        elif isinstance(item, list | tuple):
            parts.append("[")
            for i, child in enumerate(item):
                if i:
                    parts.append(",")
                emit(child)
            parts.append("]")
        else:
            raise TypeError(f"cannot write {type(item).__name__} as JSON")

    emit(value)
    return "".join(parts).encode("utf-8")
