"""Chart.yaml annotations that Rancher 2 and Artifact Hub read, as plain data.

:func:`read_annotations` turns a chart's ``annotations`` mapping into two dicts, never
raising for bad content; what is malformed comes back as issues (annotation key, message)
for validation to report with Chart.yaml's line, and is left out of the data.

Rancher (``catalog.cattle.io/...``), keys as stored:

    display_name, type, upstream_version, release_name, namespace,
    requests_cpu, requests_memory          text (names and quantities checked)
    hidden, experimental, deprecated       booleans, written "true" / "false"
    certified                              rancher | partner | other (others kept, reported)
    featured                               a positive whole number (the order of featured)
    kube_version, rancher_version          version ranges (Masterminds/semver, as Rancher)
    os, permits_os                         lists from "linux,windows"
    auto_install                           {"chart", "version"} from "chart=version|match"
    other                                  every other catalog.cattle.io/ key, as written

Artifact Hub (``artifacthub.io/...``): values are YAML documents inside the YAML string,
parsed with the loader's safe YAML reader:

    changes          [{"kind", "description", "links": [{"name", "url"}]}]; plain strings
                     become {"kind": None, "description": ...}
    images           [{"name", "image", "platforms", "whitelisted"}]
    links            [{"name", "url"}];  maintainers [{"name", "email"}]
    recommendations  [{"url"}];  screenshots [{"title", "url"}]
    sign_key         {"fingerprint", "url"}
    license, category                      text
    prerelease, contains_security_updates  booleans
    other            every other artifacthub.io/ key, as written

URLs are kept only when they are http(s) URLs: whoever shows them links to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from catalog_server.chartmetadata import go_text
from catalog_server.constraints import ConstraintError, parse_constraint
from catalog_server.yamlfile import load_yaml

__all__ = ["ARTIFACTHUB", "RANCHER", "ChartAnnotations", "read_annotations", "web_url"]

RANCHER = "catalog.cattle.io/"
ARTIFACTHUB = "artifacthub.io/"
CERTIFIED = ("rancher", "partner", "other")
OS_NAMES = ("linux", "windows")
CHANGE_KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")
CATEGORIES = (
    "ai-machine-learning",
    "database",
    "integration-delivery",
    "monitoring-logging",
    "networking",
    "security",
    "storage",
    "streaming-messaging",
    "skip-prediction",
)
MAX_ITEMS = 200  # entries kept from one list annotation
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?\Z")
_CHART_NAME = re.compile(r"[a-z0-9]([-a-z0-9._]*[a-z0-9])?\Z")


@dataclass
class ChartAnnotations:
    rancher: dict[str, Any] = field(default_factory=dict)
    artifacthub: dict[str, Any] = field(default_factory=dict)
    issues: list[tuple[str, str]] = field(default_factory=list)  # (annotation key, message)


def web_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL, else None."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def read_annotations(annotations: Any) -> ChartAnnotations:
    """The Rancher and Artifact Hub data of a chart's ``annotations`` (see the module
    docstring). Anything but a mapping reads as no annotations."""
    out = ChartAnnotations()
    if not isinstance(annotations, Mapping):
        return out
    for key, value in annotations.items():
        if not isinstance(key, str):
            continue
        if key.startswith(RANCHER):
            _rancher(out, key, value)
        elif key.startswith(ARTIFACTHUB):
            _artifacthub(out, key, value)
    return out


def _as_text(out: ChartAnnotations, key: str, value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None:
        return None
    try:
        shown = go_text(key, value)  # what Helm makes of it
    except ValueError:
        out.issues.append(
            (
                key,
                f"{key} is a {type(value).__name__}; annotation values are "
                "strings, and Helm cannot load a chart with any other",
            )
        )
        return None
    out.issues.append(
        (
            key,
            f"{key} is read as a {type(value).__name__}, which Helm turns "
            f'into "{shown}"; annotation values are strings: quote it',
        )
    )
    return shown


def _boolean(out: ChartAnnotations, key: str, text: str) -> bool | None:
    if text in ("true", "false"):
        return text == "true"
    out.issues.append((key, f'{key} is {text!r}; write "true" or "false"'))
    return None


def _rancher(out: ChartAnnotations, key: str, value: Any) -> None:
    text = _as_text(out, key, value)
    if text is None:
        return
    name = key[len(RANCHER) :]
    data = out.rancher
    if name in ("hidden", "experimental", "deprecated"):
        if (flag := _boolean(out, key, text.strip())) is not None:
            data[name] = flag
    elif name in ("kube-version", "rancher-version"):
        try:
            parse_constraint(text)
        except ConstraintError as exc:
            out.issues.append(
                (
                    key,
                    f"{key} {text!r} is not a version range ({exc}); write it "
                    'as Rancher does, e.g. ">= 1.16.0-0 < 1.30.0-0"',
                )
            )
        else:
            data[name.replace("-", "_")] = text.strip()
    elif name == "certified":
        data[name] = text
        if text not in CERTIFIED:
            out.issues.append((key, f"{key} is {text!r}; Rancher knows {', '.join(CERTIFIED)}"))
    elif name == "featured":
        if text.strip().isdigit() and int(text) > 0:
            data[name] = int(text)
        else:
            out.issues.append(
                (
                    key,
                    f"{key} is {text!r}; write the chart's place among the "
                    'featured charts as a whole number from 1 ("1")',
                )
            )
    elif name in ("os", "permits-os"):
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in OS_NAMES]
        if unknown or not names:
            out.issues.append((key, f'{key} is {text!r}; write linux, windows or "linux,windows"'))
        data[name.replace("-", "_")] = [n for n in names if n in OS_NAMES]
    elif name in ("requests-cpu", "requests-memory"):
        if _QUANTITY.match(text.strip()):
            data[name.replace("-", "_")] = text.strip()
        else:
            out.issues.append(
                (key, f'{key} is {text!r}, not a Kubernetes quantity ("500m", "256Mi")')
            )
    elif name in ("namespace", "release-name"):
        pattern, limit = (_DNS_LABEL, 63) if name == "namespace" else (_RELEASE, 53)
        if pattern.match(text) and len(text) <= limit:
            data[name.replace("-", "_")] = text
        else:
            out.issues.append(
                (
                    key,
                    f"{key} {text!r} is not a valid {name.replace('-', ' ')} "
                    f"(lower-case letters, digits and '-', at most {limit})",
                )
            )
    elif name == "auto-install":
        chart, sep, version = text.partition("=")
        if sep and _CHART_NAME.match(chart.strip()) and version.strip():
            data["auto_install"] = {"chart": chart.strip(), "version": version.strip()}
        else:
            out.issues.append((key, f"{key} is {text!r}; write CHART=VERSION or CHART=match"))
    elif name in ("display-name", "type", "upstream-version"):
        data[name.replace("-", "_")] = text
    else:
        data.setdefault("other", {})[name] = text


# --- Artifact Hub -----------------------------------------------------------------------


def _document(out: ChartAnnotations, key: str, text: str) -> Any:
    """The YAML document inside an annotation's text; None (and an issue) when malformed."""
    result = load_yaml(text.encode("utf-8", "surrogatepass"), key)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors:
        first = errors[0]
        where = f" (line {first.line} of the value)" if first.line else ""
        out.issues.append((key, f"{key} is not valid YAML{where}: {first.message}"))
        return None
    return result.value


