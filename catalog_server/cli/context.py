"""What every command needs: the settings from the environment, and an app context."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from catalog_server.config import ConfigError, Settings

if TYPE_CHECKING:
    from flask import Flask


def settings_from_env() -> Settings:
    """The `CATALOG_*` settings; a bad value stops the command with its message."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def make_app(settings: Settings) -> Flask:
    """The Flask app for these settings (imported here: most commands never need Flask)."""
    from catalog_server.app import create_app

    return create_app(settings=settings)


@contextlib.contextmanager
def app_context(settings: Settings | None = None) -> Iterator[Flask]:
    """An app context for one command; its database connections are closed at the end."""
    from catalog_server.db import db as database

    app = make_app(settings or settings_from_env())
    with app.app_context():
        try:
            yield app
        finally:
            database.session.remove()
            database.engine.dispose()


def require_current_schema() -> None:
    """Stop the command, saying what to run, when the database schema is not current."""
    from catalog_server.schema import SchemaNotCurrent, check_current_schema

    try:
        check_current_schema()
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None
