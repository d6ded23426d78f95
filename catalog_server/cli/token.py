"""`catalog-server token`: admin API tokens."""

from __future__ import annotations

import click

from catalog_server.cli.context import app_context


@click.group()
def token() -> None:
    """Manage admin API tokens (stored hashed; shown once when created)."""


@token.command("create")
@click.argument("name")
def token_create(name: str) -> None:
    """Create a token and print it (the only time it is shown)."""
    from catalog_server.auth import TokenError, create_token
    from catalog_server.db import db as database

    with app_context():
        try:
            click.echo(create_token(database.session, name))
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None


@token.command("list")
def token_list() -> None:
    """List tokens: name, created, last used, revoked."""
    from catalog_server.auth import list_tokens
    from catalog_server.db import db as database

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    with app_context():
        rows = list_tokens(database.session)
        click.echo(f"{'NAME':<24} {'CREATED':<17} {'LAST USED':<17} REVOKED")
        for row in rows:
            click.echo(
                f"{row.name:<24} {when(row.created_at):<17} {when(row.last_used_at):<17} "
                f"{when(row.revoked_at)}"
            )


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    from catalog_server.auth import TokenError, revoke_token
    from catalog_server.db import db as database

    with app_context():
        try:
            revoke_token(database.session, name)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {name}")
