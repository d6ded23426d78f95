"""The `catalog-server` command line."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click
from flask import Flask

from catalog_server.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _app(settings: Settings):
    from catalog_server.app import create_app

    return create_app(settings=settings)


@contextlib.contextmanager
def app_context(settings: Settings | None = None) -> Iterator[Flask]:
    """An app context for one command; its database connections are closed at the end."""
    from catalog_server.db import db as database

    app = _app(settings or _settings())
    with app.app_context():
        try:
            yield app
        finally:
            database.session.remove()
            database.engine.dispose()


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

    with app_context():
        upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision."""
    from catalog_server.schema import current_revision

    with app_context():
        click.echo(current_revision() or "empty (run `catalog-server db upgrade`)")


# --- sync -------------------------------------------------------------------------------


def _summary_line(s) -> str:
    short = (s.to_commit or "")[:12] or "folder"
    if s.status == "failed":
        return f"{s.catalog}: sync failed: {s.error} (the last good index is still served)"
    signed = f"; {s.signed} chart archives signed" if s.signed else ""
    if s.status == "up to date":
        return (
            f"{s.catalog}: up to date at {short}: {s.templates_total} templates, "
            f"{s.errors} errors, {s.warnings} warnings{signed}"
        )
    since = f"{(s.from_commit or '')[:12]} -> " if s.from_commit else ""
    return (
        f"{s.catalog}: indexed {since}{short} in {s.seconds:.1f}s: {s.templates_total} templates "
        f"served, {s.templates_reloaded} reloaded, {s.templates_removed} removed, "
        f"{s.templates_failed} failed to load; {s.errors} errors, {s.warnings} warnings "
        f"(see /api/v1/problems){signed}"
    )


@main.command()
@click.option("--catalog", "names", multiple=True, help="Only this catalog (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary object per line.")
@click.option("--force", is_flag=True, help="Reload every template even if the commit is indexed.")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running: sync each catalog every refresh_interval, at once on a refresh "
    "request (admin API, webhook), and retry failures with backoff.",
)
def sync(names: tuple[str, ...], as_json: bool, force: bool, watch: bool) -> None:
    """Index the catalogs (only what changed since the last sync).

    Catalogs come from the catalogs file (CATALOG_SOURCES; the bundled catalog without
    one) and from the admin API. Exits 1 when a catalog could not be fetched; its last
    good index stays served.
    """
    from catalog_server import scheduler
    from catalog_server.db import db as database
    from catalog_server.schema import require_current_schema
    from catalog_server.signing import SigningError, signer_from_settings

    settings = _settings()
    failed = False

    def report(summary) -> None:
        nonlocal failed
        failed |= summary.status == "failed"
        click.echo(json.dumps(summary.to_json()) if as_json else _summary_line(summary))
        if watch and summary.served_changed:
            _update_site(database.session, settings)

    with app_context(settings):
        require_current_schema()
        try:
            sources = scheduler.all_sources(database.session, settings)
            signer_from_settings(settings)  # a signing key that cannot be used stops here
        except (ConfigError, SigningError) as exc:
            raise click.ClickException(str(exc)) from None
        unknown = set(names) - {s.name for s in sources}
        if unknown:
            raise click.UsageError(f"no such catalog: {', '.join(sorted(unknown))}")
        if watch:
            click.echo(f"watching {', '.join(names) or 'every catalog'}; Ctrl-C stops", err=True)
            _update_site(database.session, settings)
            with contextlib.suppress(KeyboardInterrupt):
                scheduler.watch(
                    lambda: database.session,
                    settings,
                    names,
                    on_summary=report,
                    # Catches what no sync reports: a catalog removed over the admin API.
                    after_round=lambda: _update_site(database.session, settings),
                )
            return
        for source in sources:
            if names and source.name not in names:
                continue
            progress = None if as_json else _progress_printer(source.name)
            report(
                scheduler.sync_one(
                    database.session, settings, source, force=force, progress=progress
                )
            )
        # The site is generated from the index: its stale pages are rebuilt (all of them
        # when there is no site yet).
        update = _update_site(database.session, settings)
        if update.changed and not as_json:
            click.echo(_site_line(update))
    if failed:
        sys.exit(1)


def _update_site(session, settings: Settings):
    """Bring the stored web site up to date with the index. Its failures are logged, never
    fatal to the sync: the pages that could not be made keep their last good state."""
    from catalog_server.docs.store import update_site

    return update_site(session, settings.cache_dir)


def _site_line(update) -> str:
    docs = "project docs rebuilt, " if update.docs_built else ""
    home = ", home page rebuilt" if update.home_built else ""
    errors = f"; {len(update.errors)} could not be made (see the log)" if update.errors else ""
    return (
        f"web site: {docs}{update.templates_built} template(s) rebuilt, "
        f"{update.templates_removed} removed{home} in {update.seconds:.2f}s{errors}"
    )


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
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option(
    "--with-sync",
    is_flag=True,
    help="Also run `catalog-server sync --watch` beside the server, as one process group "
    "(the embedded default; in production run the sync process on its own).",
)
def run(host: str, port: int, workers: int, threads: int, with_sync: bool) -> None:
    """Serve the API and site with gunicorn (run `db upgrade` and `sync` first).

    Web workers never run git: catalogs are fetched by the sync process. Each request is
    read whole before a thread serves it, within CATALOG_HEADER_TIMEOUT and
    CATALOG_BODY_TIMEOUT, so slow clients cannot hold the threads.
    """
    import subprocess

    from gunicorn.app.base import BaseApplication

    settings = _settings()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "catalog_server.serving.BufferedThreadWorker")
            self.cfg.set("accesslog", "-")

        def load(self):
            return _app(settings)

    watcher = None
    if with_sync:
        watcher = subprocess.Popen([sys.executable, "-m", "catalog_server.cli", "sync", "--watch"])
    try:
        Server().run()
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)


# --- token ------------------------------------------------------------------------------


@main.group()
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


def _register_commands() -> None:
    from catalog_server.docs.cli import docs
    from catalog_server.lint import lint
    from catalog_server.render import render
    from catalog_server.scaffold import new
    from catalog_server.survey import survey

    main.add_command(docs)
    main.add_command(lint)
    main.add_command(new)
    main.add_command(render)
    main.add_command(survey)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
