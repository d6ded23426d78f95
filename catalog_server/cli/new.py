"""`catalog-server new compose NAME` / `new helm NAME`: start a template that passes lint.

The files are :mod:`catalog_server.scaffold`'s; an existing folder is never touched.
"""

from __future__ import annotations

from pathlib import Path

import click

from catalog_server.scaffold import TEMPLATE_NAME, compose_files, helm_files, write_template


def _write(catalog: Path, files: dict[str, str]) -> list[Path]:
    try:
        return write_template(catalog, files)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None


def _check_name(name: str) -> str:
    if not TEMPLATE_NAME.fullmatch(name):
        raise click.BadParameter(
            "use lowercase letters, digits and '-' (e.g. my-app)", param_hint="NAME"
        )
    return name


_catalog_option = click.option(
    "--catalog",
    "catalog",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The catalog root to add the template to.",
)


@click.group("new")
def new() -> None:
    """Scaffold a new template that passes `catalog-server lint --strict`."""


@new.command("compose")
@click.argument("name")
@_catalog_option
def new_compose(name: str, catalog: Path) -> None:
    """A Rancher compose template in templates/NAME/."""
    for path in _write(catalog, compose_files(_check_name(name))):
        click.echo(f"created {path}")


@new.command("helm")
@click.argument("name")
@_catalog_option
def new_helm(name: str, catalog: Path) -> None:
    """A versioned Helm chart in charts/NAME/0.1.0/."""
    for path in _write(catalog, helm_files(_check_name(name))):
        click.echo(f"created {path}")
