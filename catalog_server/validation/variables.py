"""Where a compose template version uses its questions' variables.

Rancher 1.x hands a version's answers to its files in two ways, and a question is used
when either reaches any file that is deployed:

- interpolation: every Compose form (`$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
  `${VAR:?e}`, `${VAR?e}`, `${VAR:+a}`, `${VAR+a}`, nested in defaults too); `$$` is a
  literal `$`, never a use. Rancher interpolated every file it deployed: the compose
  files, `rancher-compose.yml` (its `.catalog` block aside: question texts, not
  deployment settings) and a Kubernetes template's manifests;
- Go templates: `.Values.VAR`, `$.Values.VAR` and `index .Values "VAR"` inside `{{ }}`
  of a `.tpl` file, or of a plain file that holds `{{ }}` (a few real catalogs do).
  Interpolation runs after rendering, so a `.tpl` uses variables both ways;
- pass-through: a compose service's `environment` entry with a name and no value
  (`- EULA`, or `EULA:` in a mapping) hands the container the variable of that name,
  which Rancher (and `docker compose` with the answers' `.env`) sets from the answer.

`version_uses(files)` finds every use in every `.yml`, `.yaml` and `.tpl` file of a version.
The scan is tolerant: a malformed `$` expression (reported by `compose.interpolation`)
does not hide the well-formed uses around it, and a file that is not YAML (a template, a
broken file) is read as text, YAML comment lines aside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from catalog_server.validation.content import VersionFiles, line_of, strings
from catalog_server.yamlfile import YamlResult, load_yaml

DEPLOYED_SUFFIXES = (".yml", ".yaml", ".tpl")
CATALOG_KEYS = (".catalog", "catalog")
# `$$` (a literal `$`), `${NAME...`, or `$NAME`. Scanning on after `${NAME` finds the
# uses nested in its default too.
_DOLLAR = re.compile(r"\$(?:(\$)|\{([_a-zA-Z][_a-zA-Z0-9]*)([:?+-]*)|([_a-zA-Z][_a-zA-Z0-9]*))")
_FALLBACKS = (":-", "-", ":+", "+")
# A Go template action, comments included; actions may span lines.
_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
_VALUES = re.compile(
    r"\.Values\.([A-Za-z_][A-Za-z0-9_]*)"
    r"|\bindex\s+\$?\.Values\s+(?:\"((?:[^\"\\]|\\.)+)\"|`([^`]+)`)"
)
_COMMENT_LINE = re.compile(r"^[ \t]*#.*$", re.M)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMPOSE_PREFIX = "docker-compose."


@dataclass(frozen=True, slots=True)
class VariableUse:
    """One use of a variable: its name, where, and how.

    `kind` is "interpolation" (`${VAR}`), "template" (`.Values.VAR`) or "pass-through"
    (an environment entry without a value); `has_fallback` is True for interpolation
    forms that stay quiet when the variable is unset (`${VAR:-d}`, `${VAR-d}`,
    `${VAR:+a}`, `${VAR+a}`) and for pass-through (an unset one is simply left out).
    """

    name: str
    file: str  # relative to the version folder
    line: int | None
    kind: Literal["interpolation", "template", "pass-through"]
    has_fallback: bool = False


def interpolation_uses(text: str) -> Iterator[tuple[str, int, bool]]:
    """(name, offset, has_fallback) of every interpolation use in `text`; `$$` skipped."""
    for match in _DOLLAR.finditer(text):
        if match.group(1):
            continue
        if match.group(2):
            operator = match.group(3)
            fallback = any(operator.startswith(op) for op in _FALLBACKS)
            yield match.group(2), match.start(), fallback
        else:
            yield match.group(4), match.start(), False


def template_uses(text: str) -> tuple[list[tuple[str, int]], str]:
    """(name, offset) of every `.Values` use inside `{{ }}`, and the text with every
    action blanked out (same length and lines, so offsets and lines still match)."""
    uses: list[tuple[str, int]] = []
    for action in _ACTION.finditer(text):
        body = action.group(1).strip().lstrip("-").lstrip()
        if body.startswith("/*"):
            continue
        for match in _VALUES.finditer(action.group(1)):
            name = match.group(1) or match.group(2) or match.group(3)
            uses.append((name, action.start(1) + match.start()))
    return uses, _ACTION.sub(lambda m: _blank_action(text, m), text)


def _blank_action(text: str, action: re.Match[str]) -> str:
    """An action's stand-in of the same length and lines: spaces for an action alone on
    its line (`{{ if }}`, `{{ end }}`), else `0`s, which keep `image: x:{{ .Values.T }}` a
    YAML scalar and start no `$` name."""
    start = text.rfind("\n", 0, action.start()) + 1
    end = text.find("\n", action.end())
    end = len(text) if end < 0 else end
    alone = not (text[start : action.start()].strip() or text[action.end() : end].strip())
    return re.sub(r"[^\n]", " " if alone else "0", action.group(0))


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def file_uses(files: VersionFiles, rel: str) -> list[VariableUse]:
    """Every use of a variable in file `rel` of the version (see the module docstring)."""
    data = files.data(rel)
    if data is None:
        return []
    text = data.decode("utf-8", "replace")
    uses: list[VariableUse] = []
    templated = rel.endswith(".tpl") or "{{" in text
    if templated:
        found, text = template_uses(text)
        uses.extend(VariableUse(n, rel, _line(text, at), "template") for n, at in found)
        # With its actions blanked out, a template usually still reads as YAML.
        blanked = load_yaml(text.encode("utf-8"), files.path(rel))
        if blanked.ok and rel.startswith(COMPOSE_PREFIX):
            uses.extend(_pass_through(blanked, rel))
    parsed = None if templated else files.yaml(rel)
    if parsed is None:
        plain = _blank_comments(text)
        uses.extend(
            VariableUse(n, rel, _line(text, at), "interpolation", fallback)
            for n, at, fallback in interpolation_uses(plain)
        )
        return uses
    if rel.startswith(COMPOSE_PREFIX):
        uses.extend(_pass_through(parsed, rel))
    for path, value in strings(parsed.value):
        if path and path[0] in CATALOG_KEYS:
            continue  # question texts, not interpolated content
        for name, _, fallback in interpolation_uses(value):
            uses.append(VariableUse(name, rel, line_of(parsed, path), "interpolation", fallback))
    return uses


def _pass_through(parsed: YamlResult, rel: str) -> Iterator[VariableUse]:
    """Environment entries without a value, in either compose layout (v1 or services:)."""
    document = parsed.value
    if not isinstance(document, dict):
        return
    services, base = document, ()
    if isinstance(document.get("services"), dict):
        services, base = document["services"], ("services",)
    for name, service in services.items():
        environment = service.get("environment") if isinstance(service, dict) else None
        where = (*base, name, "environment")
        entries: list[tuple[Any, Any]] = []
        if isinstance(environment, list):
            entries = [
                (i, item.strip()) for i, item in enumerate(environment) if isinstance(item, str)
            ]
        elif isinstance(environment, dict):
            entries = [(key, key) for key, value in environment.items() if value is None]
        for key, variable in entries:
            if isinstance(variable, str) and _ENV_NAME.fullmatch(variable):
                line = line_of(parsed, (*where, key))
                yield VariableUse(variable, rel, line, "pass-through", has_fallback=True)


def _blank_comments(text: str) -> str:
    """`text` with YAML comment lines blanked out (offsets kept)."""
    return _COMMENT_LINE.sub(lambda m: " " * len(m.group(0)), text)


def version_uses(files: VersionFiles) -> list[VariableUse]:
    """Every variable use in the deployed files of a version, in file order."""
    out: list[VariableUse] = []
    for rel in files.paths():
        if rel.endswith(DEPLOYED_SUFFIXES):
            out.extend(file_uses(files, rel))
    return out
