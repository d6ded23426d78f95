"""Install manifests of compose templates: resolved compose files and a ``.env``.

Pure Python (no Flask, no database). :func:`compose_manifest` turns a version's files and
questions plus a user's answers into the files to deploy. First, for every target:
``docker-compose.yml.tpl`` is rendered with the Go-template subset over ``.Values`` (when
the version has one), else ``docker-compose.yml`` is read; then it is parsed and
interpolated with the Compose Specification's rules over the answers (values only, never
keys), converted from its own format to the Compose Specification
(:mod:`.composeconvert`) and checked (:mod:`.composecheck`): what is still invalid after
conversion is refused, naming file, line and rule. Answers a template prints must each stay
inside one YAML value, and are not interpolated a second time (see :mod:`.placement`).
Then, by ``target``:

- ``compose`` (the default): ``docker-compose.yml`` is the converted document, which today's
  ``docker compose`` accepts, every conversion listed in the manifest's notes; ``.env``
  holds the answers, one ``KEY=value`` line each, quoted so compose's dotenv parser reads
  back exactly the answer. ``rancher-compose.yml`` is left out (Rancher-only settings).
- ``rancher``: the files as authored for Rancher 1.x: ``docker-compose.yml`` in its own
  format, and ``rancher-compose.yml`` rendered and interpolated the same way, without the
  catalog block (``.catalog`` / ``catalog``: questions and metadata, not deployment
  settings).

Files are written back with every literal ``$`` escaped as ``$$``, so a tool reading them
again sees the same values. :class:`Manifest` and :class:`ManifestError`, shared with
:mod:`.helm`, live in :mod:`.model`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from catalog_server.manifests.answers import AnswerCheck, answer_text, check_answers
from catalog_server.manifests.composecheck import check_compose, show_path
from catalog_server.manifests.composeconvert import Conversion, convert
from catalog_server.manifests.gotemplate import TemplateError, render_marked
from catalog_server.manifests.interpolate import InterpolationError, interpolate
from catalog_server.manifests.model import (
    TARGETS,
    Manifest,
    ManifestError,
    ManifestFile,
    dump_yaml,
)
from catalog_server.manifests.placement import OutOfPlace, place_answers
from catalog_server.yamlfile import load_yaml

__all__ = [
    "COMPOSE_FILE",
    "TARGETS",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "checked_answers",
    "compose_manifest",
    "dotenv",
    "dump_yaml",
]

COMPOSE_FILE = "docker-compose.yml"
RANCHER_FILE = "rancher-compose.yml"
ENV_FILE = ".env"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ENV_BARE = re.compile(r"[A-Za-z0-9_./:@,+=%-]*\Z")


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


# --- .env ------------------------------------------------------------------------------


def _env_value(text: str) -> str:
    if _ENV_BARE.match(text):
        return text
    if "'" not in text and "\\" not in text:
        # Literal in compose's dotenv, line breaks included; but there a backslash escapes
        # a quote (a quoted lone backslash is unterminated), so text with one is double-quoted.
        return f"'{text}'"
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        .replace("\n", "\\n").replace("\r", "\\r")
    )  # fmt: skip
    return f'"{escaped}"'


def dotenv(values: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The ``.env`` text for ``values`` and warnings for variables it cannot hold.

    Each value is written as answer_text gives it: bare when plain, single-quoted (literal)
    otherwise, double-quoted with ``\\`` escapes when it holds a single quote or a
    backslash. Names that are not environment variable names, and lists or mappings, are
    left out with a warning.
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
    """(file name, text): the ``.tpl`` rendered when there is one (answers checked to have
    stayed data), else the plain file."""
    template = f"{name}.tpl"
    if template in files:
        try:
            rendered = render_marked(_text(files, template), values, filename=template, extra=extra)
            return template, place_answers(rendered.text, rendered.spans, template)
        except TemplateError as exc:
            raise ManifestError(
                "render_error", str(exc), {"file": exc.filename, "line": exc.line}
            ) from None
        except OutOfPlace as exc:
            names = ", ".join(sorted(exc.errors))
            raise ManifestError(
                "invalid_answers",
                f"answers would change the structure of {template}: {names}",
                exc.errors,
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


def _line(result, path: tuple) -> int | None:
    """The line of ``path`` in a parsed file, or of its nearest located ancestor."""
    path = tuple(path)
    while path:
        line = result.line(*path)
        if line:
            return line
        path = path[:-1]
    return None


def _checked(filename: str, parsed, document: Any) -> Conversion:
    """The document converted to the Compose Specification; ManifestError
    ``invalid_compose`` listing every finding (file, line, rule) when it is still invalid."""
    if not isinstance(document, dict):
        raise ManifestError(
            "invalid_compose",
            f"{filename}: a compose file must be a mapping with a `services:` key",
            {"file": filename, "errors": [
                {"path": "(top level)", "line": 1, "rule": "compose.schema",
                 "message": "a compose file must be a mapping"},
            ]},
        )  # fmt: skip
    conversion = convert(document)
    label = conversion.format.label
    findings = check_compose(conversion.document, conversion.original_path, label)
    if not findings:
        return conversion
    errors = []
    for finding in findings:
        original = conversion.original_path(finding.path)
        errors.append(
            {
                "path": show_path(original),
                "line": _line(parsed, original),
                "rule": finding.rule,
                "message": finding.message,
            }
        )
    first = errors[0]
    rendered = " (as rendered from the template)" if filename.endswith(".tpl") else ""
    count = len(errors)
    raise ManifestError(
        "invalid_compose",
        f"{filename}:{first['line'] or '?'}{rendered}: {first['rule']}: {first['message']}"
        f" ({count} problem{'s' if count != 1 else ''}, {label})",
        {"file": filename, "format": label, "errors": errors},
    )


def _note_lines(filename: str, parsed, conversion: Conversion) -> list[str]:
    """Every conversion made, as ``file:line: what changed``."""
    out = []
    for note in conversion.notes:
        if note.change:
            out.append(f"{filename}:{_line(parsed, note.path) or 1}: {note.change}")
    return out


def compose_manifest(
    files: Mapping[str, bytes | None],
    questions: list[dict],
    answers: Mapping[str, Any],
    *,
    release: str | None = None,
    target: str = "compose",
) -> Manifest:
    """Files to deploy a compose template version with ``answers``.

    ``files`` maps paths in the version folder to their content; ``release`` names the
    stack (``.Stack.Name`` in templates, ``-p`` in the command). ``target`` is one of
    TARGETS: ``compose`` (the default) gives a ``docker-compose.yml`` in the Compose
    Specification that today's ``docker compose`` reads, every conversion from the file's
    own format listed in ``notes``; ``rancher`` gives the files as authored for Rancher 1.x
    (``.tpl`` rendered, answers interpolated) with ``rancher-compose.yml`` beside. Both
    refuse a file that is invalid even after conversion.

    Raises ValueError for an unknown target; ManifestError with code ``invalid_answers``,
    ``render_error`` (file and line in details) or ``invalid_compose`` (every finding:
    path, line, rule, message).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}")
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
    conversion = _checked(filename, parsed, document)
    rancher = _source(files, RANCHER_FILE, check.values, extra)
    project = f" -p {release}" if release else ""

    if target == "rancher":
        manifest.files.append(ManifestFile(COMPOSE_FILE, dump_yaml(_escape_dollars(document))))
        if rancher is not None:
            name, text = rancher
            rancher_parsed = _parse(name, text)
            if isinstance(rancher_parsed.value, dict):
                for key in (".catalog", "catalog"):
                    rancher_parsed.value.pop(key, None)
            resolved = _interpolate(rancher_parsed, name, variables, manifest.warnings)
            manifest.files.append(
                ManifestFile(RANCHER_FILE, dump_yaml(_escape_dollars(resolved or {})))
            )
            manifest.commands.append(
                f"rancher-compose{project} -f {COMPOSE_FILE} -r {RANCHER_FILE} up -d"
            )
        else:
            manifest.commands.append(f"rancher-compose{project} -f {COMPOSE_FILE} up -d")
        return manifest

    manifest.notes.extend(_note_lines(filename, parsed, conversion))
    if rancher is not None:
        manifest.notes.append(
            f"{RANCHER_FILE}: left out; it holds Rancher 1.x settings (scale, health checks, "
            "load balancers) that today's Compose does not read (target rancher keeps it)"
        )
    manifest.files.append(
        ManifestFile(COMPOSE_FILE, dump_yaml(_escape_dollars(conversion.document)))
    )
    env_text, env_warnings = dotenv(check.values)
    manifest.warnings.extend(env_warnings)
    manifest.files.append(ManifestFile(ENV_FILE, env_text))
    manifest.commands.append(f"docker compose{project} --env-file .env -f {COMPOSE_FILE} up -d")
    return manifest
