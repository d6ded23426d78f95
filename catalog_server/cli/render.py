"""`catalog-server render`: the install manifest of an indexed version, as the API makes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from catalog_server.cli.context import app_context
from catalog_server.manifests.model import TARGETS, Manifest


def _read_answers(path: str | None, settings: tuple[str, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if path:
        try:
            text = (
                Path(path).read_text(encoding="utf-8")
                if path != "-"
                else click.get_text_stream("stdin").read()
            )
            loaded = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--answers") from None
        if loaded is None:
            loaded = {}
        if isinstance(loaded, dict) and isinstance(loaded.get("answers"), dict):
            loaded = loaded["answers"]  # the API's request body works too
        if not isinstance(loaded, dict):
            raise click.BadParameter(
                f"{path} must hold a mapping of answers", param_hint="--answers"
            )
        answers.update({str(k): v for k, v in loaded.items()})
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not VAR=VALUE", param_hint="--set")
        answers[name] = value
    return answers


def _read_values(path: str | None) -> str | None:
    """The text of the --values document ('-' for stdin), parsed later where the API parses
    it, so that errors name the same lines."""
    if not path:
        return None
    from catalog_server.manifests.values import MAX_VALUES_BYTES

    try:
        if path == "-":
            text = click.get_text_stream("stdin").read(MAX_VALUES_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as stream:
                text = stream.read(MAX_VALUES_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--values") from None
    return text


def _render_ref(session, catalog, template, version, answers, **kw) -> Manifest:
    """render_version for the command: the default version; errors as ClickException."""
    from catalog_server import queries
    from catalog_server.manifests.model import ManifestError
    from catalog_server.problems import TemplateNotFound
    from catalog_server.render import render_version

    try:
        if not version:
            t = queries.get_template(session, catalog, template)
            version = t.default_version or (t.versions[0].version if t.versions else "")
        return render_version(session, catalog, template, version, answers, **kw)
    except TemplateNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        if isinstance(exc, ManifestError) and exc.details:
            detail = json.dumps(exc.details, indent=2, ensure_ascii=False)
            raise click.ClickException(f"{exc.message}\n{detail}") from None
        raise click.ClickException(str(exc)) from None


@click.command()
@click.argument("ref", metavar="CATALOG/TEMPLATE[@VERSION]")
@click.option(
    "--answers",
    "answers_file",
    metavar="FILE",
    help="YAML or JSON mapping of answers ('-' for stdin).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="VAR=VALUE",
    help="One answer (repeatable); wins over --answers.",
)
@click.option(
    "--values",
    "values_file",
    metavar="FILE",
    help="Helm charts: a YAML or JSON values document merged over the chart's values.yaml "
    "('-' for stdin); the only way to set values no question declares.",
)
@click.option("--release", help="Release (stack) name.")
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    help="Compose templates: compose (default: a file today's docker compose accepts) or "
    "rancher (the files as authored for Rancher 1.x).",
)
@click.option("--namespace", help="Kubernetes namespace (Helm charts).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write the files here (default: print them).",
)
@click.option(
    "--server-url",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Where this service is reached, for `helm repo add`.",
)
def render(
    ref, answers_file, settings, values_file, release, target, namespace, out_dir, server_url
) -> None:
    """Render the install manifest of an indexed template version.

    Reads the version from the database, as the API does, and writes the same files as
    `POST /api/v1/templates/{catalog}/{template}/versions/{version}/manifest`. VERSION
    defaults to the template's default version. Conversions made for the compose target
    are printed as notes. Answers must be for declared questions; other Helm values go in
    --values.
    """
    from catalog_server.db import db

    path, _, version = ref.partition("@")
    catalog, sep, template = path.partition("/")
    if not sep or not catalog or not template:
        raise click.BadParameter("must be CATALOG/TEMPLATE[@VERSION]", param_hint="REF")
    answers = _read_answers(answers_file, settings)
    values = _read_values(values_file)
    with app_context():
        manifest = _render_ref(
            db.session, catalog, template, version, answers,
            release=release, namespace=namespace, target=target, server_url=server_url,
            values=values,
        )  # fmt: skip
    for warning in manifest.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in manifest.notes:
        click.echo(f"note: {note}", err=True)
    if out_dir:
        from catalog_server.render import write_manifest

        try:
            written = write_manifest(manifest, Path(out_dir))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for target in written:
            click.echo(f"wrote {target}", err=True)
    else:
        for f in manifest.files:
            click.echo(f"# --- {f.path}")
            click.echo(f.content, nl=not f.content.endswith("\n"))
    for command in manifest.commands:
        click.echo(f"run: {command}", err=True)