def _items(out: ChartAnnotations, key: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        out.issues.append((key, f"{key} must be a YAML list, not a {type(value).__name__}"))
        return []
    return value[:MAX_ITEMS]


def _fields(out: ChartAnnotations, key: str, item: Any, wanted: Mapping[str, Callable]) -> dict:
    """The known fields of one list entry, each converted; an issue for a non-mapping."""
    if not isinstance(item, Mapping):
        out.issues.append((key, f"each entry of {key} must be a mapping ({', '.join(wanted)})"))
        return {}
    kept = {}
    for name, convert in wanted.items():
        value = convert(item.get(name))
        if value not in (None, "", []):
            kept[name] = value
    return kept


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def _links(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    links = []
    for link in value[:MAX_ITEMS]:
        if isinstance(link, Mapping) and (url := web_url(link.get("url"))):
            links.append({"name": _str(link.get("name")) or url, "url": url})
    return links


def _changes(out: ChartAnnotations, key: str, value: Any) -> list[dict[str, Any]]:
    changes = []
    for item in _items(out, key, value):
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            changes.append({"kind": None, "description": str(item), "links": []})
            continue
        entry = _fields(out, key, item, {"kind": _str, "description": _str, "links": _links})
        if not entry.get("description"):
            if entry or isinstance(item, Mapping):
                out.issues.append((key, f"an entry of {key} has no description"))
            continue
        kind = entry.get("kind")
        if kind is not None and kind not in CHANGE_KINDS:
            kind = None  # shown as a change without a kind
            out.issues.append(
                (key, f"{key}: kind {entry['kind']!r} is not one of {', '.join(CHANGE_KINDS)}")
            )
        changes.append(
            {"kind": kind, "description": entry["description"], "links": entry.get("links", [])}
        )
    return changes


_LISTS: dict[str, tuple[str, dict[str, Callable]]] = {
    "images": (
        "images",
        {
            "name": _str,
            "image": _str,
            "platforms": lambda v: [str(p) for p in v] if isinstance(v, list) else None,
            "whitelisted": lambda v: v if isinstance(v, bool) else None,
        },
    ),
    "maintainers": ("maintainers", {"name": _str, "email": _str}),
    "recommendations": ("recommendations", {"url": web_url}),
    "screenshots": ("screenshots", {"title": _str, "url": web_url}),
}


def _artifacthub(out: ChartAnnotations, key: str, value: Any) -> None:
    text = _as_text(out, key, value)
    if text is None:
        return
    name = key[len(ARTIFACTHUB) :]
    data = out.artifacthub
    if name in ("license", "category"):
        data[name] = text.strip()
        if name == "category" and text.strip() not in CATEGORIES:
            out.issues.append(
                (key, f"{key} {text!r} is not an Artifact Hub category ({', '.join(CATEGORIES)})")
            )
    elif name in ("prerelease", "containsSecurityUpdates"):
        if (flag := _boolean(out, key, text.strip())) is not None:
            data["contains_security_updates" if name != "prerelease" else name] = flag
    elif name == "changes":
        data["changes"] = _changes(out, key, _document(out, key, text))
    elif name == "links":
        document = _document(out, key, text)
        items = _items(out, key, document)
        data["links"] = _links(items)
        if len(data["links"]) < len(items):
            out.issues.append((key, f"every entry of {key} needs a name and an http(s) url"))
    elif name in _LISTS:
        stored, wanted = _LISTS[name]
        entries = [
            _fields(out, key, item, wanted) for item in _items(out, key, _document(out, key, text))
        ]
        data[stored] = [e for e in entries if e]
    elif name == "signKey":
        document = _document(out, key, text)
        if isinstance(document, Mapping) and isinstance(document.get("fingerprint"), str):
            data["sign_key"] = {
                "fingerprint": document["fingerprint"],
                "url": web_url(document.get("url")),
            }
        elif document is not None:
            out.issues.append((key, f"{key} must be a mapping with fingerprint and url"))
    else:
        data.setdefault("other", {})[name] = text
