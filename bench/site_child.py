"""The sync process of the site benchmark: one warm process doing, on command, what
``catalog-server sync`` and ``catalog-server docs build`` do.

    python bench/site_child.py DATABASE_URL CATALOG_NAME CATALOG_PATH

Migrates the database, then reads commands from stdin, one a line, and answers each with
one JSON line on stdout:

    sync        scheduler.sync_one, then docs.store.update_site (the served site), timed apart
    full        update_site(full=True): the whole served site rebuilt
    export DIR  docs.build.build_site: the whole site written as static files into DIR
    quit
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    url, name, path = argv[:3]
    work = Path(os.environ.get("BENCH_WORK", "/tmp"))
    os.environ.update(CATALOG_DATABASE_URL=url, CATALOG_INSTANCE_DIR=str(work / "instance"),
                      CATALOG_CACHE_DIR=str(work / "cache"))  # fmt: skip

    from flask_migrate import upgrade

    from catalog_server.app import create_app
    from catalog_server.catalogs import CatalogSource
    from catalog_server.config import Settings
    from catalog_server.db import db
    from catalog_server.docs.build import build_site
    from catalog_server.docs.store import update_site
    from catalog_server.scheduler import sync_one

    settings = Settings.from_env()
    app = create_app(settings=settings)
    source = CatalogSource(name=name, url=path)
    with app.app_context():
        upgrade()
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            started = time.perf_counter()
            if command == "sync":
                summary = sync_one(db.session, settings, source)
                synced = time.perf_counter()
                update = update_site(db.session, settings.cache_dir)
                result = {
                    "sync_seconds": synced - started,
                    "site_seconds": time.perf_counter() - synced,
                    "status": summary.status,
                    "templates_total": summary.templates_total,
                    "reloaded": summary.templates_reloaded,
                    "templates_built": update.templates_built,
                    "home_built": update.home_built,
                    "errors": update.errors,
                }
            elif command == "full":
                update = update_site(db.session, settings.cache_dir, full=True)
                result = {
                    "seconds": time.perf_counter() - started,
                    "templates_built": update.templates_built,
                    "errors": update.errors,
                }
            elif command == "export":
                out = build_site(db.session, Path(arg))
                files = sum(1 for p in out.rglob("*") if p.is_file())
                result = {"seconds": time.perf_counter() - started, "files": files}
            else:
                return
            db.session.remove()
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
