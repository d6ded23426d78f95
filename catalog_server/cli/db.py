"""`catalog-server db`: the database schema (Alembic migrations)."""

from __future__ import annotations

import click

from catalog_server.cli.context import app_context


@click.group()
def db() -> None:
    """Manage the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema to the newest revision."""
    from flask_migrate import upgrade

    with app_context():
        upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision."""
    from catalog_server.schema import current_revision

    with app_context():
        click.echo(current_revision() or "empty (run `catalog-server db upgrade`)")
