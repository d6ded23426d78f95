"""`catalog-server run`: serve the API and the site with gunicorn."""

from __future__ import annotations

import sys

import click

from catalog_server.cli.context import make_app, settings_from_env


@click.command()
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

    settings = settings_from_env()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "catalog_server.serving.BufferedThreadWorker")
            self.cfg.set("accesslog", "-")

        def load(self):
            return make_app(settings)

    watcher = None
    if with_sync:
        watcher = subprocess.Popen([sys.executable, "-m", "catalog_server.cli", "sync", "--watch"])
    try:
        Server().run()
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
