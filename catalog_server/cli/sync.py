"""`catalog-server sync`: index the catalogs, once or for as long as it runs."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from catalog_server.cli.context import app_context, require_current_schema, settings_from_env
from catalog_server.config import ConfigError, Settings


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


@click.command()
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
    one) and from the admin API, with their pull-request previews; previews past
    CATALOG_PREVIEW_TTL are removed first. Exits 1 when a catalog could not be fetched; its last
    good index stays served.
    """
    from catalog_server import scheduler
    from catalog_server.db import db as database
    from catalog_server.signing import SigningError, signer_from_settings

    settings = settings_from_env()
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
            scheduler.expire_previews(database.session, settings)
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
