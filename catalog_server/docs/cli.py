"""`catalog-server docs`: build the web site from the index."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def docs() -> None:
    """Build the web site (catalog pages and project docs) from the index."""


@docs.command("build")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the site into (default: CATALOG_SITE_DIR, instance/site).",
)
def docs_build(out: Path | None) -> None:
    """Write the pages from the index and build the static site with mkdocs.

    The site works from Flask at / and as plain files on any web server.
    """
    from catalog_server.cli import _settings, app_context
    from catalog_server.db import db
    from catalog_server.docs.build import SiteBuildError, build_site
    from catalog_server.schema import require_current_schema

    settings = _settings()
    with app_context(settings):
        require_current_schema()
        try:
            path = build_site(db.session, out or settings.site_dir)
        except SiteBuildError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"site written to {path}")
