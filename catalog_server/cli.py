"""The `catalog-server` command line."""

from __future__ import annotations

import json
import sys

import click

from catalog_server.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _app(settings: Settings):
    from catalog_server.app import create_app

    return create_app(settings=settings)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="catalog-server")
def main() -> None:
    """Index git catalogs of compose templates and Helm charts, and serve them.

    Settings come from CATALOG_* environment variables (see the README).
    """


# --- db ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Manage the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema to the newest revision."""
    from flask_migrate import upgrade

    app = _app(_settings())
    with app.app_context():
        upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision."""
    from catalog_server.schema import current_revision

    app = _app(_settings())
    with app.app_context():
        click.echo(current_revision() or "empty (run `catalog-server db upgrade`)")


# --- sync -------------------------------------------------------------------------------


def _summary_line(s) -> str:
    short = (s.to_commit or "")[:12] or "folder"
    if s.status == "failed":
        return f"{s.catalog}: sync failed: {s.error} (the last good index is still served)"
    if s.status == "up to date":
        return (
            f"{s.catalog}: up to date at {short}: {s.templates_total} templates, "
            f"{s.errors} errors, {s.warnings} warnings"
        )
    since = f"{(s.from_commit or '')[:12]} -> " if s.from_commit else ""
    return (
        f"{s.catalog}: indexed {since}{short} in {s.seconds:.1f}s: {s.templates_total} templates "
        f"served, {s.templates_reloaded} reloaded, {s.templates_removed} removed, "
        f"{s.templates_failed} failed to load; {s.errors} errors, {s.warnings} warnings "
        "(see /api/v1/problems)"
    )


@main.command()
@click.option("--catalog", "names", multiple=True, help="Only this catalog (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary object per line.")
@click.option("--force", is_flag=True, help="Reload every template even if the commit is indexed.")
def sync(names: tuple[str, ...], as_json: bool, force: bool) -> None:
    """Index the configured catalogs (only what changed since the last sync).

    Exits 1 when a catalog could not be fetched; its last good index stays served.
    """
    from catalog_server.catalogs import configured_sources
    from catalog_server.db import db as database
    from catalog_server.indexer import sync_catalog
    from catalog_server.schema import require_current_schema
    from catalog_server.validation import catalog_problems, server_validators

    settings = _settings()
    try:
        sources = configured_sources(settings.sources_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    unknown = set(names) - {s.name for s in sources}
    if unknown:
        raise click.UsageError(f"no such catalog: {', '.join(sorted(unknown))}")
    selected = [s for s in sources if not names or s.name in names]
    app = _app(settings)
    failed = False
    with app.app_context():
        require_current_schema()
        for source in selected:
            summary = sync_catalog(
                database.session,
                source,
                cache_dir=settings.cache_dir,
                git_timeout=settings.git_timeout,
                force=force,
                validators=server_validators(),
                catalog_checks=[catalog_problems],
                progress=None if as_json else _progress_printer(source.name),
            )
            failed |= summary.status == "failed"
            if as_json:
                click.echo(json.dumps(summary.to_json()))
            else:
                click.echo(_summary_line(summary))
    if failed:
        sys.exit(1)


def _progress_printer(name: str):
    """A one-line progress bar on a terminal; nothing when output is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, template: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r{name} [{bar}] {done}/{total} {template[:40]:<40}{end}")
        sys.stderr.flush()

    return show


# --- run --------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers.")
def run(host: str, port: int, workers: int) -> None:
    """Serve the API and site with gunicorn (run `db upgrade` and `sync` first)."""
    from gunicorn.app.base import BaseApplication

    settings = _settings()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self):
            return _app(settings)

    Server().run()


from catalog_server.render import render  # noqa: E402

main.add_command(render)


def _register_commands() -> None:
    from catalog_server.lint import lint
    from catalog_server.scaffold import new

    main.add_command(lint)
    main.add_command(new)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
