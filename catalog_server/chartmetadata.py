"""A chart version's entry in index.yaml, as Helm's own ``helm repo index`` writes it.

Helm (v4, ``pkg/chart/v2/loader`` and ``pkg/repo/v1/index.go``) loads each archive's
Chart.yaml into its ``chart.Metadata`` and writes that back. What it does on the way, and
so what :func:`index_entry` does too:

- Chart.yaml is read through sigs.k8s.io/yaml: a number or boolean where Helm wants text
  becomes text, numbers formatted as Go formats a float32 (``1.10`` -> ``"1.1"``,
  ``1.0`` -> ``"1"``), and ``null`` in a list or map of text becomes ``""``.
- ``requirements.yaml`` (apiVersion v1's dependencies) is read into the same metadata:
  its ``dependencies`` (and any other Chart.yaml field it holds) replace Chart.yaml's.
- A missing ``apiVersion`` is ``v1``.
- Text fields lose control characters and every space character becomes a plain space
  (Helm's ``sanitizeString``): a description written over several lines is one line.
- Dependencies always carry ``name`` and ``repository``; maintainers are kept even when
  empty; empty top-level fields are left out.

A chart Helm would not load or index (a field of the wrong shape, a version that is not
SemVer, an invalid ``type``, duplicate dependency names) raises ValueError: Helm leaves it
out of its index, and so does the server.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from typing import Any

from catalog_server.constraints import ConstraintError, parse_version

__all__ = ["CHART_VERSION_KEYS", "go_text", "index_entry", "sanitize"]

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")
_ALIAS = re.compile(r"[a-zA-Z0-9-_]+\Z")

# chart.Metadata's text fields, and those Helm's Validate sanitizes.
_TEXT_FIELDS = (
    "apiVersion",
    "name",
    "version",
    "kubeVersion",
    "description",
    "type",
    "home",
    "icon",
    "appVersion",
    "condition",
    "tags",
)
_UNSANITIZED = {"apiVersion", "version", "type"}
_TEXT_LIST_FIELDS = ("keywords", "sources")
_MAINTAINER_FIELDS = ("email", "name", "url")
# chart.Dependency: field -> kind. name and repository have no omitempty in Helm.
_DEPENDENCY_FIELDS = {
    "alias": "text",
    "condition": "text",
    "enabled": "bool",
    "import-values": "list",
    "name": "text",
    "repository": "text",
    "tags": "text_list",
    "version": "text",
}
_ALWAYS = {"name", "repository"}
_METADATA_FIELDS = {
    *_TEXT_FIELDS,
    *_TEXT_LIST_FIELDS,
    "maintainers",
    "deprecated",
    "annotations",
    "dependencies",
}
#: Every key a ChartVersion in index.yaml may carry; Helm rejects any other.
CHART_VERSION_KEYS = frozenset((*_METADATA_FIELDS, "created", "digest", "removed", "urls"))

# Go's unicode.IsSpace: what sanitizeString turns into a plain space.
_GO_SPACE = re.compile("[\t\n\v\f\r\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def sanitize(text: str) -> str:
    """Helm's sanitizeString: space characters become " ", unprintable ones are dropped."""
    if text.isprintable():
        return text  # printable and no space but " " (Go's IsPrint and Python's agree)
    spaced = _GO_SPACE.sub(" ", text)
    return "".join(c for c in spaced if c.isprintable())


def _go_float32(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32): the shortest float32 text, Go's layout."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    if single == 0:
        return "-0" if str(value).startswith("-") else "0"
    for digits in range(1, 10):
        mantissa = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(mantissa)))[0] == single:
            break
    coefficient, exponent = mantissa.split("e")
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go's %e threshold for the shortest form
        return f"{coefficient}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return f"{float(mantissa):.{max(digits - 1 - exp, 0)}f}"


