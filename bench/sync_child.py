"""One timed sync in a fresh process, through the server's own path (scheduler.sync_one).

    python bench/sync_child.py DATABASE_URL CATALOG_NAME CATALOG_PATH [--index] [--profile OUT]
        [--watch-index ENTRIES]

Migrates the database if needed (not timed), syncs the catalog (timed) and, with
``--index``, serves ``/helm/<catalog>/index.yaml`` once through the app (timed apart).
With ``--watch-index``, another process (a reader, as a web worker is) asks for the
catalog's index.yaml every 20 ms from before the sync starts: ``served_seconds`` is the
time from the start of the sync to the first answer listing ENTRIES chart versions.
Prints one JSON object: seconds, index_seconds, status, counts, maxrss_kb of this process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
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
        watcher = None
        if "--watch-index" in argv:
            entries = argv[argv.index("--watch-index") + 1]
            watcher = subprocess.Popen(
                [sys.executable, __file__, "--watcher", name, entries],
                stdout=subprocess.PIPE, text=True, env=os.environ,
            )  # fmt: skip
            if watcher.stdout.readline().strip() != "ready":
                raise SystemExit("the index watcher did not start")
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
        if watcher is not None:
            seen = float(watcher.communicate(timeout=600)[0].strip())
            result["served_seconds"] = seen - started
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
    # The largest of its child processes (chart packaging workers, Helm SDK workers, the
    # index watcher): each forked worker shares most of its pages with this process.
    result["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(result))


def watch(name: str, entries: int) -> None:
    """Ask for the index every 20 ms until it lists ``entries`` versions; print the time."""
    from catalog_server.app import create_app
    from catalog_server.config import Settings

    client = create_app(settings=Settings.from_env()).test_client()
    client.get(f"/helm/{name}/index.yaml")  # the first request's own set-up, not timed
    print("ready", flush=True)
    while True:
        response = client.get(f"/helm/{name}/index.yaml")
        if response.status_code == 200 and response.data.count(b"\n    digest: ") >= entries:
            print(time.perf_counter(), flush=True)
            return
        time.sleep(0.02)


if __name__ == "__main__":
    if sys.argv[1] == "--watcher":
        watch(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1:])
