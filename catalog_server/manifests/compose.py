"""Install manifests of compose templates: resolved compose files and a ``.env``.

Pure Python (no Flask, no database). :func:`compose_manifest` turns a version's files and
questions plus a user's answers into the files to deploy:

- ``docker-compose.yml``: ``docker-compose.yml.tpl`` rendered with the Go-template subset
  over ``.Values`` (when the version has one), else ``docker-compose.yml``; then parsed and
  interpolated with the Compose Specification's rules over the answers (values only, never
  keys). The result is checked against the Compose Specification's JSON schema and written
  back with every literal ``$`` escaped as ``$$``, so ``docker compose`` reading it again
  (with or without the ``.env``) sees the same values. A legacy v1 file (services at the
  top level) is moved under ``services:``, with a warning.
- ``rancher-compose.yml``: rendered and interpolated the same way, without the catalog
  block (``.catalog`` / ``catalog``: questions and metadata, not deployment settings).
- ``.env``: the answers, one ``KEY=value`` line each, quoted so compose's dotenv parser
  reads back exactly the answer.

:class:`Manifest` and :class:`ManifestError` are shared with :mod:`.helm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from catalog_server.loaders.yamlfile import load_yaml
from catalog_server.manifests.answers import AnswerCheck, answer_text, check_answers
from catalog_server.manifests.gotemplate import TemplateError, render
from catalog_server.manifests.interpolate import InterpolationError, interpolate

__all__ = [
    "COMPOSE_FILE",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "checked_answers",
    "compose_manifest",
    "compose_schema_errors",
    "dotenv",
    "dump_yaml",
]

COMPOSE_FILE = "docker-compose.yml"
RANCHER_FILE = "rancher-compose.yml"
ENV_FILE = ".env"
# Top-level keys of the Compose Specification; a file with none of them is the v1 layout.
_SPEC_KEYS = frozenset(
    {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
     "models"}
)  # fmt: skip
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ENV_BARE = re.compile(r"[A-Za-z0-9_./:@,+=%-]*\Z")


@dataclass
class ManifestFile:
    path: str
    content: str


@dataclass
class Manifest:
    """What an install needs: files to write, commands to run, warnings to show."""

    files: list[ManifestFile] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ManifestError(ValueError):
    """The manifest cannot be made. ``status`` is the HTTP status the API answers with.

    Codes: ``invalid_answers`` (422, details ``{VAR: [message, ...]}``), ``render_error``
    (422, details ``{"file", "line", ...}``), ``invalid_compose`` (422, details
    ``{"file", "errors": [{"path", "message"}]}``), ``helm_sdk_missing`` (501).
    """

    def __init__(self, code: str, message: str, details: Any = None, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.details, self.status = code, message, details, status


def checked_answers(questions: list[dict], answers: Mapping[str, Any]) -> AnswerCheck:
    """check_answers, raising ManifestError("invalid_answers") listing every error."""
    check = check_answers(questions or [], answers)
    if not check.ok:
        count = sum(len(messages) for messages in check.errors.values())
        names = ", ".join(sorted(check.errors))
        raise ManifestError(
            "invalid_answers",
            f"{count} answer{'s' if count != 1 else ''} failed the template's questions: {names}",
            check.errors,
        )
    return check


# --- YAML out --------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line text as literal blocks, as a person would write it."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(value: Any) -> str:
    """YAML text of ``value``, keys in their given order. PyYAML falls back from the literal
    style to a quoted one by itself when the text cannot be written as a block."""
    return yaml.dump(
        value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16,
        default_flow_style=False,
    )  # fmt: skip


# --- .env ------------------------------------------------------------------------------


def _env_value(text: str) -> str:
    if _ENV_BARE.match(text):
        return text
    if "'" not in text:
        return f"'{text}'"  # literal in compose's dotenv, line breaks included
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        .replace("\n", "\\n").replace("\r", "\\r")
    )  # fmt: skip
    return f'"{escaped}"'


def dotenv(values: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The ``.env`` text for ``values`` and warnings for variables it cannot hold.

    Each value is written as answer_text gives it: bare when plain, single-quoted (literal)
    otherwise, double-quoted with ``\\`` escapes when it holds a single quote. Names that are
    not environment variable names, and lists or mappings, are left out with a warning.
    """
    lines, warnings = [], []
    for name, value in values.items():
        if not _ENV_NAME.match(name):
            warnings.append(f"{ENV_FILE}: {name!r} is not a variable name; left out")
            continue
        if isinstance(value, list | dict):
            warnings.append(f"{ENV_FILE}: {name} is a list or mapping; left out")
            continue
        lines.append(f"{name}={_env_value(answer_text(value))}\n")
    return "".join(lines), warnings


# --- compose files ---------------------------------------------------------------------


def _text(files: Mapping[str, bytes | None], path: str) -> str:
    content = files[path]
    if content is None:
        raise ManifestError("render_error", f"{path} was not kept (too large)", {"file": path})
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError("render_error", f"{path} is not UTF-8 text", {"file": path}) from None


