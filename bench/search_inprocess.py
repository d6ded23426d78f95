"""The uncached searches of bench/search_bench.py, timed in process (no HTTP, no server).

    python bench/search_inprocess.py DATABASE_URL CATALOG [--rounds N] [--compare REV]
        [--extra "&kind=helm"] [--filtered]

Asks ``/api/v1/templates?q=...`` of the app through Flask's test client for each of the
400 seeded queries of ``search_bench.distinct_queries`` (with ``--filtered``, the 100 lists
filtered by Kubernetes and Rancher versions of ``search_bench.filtered_lists`` instead),
the answer cache emptied before each request, and prints the p50, p95 and max latency and
the slowest queries. The
database must hold the catalog already (bench/sync_child.py).

``--compare REV`` also times the search of the code at git revision REV in the same
process, query by query in alternating order (what a shared, noisy machine needs for an
A/B): ``catalog_server/queries.py`` and ``catalog_server/search.py`` of REV stand in for
the list, its facets and its highlights. Their answers must be the same as the current
code's: every answer that differs is counted, the first ones printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def _module_at(rev: str, path: str, name: str):
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    (folder / f"{name}.py").write_text(source)
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("catalog")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare")
    parser.add_argument("--extra", default="", help="appended to every query string")
    parser.add_argument("--filtered", action="store_true", help="version-filtered lists")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.environ.update(CATALOG_DATABASE_URL=args.url, CATALOG_INSTANCE_DIR=str(work),
                      CATALOG_CACHE_DIR=str(work / "cache"))  # fmt: skip
    sys.path.insert(0, str(BENCH))
    import catalog_gen
    import search_bench

    from catalog_server import queries, search
    from catalog_server.app import create_app
    from catalog_server.config import Settings
    from catalog_server.responsecache import ResponseCache

    variants = {"current": (queries.search_templates, queries.template_facets,
                            search.template_highlights)}  # fmt: skip
    if args.compare:
        old_search = _module_at(args.compare, "catalog_server/search.py", "compared_search")
        old = _module_at(args.compare, "catalog_server/queries.py", "compared_queries")
        old.search = old_search  # the name its functions look up when called
        variants[args.compare] = (old.search_templates, old.template_facets,
                                  old_search.template_highlights)  # fmt: skip

    app = create_app(settings=Settings.from_env())
    client = app.test_client()
    templates, page = [], 1
    while True:
        body = client.get(f"/api/v1/templates?catalog={args.catalog}&per_page=100&page={page}")
        templates += body.json["items"]
        if page * 100 >= body.json["total"]:
            break
        page += 1
    queries_asked = search_bench.distinct_queries(templates, catalog_gen.WORDS)
    paths = [f"/api/v1/templates?{urlencode({'q': q})}{args.extra}" for q in queries_asked]
    if args.filtered:
        paths = [path + args.extra for path in search_bench.filtered_lists(queries_asked)]
    times: dict[str, list[float]] = {name: [] for name in variants}
    by_path: dict[str, dict[str, list[float]]] = {}
    differ = 0
    names = list(variants)
    for r in range(args.rounds):
        for i, path in enumerate(paths):
            answers = {}
            for name in names if (i + r) % 2 == 0 else names[::-1]:
                queries.search_templates, queries.template_facets = variants[name][:2]
                search.template_highlights = variants[name][2]
                app.extensions["response_cache"] = ResponseCache()
                started = time.perf_counter()
                response = client.get(path)
                seconds = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.data[:300]!r}")
                answers[name] = response.json
                times[name].append(seconds)
                by_path.setdefault(path, {}).setdefault(name, []).append(seconds)
            if len(answers) > 1 and answers[names[0]] != answers[names[1]]:
                differ += 1
                if differ <= 3:
                    print(f"differs: {path}")
                    for name in names:
                        print(f"  {name}: {json.dumps(answers[name])[:400]}")
    print(f"{len(paths)} distinct queries x {args.rounds} round(s), catalog {args.catalog}")
    for name in names:
        print(f"  {name}: {_percentiles(times[name])}")
    if len(names) > 1:
        print(f"  answers that differ: {differ} of {len(paths) * args.rounds}")
    print("slowest (median per query, ms):")
    slowest = sorted(by_path.items(), key=lambda kv: -max(map(statistics.median, kv[1].values())))
    for path, got in slowest[:10]:
        cells = ", ".join(f"{n} {statistics.median(got[n]) * 1000:.1f}" for n in names)
        print(f"  {path.removeprefix('/api/v1/templates?')}: {cells}")


if __name__ == "__main__":
    main()
