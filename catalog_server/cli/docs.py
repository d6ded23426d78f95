"""`catalog-server docs`: build the web site from the index."""

from __future__ import annotations

from pathlib import Path

import click

from catalog_server.cli.context import app_context, require_current_schema, settings_from_env


@click.group()
def docs() -> None:
    """Build the web site (catalog pages and project docs) from the index."""


@docs.command("build")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the complete site as static files into this folder instead.",
)
def docs_build(out: Path | None) -> None:
    """Rebuild the served web site (stored in the database) from the index, every page.

    With --out, write the same site as static files into a folder instead, for any web
    server or CDN; the database is then only read. `catalog-server sync` keeps the served
    site up to date by itself, rebuilding only what a sync changed.
    """
    from catalog_server.db import db

    settings = settings_from_env()
    with app_context(settings):
        require_current_schema()
        if out is not None:
            from catalog_server.docs.build import SiteBuildError, build_site

            try:
                path = build_site(db.session, out)
            except SiteBuildError as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"site written to {path}")
            return
        from catalog_server.docs.store import update_site

        update = update_site(db.session, settings.cache_dir, full=True)
    for error in update.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(
        f"site rebuilt in the database: {update.templates_built} templates, "
        f"{update.templates_removed} removed, in {update.seconds:.1f}s"
    )
    if update.errors:
        raise SystemExit(1)