def go_text(field: str, value: Any) -> str:
    """A scalar as Helm reads it into a text field. Raises ValueError for a list or map."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float32(value)
    raise ValueError(f"Chart.yaml field {field!r} must be a string, not {type(value).__name__}")


def _text_list(field: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"Chart.yaml field {field!r} must be a list of strings")
    return [sanitize(go_text(field, item)) for item in value]


def _maintainers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValueError("Chart.yaml field 'maintainers' must be a list")
    out = []
    for person in value:
        if not isinstance(person, dict):
            raise ValueError("each Chart.yaml maintainer must be a mapping (name, email, url)")
        kept = {}
        for key in _MAINTAINER_FIELDS:
            text = sanitize(go_text(f"maintainers.{key}", person.get(key)))
            if text:
                kept[key] = text
        out.append(kept)
    return out


def _dependency(dep: Any) -> dict[str, Any]:
    if not isinstance(dep, dict):
        raise ValueError("each Chart.yaml dependency must be a mapping")
    kept: dict[str, Any] = {}
    for key, kind in _DEPENDENCY_FIELDS.items():
        item = dep.get(key)
        where = f"dependencies.{key}"
        if kind == "text":
            text = go_text(where, item)
            text = text if key == "alias" else sanitize(text)
            if text or key in _ALWAYS:
                kept[key] = text
        elif item in (None, [], False):
            continue
        elif kind == "text_list":
            kept[key] = _text_list(where, item)
        elif kind == "bool":
            if not isinstance(item, bool):
                raise ValueError(f"Chart.yaml field {where!r} must be true or false")
            kept[key] = item
        else:
            if not isinstance(item, list):
                raise ValueError(f"Chart.yaml field {where!r} must be a list")
            kept[key] = item
    alias = kept.get("alias")
    if alias and not _ALIAS.match(alias):
        raise ValueError(f"dependency {kept['name']!r} has disallowed characters in the alias")
    return kept


def _dependencies(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("Chart.yaml field 'dependencies' must be a list")
    out, seen = [], set()
    for dep in value:
        kept = _dependency(dep)
        key = kept.get("alias") or kept["name"]
        if key in seen:
            raise ValueError(f"more than one dependency with name or alias {key!r}")
        seen.add(key)
        out.append(kept)
    return out


def _metadata(chart: Mapping[str, Any], requirements: Mapping[str, Any] | None) -> dict:
    """Chart.yaml with requirements.yaml read over it, as Helm's loader does."""
    merged = dict(chart)
    for key, value in (requirements or {}).items():
        if key not in _METADATA_FIELDS:
            continue
        if key == "annotations" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def index_entry(
    chart: Mapping[str, Any],
    *,
    digest: str,
    created: str,
    urls: list[str],
    requirements: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ChartVersion index.yaml stores for one chart version (see the module docstring).

    ``chart`` is the parsed ``Chart.yaml``; ``requirements`` the parsed
    ``requirements.yaml`` if the chart has one. Keys come out sorted, as Helm writes them.

    Raises:
        ValueError: a chart Helm would not index (no name or version, a field of the wrong
            shape, a version that is not SemVer, ...); ``digest`` is not sha256 hex;
            ``created`` is not RFC 3339; ``urls`` is empty or not strings.
    """
    chart = _metadata(chart, requirements)
    entry: dict[str, Any] = {}
    for field in _TEXT_FIELDS:
        value = chart.get(field)
        if value is not None:
            text = go_text(field, value)
            text = text if field in _UNSANITIZED else sanitize(text)
            if text:
                entry[field] = text
    entry.setdefault("apiVersion", "v1")
    for field in _TEXT_LIST_FIELDS:
        value = chart.get(field)
        if value not in (None, []) and (items := _text_list(field, value)):
            entry[field] = items
    if chart.get("maintainers") and (people := _maintainers(chart["maintainers"])):
        entry["maintainers"] = people
    if chart.get("dependencies"):
        entry["dependencies"] = _dependencies(chart["dependencies"])
    deprecated = chart.get("deprecated")
    if deprecated not in (None, False):
        if deprecated is not True:
            raise ValueError("Chart.yaml field 'deprecated' must be true or false")
        entry["deprecated"] = True
    annotations = chart.get("annotations")
    if annotations:
        if not isinstance(annotations, dict):
            raise ValueError("Chart.yaml field 'annotations' must be a mapping")
        entry["annotations"] = {
            go_text("annotations", k): go_text(f"annotations.{k}", v)
            for k, v in sorted(annotations.items(), key=lambda kv: str(kv[0]))
        }
    _validate(entry)
    if not isinstance(digest, str) or not _SHA256_HEX.match(digest):
        raise ValueError(f"digest {digest!r} is not a lowercase sha256 hex string")
    if not isinstance(created, str) or not _RFC3339.match(created):
        raise ValueError(f"created {created!r} is not an RFC 3339 time")
    if not urls or not all(isinstance(url, str) and url for url in urls):
        raise ValueError("urls must be a non-empty list of strings")
    entry["digest"] = digest
    entry["created"] = created
    entry["urls"] = list(urls)
    return dict(sorted(entry.items()))


def _validate(entry: dict[str, Any]) -> None:
    """Helm's Metadata.Validate: what makes Helm leave a chart out."""
    name, version = entry.get("name"), entry.get("version")
    if not name or not version:
        raise ValueError("Chart.yaml must give a name and a version")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"chart name {name!r} is invalid")
    try:
        parse_version(version)
    except ConstraintError:
        raise ValueError(f"chart version {version!r} is not SemVer") from None
    if entry.get("type", "application") not in ("application", "library"):
        raise ValueError("Chart.yaml type must be application or library")
