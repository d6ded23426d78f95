"""One timed sync in a fresh process, through the server's own path (scheduler.sync_one).

    python bench/sync_child.py DATABASE_URL CATALOG_NAME CATALOG_PATH [--index] [--profile OUT]

Migrates the database if needed (not timed), syncs the catalog (timed) and, with
``--index``, serves ``/helm/<catalog>/index.yaml`` once through the app (timed apart).
Prints one JSON object: seconds, index_seconds, status, counts, maxrss_kb of this process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    url, name, path = argv[:3]
    index = "--index" in argv
    profile = argv[argv.index("--profile") + 1] if "--profile" in argv else None
    work = Path(os.environ.get("BENCH_WORK", "/tmp"))
    os.environ.update(CATALOG_DATABASE_URL=url, CATALOG_INSTANCE_DIR=str(work / "instance"),
                      CATALOG_CACHE_DIR=str(work / "cache"))  # fmt: skip

    from flask_migrate import upgrade

    from catalog_server.app import create_app
    from catalog_server.catalogs import CatalogSource
    from catalog_server.config import Settings
    from catalog_server.db import db
    from catalog_server.scheduler import sync_one

    settings = Settings.from_env()
    app = create_app(settings=settings)
    result: dict = {}
    with app.app_context():
        upgrade()
        source = CatalogSource(name=name, url=path)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        summary = sync_one(db.session, settings, source)
        result["seconds"] = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        seconds = result["seconds"]
        result.update(summary.to_json())
        result["seconds"] = seconds  # the whole sync_one call, not the summary's own clock
        db.session.remove()
    if index:
        client = app.test_client()
        started = time.perf_counter()
        response = client.get(f"/helm/{name}/index.yaml")
        result["index_seconds"] = time.perf_counter() - started
        result["index_status"] = response.status_code
        result["index_bytes"] = len(response.data)
        result["index_entries"] = response.data.count(b"\n    digest: ")
        # The render alone: the index built again from the database (helm.build_index,
        # what a GET does on a cache miss), several times.
        from catalog_server.api import helm as helm_api

        repeat = int(argv[argv.index("--render-repeat") + 1]) if "--render-repeat" in argv else 0
        result["render_seconds"] = []
        for _ in range(repeat):
            with app.app_context():
                started = time.perf_counter()
                helm_api.build_index(name)
                result["render_seconds"].append(time.perf_counter() - started)
                db.session.remove()
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