def _source(
    files: Mapping[str, bytes | None], name: str, values: Mapping[str, Any], extra: Mapping
) -> tuple[str, str] | None:
    """(file name, text): the ``.tpl`` rendered when there is one, else the plain file."""
    template = f"{name}.tpl"
    if template in files:
        try:
            return template, render(_text(files, template), values, filename=template, extra=extra)
        except TemplateError as exc:
            raise ManifestError(
                "render_error", str(exc), {"file": exc.filename, "line": exc.line}
            ) from None
    if name in files:
        return name, _text(files, name)
    return None


def _parse(filename: str, text: str):
    result = load_yaml(text.encode("utf-8"), filename)
    blocking = [p for p in result.problems if p.blocking]
    if blocking:
        first = blocking[0]
        rendered = " (as rendered from the template)" if filename.endswith(".tpl") else ""
        raise ManifestError(
            "render_error",
            f"{filename}:{first.line or '?'}{rendered}: {first.message}",
            {"file": filename, "line": first.line},
        )
    return result


def _interpolate(result, filename: str, variables: Mapping[str, str], warnings: list[str]):
    """Interpolate every string of a parsed file; errors name the file and line."""

    def walk(node: Any, path: tuple) -> Any:
        if isinstance(node, str):
            try:
                text, found = interpolate(node, variables)
            except InterpolationError as exc:
                base = result.line(*path) or 1
                # A block scalar's text starts on the line after its key.
                line = base + (exc.line or 1) - 1 + (1 if "\n" in node else 0)
                details: dict[str, Any] = {"file": filename, "line": line}
                if exc.variable:
                    details["variable"] = exc.variable
                raise ManifestError(
                    "render_error", f"{filename}:{line}: {exc.message}", details
                ) from None
            for message in found:
                note = f"{filename}:{result.line(*path) or '?'}: {message}"
                if note not in warnings:
                    warnings.append(note)
            return text
        if isinstance(node, Mapping):
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, (*path, i)) for i, item in enumerate(node)]
        return node

    return walk(result.value, ())


def _escape_dollars(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, Mapping):
        return {key: _escape_dollars(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_escape_dollars(item) for item in node]
    return node


def _compose_validator():
    from catalog_server.jsonschemas import compose_schema

    return compose_schema()


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def compose_schema_errors(document: Any) -> list[dict[str, str]]:
    """Every violation of the Compose Specification schema: ``[{"path", "message"}]``."""
    errors = sorted(
        _compose_validator().iter_errors(document), key=lambda e: list(map(str, e.path))
    )
    return [{"path": _json_path(e.path), "message": e.message} for e in errors]


def compose_manifest(
    files: Mapping[str, bytes | None],
    questions: list[dict],
    answers: Mapping[str, Any],
    *,
    release: str | None = None,
) -> Manifest:
    """Files to deploy a compose template version with ``answers``.

    ``files`` maps paths in the version folder to their content; ``release`` names the
    stack (``.Stack.Name`` in templates, ``-p`` in the command). Raises ManifestError with
    code ``invalid_answers``, ``render_error`` (file and line in details) or
    ``invalid_compose`` (every schema violation).
    """
    check = checked_answers(questions, answers)
    variables = {
        name: answer_text(value)
        for name, value in check.values.items()
        if not isinstance(value, list | dict)
    }
    extra = {"Stack": {"Name": release or ""}, "Release": {"Name": release or ""}}
    manifest = Manifest()

    source = _source(files, COMPOSE_FILE, check.values, extra)
    if source is None:
        raise ManifestError(
            "render_error", f"the version has no {COMPOSE_FILE}", {"file": COMPOSE_FILE}
        )
    filename, text = source
    parsed = _parse(filename, text)
    document = _interpolate(parsed, filename, variables, manifest.warnings)
    if (
        isinstance(document, dict)
        and document
        and not (set(document) & _SPEC_KEYS)
        and not all(str(key).startswith("x-") for key in document)
    ):
        document = {"services": document}
        manifest.warnings.append(
            f"{filename}: legacy v1 layout (services at the top level); moved under services:"
        )
    problems = compose_schema_errors(document)
    if problems:
        raise ManifestError(
            "invalid_compose",
            f"{filename}: the resolved compose file breaks the Compose Specification "
            f"({len(problems)} problem{'s' if len(problems) != 1 else ''}): "
            f"{problems[0]['path']}: {problems[0]['message']}",
            {"file": filename, "errors": problems},
        )
    manifest.files.append(ManifestFile(COMPOSE_FILE, dump_yaml(_escape_dollars(document))))

    rancher = _source(files, RANCHER_FILE, check.values, extra)
    if rancher is not None:
        filename, text = rancher
        parsed = _parse(filename, text)
        if isinstance(parsed.value, dict):
            for key in (".catalog", "catalog"):
                parsed.value.pop(key, None)
        document = _interpolate(parsed, filename, variables, manifest.warnings)
        manifest.files.append(
            ManifestFile(RANCHER_FILE, dump_yaml(_escape_dollars(document or {})))
        )

    env_text, env_warnings = dotenv(check.values)
    manifest.warnings.extend(env_warnings)
    manifest.files.append(ManifestFile(ENV_FILE, env_text))
    project = f" -p {release}" if release else ""
    manifest.commands.append(f"docker compose{project} --env-file .env -f {COMPOSE_FILE} up -d")
    return manifest
