"""Web site figures for `make bench` (issue #13): the full site build of the large catalog,
and the time from a commit that changes one template to its changed page being served.

    .venv/bin/python bench/run.py --only site        (or: make bench BENCH_ARGS="--only site")

On a fresh SQLite database: one warm sync process (bench/site_child.py) indexes the large
catalog and builds the served site; then it rebuilds the whole served site (`full`) and
writes the static export (`catalog-server docs build --out`), each timed. A web server
(`catalog-server run --workers 2`, default settings, so `CATALOG_STATE_TTL` is 0.25 s) serves
the site. Each incremental run commits a change to one compose template (its description,
which its page shows), tells the sync process to sync, and polls the template's page every
20 ms until the page served carries the change: the figure is the time from the commit to
that answer, and so includes the sync, the site update and the web process noticing the new
site (within `CATALOG_STATE_TTL`). The machine's load average is recorded with the figures:
the machine is shared, and a busy one stretches every figure.

:func:`measure` returns its figures and targets; run.py adds them to the report.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
INCREMENTAL_RUNS = int(os.environ.get("BENCH_SITE_RUNS", "5"))
POLL_SECONDS = 0.02
SERVED_DEADLINE = 60.0  # a run that takes longer than this is a failure, not a figure
FIRST_RUN = 101  # change numbers of the runs (bench/catalog_gen.change_one_template)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _SyncProcess:
    """bench/site_child.py, driven line by line."""

    def __init__(self, db: Path, name: str, repo: Path, work: Path):
        env = dict(os.environ, BENCH_WORK=str(work))
        self.proc = subprocess.Popen(
            [PYTHON, str(BENCH / "site_child.py"), f"sqlite:///{db}", name, str(repo)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the site benchmark's sync process ended; see its output above")
        return json.loads(line)

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str) -> dict:
        self.send(command)
        return self._read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            self.proc.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _start_server(port: int, env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(
        [str(BIN / "catalog-server"), "run", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web server exited: see {log_path}")
        try:
            if _get(port, "/")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    _stop(proc)
    raise RuntimeError(f"the web server on {port} did not serve the site")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _changed_template(repo: Path, n: int) -> str:
    # The folder catalog_gen.change_one_template(repo, n) changes (same choice).
    templates = sorted(p for p in (repo / "templates").iterdir() if p.is_dir())
    return templates[(n * 37) % len(templates)].name


def measure(out: Path, repo: Path, change_one_template) -> tuple[dict, list[tuple[str, str, bool]]]:
    """Measure the site figures on the catalog repository ``repo`` (the large one, at its
    generated commit); ``change_one_template(repo, n)`` commits run n's change. Returns
    (figures, [(target, measured, passed)])."""
    work = out / "work" / "site"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "site.db"
    _log("[site] cold sync of the large catalog and first build of the served site")
    child = _SyncProcess(db, "large", repo, work)
    server = None
    try:
        cold = child.ask("sync")
        _log(f"    cold sync {cold['sync_seconds']:.1f}s ({cold['templates_total']} templates), "
             f"first site build {cold['site_seconds']:.1f}s")  # fmt: skip
        full = child.ask("full")
        _log(f"    full rebuild of the served site: {full['seconds']:.1f}s "
             f"({full['templates_built']} templates)")  # fmt: skip
        export = child.ask(f"export {work / 'export'}")
        _log(f"    static export (docs build --out): {export['seconds']:.1f}s "
             f"({export['files']} files)")  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
        env.update(CATALOG_DATABASE_URL=f"sqlite:///{db}",
                   CATALOG_INSTANCE_DIR=str(work / "web-instance"))  # fmt: skip
        port = _free_port()
        server = _start_server(port, env, work / "web.log")
        runs = []
        _log(f"[site] commit -> changed page served ({INCREMENTAL_RUNS} runs)")
        for n in range(FIRST_RUN, FIRST_RUN + INCREMENTAL_RUNS):
            page = f"/catalogs/large/{_changed_template(repo, n)}/"
            marker = f"(rev {n})".encode()
            status, body = _get(port, page)
            if status != 200 or marker in body:
                raise RuntimeError(f"{page} before the change: {status}")
            change_one_template(repo, n)
            started = time.perf_counter()
            child.send("sync")
            served = None
            while time.perf_counter() - started < SERVED_DEADLINE:
                status, body = _get(port, page)
                if status == 200 and marker in body:
                    served = time.perf_counter() - started
                    break
                time.sleep(POLL_SECONDS)
            timings = child._read()
            if served is None or timings["reloaded"] != 1 or timings["templates_built"] != 1:
                raise RuntimeError(f"run {n}: served {served}, sync {timings}")
            runs.append({"served_seconds": served, **timings})
            _log(f"    run {n}: served after {served:.2f}s (sync {timings['sync_seconds']:.2f}s"
                 f" + site {timings['site_seconds']:.2f}s)")  # fmt: skip
    finally:
        if server is not None:
            _stop(server)
        child.stop()
    served = statistics.median(r["served_seconds"] for r in runs)
    figures = {
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "templates": cold["templates_total"],
        "cold_sync_seconds": cold["sync_seconds"],
        "first_site_build_seconds": cold["site_seconds"],
        "full_build_seconds": full["seconds"],
        "export_seconds": export["seconds"],
        "export_files": export["files"],
        "runs": runs,
        "served_seconds": served,
        "sync_seconds": statistics.median(r["sync_seconds"] for r in runs),
        "site_update_seconds": statistics.median(r["site_seconds"] for r in runs),
        "ratio": served / full["seconds"],
    }
    verdicts = [
        ("site: commit -> changed page served <= 5% of the full site build",
         f"{served:.2f}s / {full['seconds']:.1f}s = {100 * served / full['seconds']:.1f}%",
         served <= 0.05 * full["seconds"]),
        ("site: commit -> changed page served <= 2 s", f"{served:.2f}s", served <= 2.0),
    ]  # fmt: skip
    return figures, verdicts


def report_lines(s: dict) -> list[str]:
    """The site figures as Markdown table rows for the report."""
    n = len(s["runs"])
    return [
        "",
        f"Web site, large catalog ({s['templates']} templates), SQLite, one warm sync process, "
        "`catalog-server run --workers 2` with default settings; load average at the end "
        f"{' '.join(s['load_average'])}:",
        "",
        "| measurement | figure | runs |",
        "| --- | --- | --- |",
        f"| full build of the served site (every page, into the database) "
        f"| {s['full_build_seconds']:.1f} s | 1 |",
        f"| static export (`docs build --out`, {s['export_files']} files) "
        f"| {s['export_seconds']:.1f} s | 1 |",
        f"| commit of one template -> its changed page served | {s['served_seconds']:.2f} s "
        f"({100 * s['ratio']:.1f}% of the full build) | median of {n} |",
        f"| of which: incremental sync | {s['sync_seconds']:.2f} s | median of {n} |",
        f"| of which: site update (the template's pages, home page, search index) "
        f"| {s['site_update_seconds']:.2f} s | median of {n} |",
    ]
