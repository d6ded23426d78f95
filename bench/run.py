"""`make bench`: the catalog server's performance figures and their targets (issue #8).

    .venv/bin/python bench/run.py [--quick] [--only site | helm | http | search [--size huge]]
    BENCH_PG_URL=postgresql://... (a database the bench may wipe): PostgreSQL as well

Generates (once, cached under bench/out/) synthetic git catalogs, then measures:

1. cold sync of the large catalog (scheduler.sync_one on SQLite, in a fresh process) and
   the floor: reading every file and parsing every YAML file with PyYAML's C loader;
2. incremental sync after a commit that changes one template;
3. Helm: commit -> served index.yaml against `helm repo index` (the Helm v4 SDK) over the
   same chart versions, already packaged: the cold sync of a Helm-only catalog with a reader
   (another process) asking for its index.yaml every 20 ms, timed from the start of the
   sync to the first answer that lists every chart version (the sync publishes its charts
   ahead of the rest of its work); the whole sync and a first GET after it beside;
4. HTTP throughput and latency under gunicorn (`catalog-server run --workers 2`) with wrk,
   against a trivial Flask endpoint under the same gunicorn settings, each run of an endpoint
   right after one of the trivial endpoint (ratios of neighbouring runs), every run with
   both workers serving (a run whose connections all landed on one worker is run again);
5. manifest rendering latency (POST .../manifest), compose and Helm;
6. peak memory: server workers (RSS after the load runs) and the cold sync process;
7. every response of the load runs counted; an answer of status 400 or more is a failure;
8. the web site (bench/site_bench.py): the full build, and the time from a commit that
   changes one template to its changed page being served. `--only site` runs these alone.
9. uncached reads (bench/search_bench.py) on a fresh server: a fixed, seeded list of 400
   distinct searches, 100 distinct lists filtered by Kubernetes and Rancher versions,
   template and version details over distinct ids, manifests over distinct versions, with
   the answer cache's hit rate; and relevance: the rank of every template when searching
   its exact name, and a fixed list of queries expected in the top 5. On SQLite, and on
   PostgreSQL too with BENCH_PG_URL. `--only search` runs these alone after a cold sync;
   `--size huge` does so on the 100,000-version catalog (generated once, about 7 minutes),
   with its floor, incremental sync, index.yaml and memory figures.

Prints a table with the machine, date and commit, and PASS/FAIL per target. Writes the
same report to bench/out/report.md and the raw figures to bench/out/results.json.
Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
sys.path.insert(0, str(BENCH))

import catalog_gen  # noqa: E402
import search_bench  # noqa: E402
import site_bench  # noqa: E402

QUICK = "--quick" in sys.argv
# `--only site` runs the web site's figures alone (bench/site_bench.py); `--only search`
# the uncached reads and relevance (bench/search_bench.py) after a cold sync; `--only helm`
# the Helm chart repository's figures (commit -> served index.yaml against helm repo index);
# `--only http` the load runs (after a cold sync of the large catalog).
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
ONLY_SITE = ONLY == "site"
# PostgreSQL for the uncached reads too: a database that the bench may wipe.
PG_URL = os.environ.get("BENCH_PG_URL")
# `--size huge`: the catalog of the sync and uncached-read figures (default large).
SIZE = sys.argv[sys.argv.index("--size") + 1] if "--size" in sys.argv else "large"
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "1" if QUICK else "2"))
FLOOR_RUNS = 3
INCREMENTAL_RUNS = 3
HELM_SYNC_RUNS = 3
HELM_COMMIT_RUNS = 3  # one chart version changed, then synced and served
RENDER_RUNS = 5
LOAD_RUNS = 1 if QUICK else 3
LOAD_SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "3"))
LOAD_CONNECTIONS = 2  # one per gunicorn worker: latency is service time, not queueing
# wrk opens its connections at once and keeps them; on two cores the worker that wakes
# first often accepts them all, and the run then measures one worker of two. A run in which
# a worker did less than this share of the workers' CPU work is stopped and started again.
MIN_WORKER_SHARE = 0.2
PLACEMENT_PROBE = 0.3  # seconds into a run when its placement is read
PLACEMENT_TRIES = 20
MIN_PROBE_TICKS = 5  # CPU ticks (1/100 s) of the workers in a probe: below, no verdict
MANIFEST_RUNS = 20
ANSWERED, REFUSED = "status < 400", "status >= 400"  # how load runs count answers
WORKERS = 2

results: dict = {}
verdicts: list[tuple[str, str, bool]] = []  # (target, measured, passed)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def target(name: str, measured: str, passed: bool) -> None:
    verdicts.append((name, measured, passed))
    log(f"  {'PASS' if passed else 'FAIL'}  {name}: {measured}")


# --- machine -------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                            "--", "catalog_server"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (catalog_server has uncommitted changes)" if dirty else ""),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


# --- syncs ---------------------------------------------------------------------------------


def child_sync(db: Path | str, name: str, repo: Path, *extra: str) -> dict:
    """One sync in a fresh process (bench/sync_child.py); its JSON result. ``db``: a
    SQLite file, or a database URL."""
    env = dict(os.environ, BENCH_WORK=str(OUT / "work"))
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    done = subprocess.run(
        [PYTHON, str(BENCH / "sync_child.py"), url, name, str(repo), *extra],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"sync of {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("status") == "failed":
        raise RuntimeError(f"sync of {name} failed: {result.get('error')}")
    return result


def fresh_db(name: str) -> Path:
    db = OUT / "work" / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def floor(root: Path) -> tuple[float, int, int, int]:
    """Read every file of the catalog's checkout and parse every YAML file (not the Go
    templates under a chart's templates/) with PyYAML's C loader. (seconds, files, yaml
    files, bytes)."""
    import yaml

    started = time.perf_counter()
    files = parsed = size = 0
    for folder, dirs, names in os.walk(root):
        if ".git" in dirs:
            dirs.remove(".git")
        rel_folder = os.path.relpath(folder, root)
        chart_templates = rel_folder.startswith("charts/") and "/templates" in rel_folder
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                data = fh.read()
            files += 1
            size += len(data)
            if name.endswith((".yml", ".yaml")) and not chart_templates:
                yaml.load(data, Loader=yaml.CSafeLoader)
                parsed += 1
    return time.perf_counter() - started, files, parsed, size


def measure_syncs(large: Path) -> Path:
    log(f"[1] cold sync of the large catalog ({COLD_RUNS} run(s), ~70 s each) and the floor")
    cold = []
    for i in range(COLD_RUNS):
        db = fresh_db("large")
        r = child_sync(db, "large", large)
        cold.append(r)
        log(f"    cold sync {i + 1}: {r['seconds']:.1f}s, {r['templates_total']} templates, "
            f"{r['errors']} errors, {r['warnings']} warnings, "
            f"maxrss {r['maxrss_kb'] // 1024} MiB")  # fmt: skip
    floors = [floor(large) for _ in range(FLOOR_RUNS)]
    cold_s = statistics.median(r["seconds"] for r in cold)
    floor_s = statistics.median(f[0] for f in floors)
    _, files, parsed, size = floors[0]
    results["cold_sync"] = {
        "runs": [r["seconds"] for r in cold], "seconds": cold_s,
        "templates": cold[-1]["templates_total"], "errors": cold[-1]["errors"],
        "warnings": cold[-1]["warnings"], "maxrss_mib": max(r["maxrss_kb"] for r in cold) / 1024,
        "floor_runs": [f[0] for f in floors], "floor_seconds": floor_s, "files": files,
        "yaml_files": parsed, "bytes": size, "ratio": cold_s / floor_s,
    }  # fmt: skip
    log(f"    floor: {floor_s:.2f}s ({files} files, {parsed} YAML, {size / 1e6:.0f} MB)")
    target("cold sync <= 3x floor", f"{cold_s:.1f}s / {floor_s:.2f}s = {cold_s / floor_s:.1f}x",
           cold_s <= 3 * floor_s)  # fmt: skip

    log(f"[2] incremental sync after one changed template ({INCREMENTAL_RUNS} runs)")
    incr = []
    for n in range(1, INCREMENTAL_RUNS + 1):
        catalog_gen.change_one_template(large, n)
        r = child_sync(db, "large", large)
        if r["templates_reloaded"] != 1:
            raise RuntimeError(f"incremental sync reloaded {r['templates_reloaded']} templates")
        incr.append(r["seconds"])
    incr_s = statistics.median(incr)
    results["incremental_sync"] = {"runs": incr, "seconds": incr_s, "ratio": incr_s / cold_s}
    target("incremental sync <= 5% of cold", f"{incr_s:.2f}s = {100 * incr_s / cold_s:.1f}%",
           incr_s <= 0.05 * cold_s)  # fmt: skip
    results["memory"] = {"sync_maxrss_mib": results["cold_sync"]["maxrss_mib"]}
    return db


def measure_huge_syncs(db: Path, repo: Path, cold: dict) -> None:
    """The floor, one incremental sync, and their targets, for the huge catalog."""
    floor_s, files, parsed, size = floor(repo)
    log(f"    floor: {floor_s:.1f}s ({files} files, {parsed} YAML, {size / 1e6:.0f} MB)")
    catalog_gen.change_one_template(repo, 1)
    incr = child_sync(db, "huge", repo)
    if incr["templates_reloaded"] != 1:
        raise RuntimeError(f"incremental sync reloaded {incr['templates_reloaded']} templates")
    cold_s, incr_s = cold["seconds"], incr["seconds"]
    results["cold_sync"].update(floor_seconds=floor_s, files=files, bytes=size,
                                incremental_seconds=incr_s)  # fmt: skip
    target("huge: cold sync <= 3x floor", f"{cold_s:.0f}s / {floor_s:.1f}s = "
           f"{cold_s / floor_s:.1f}x", cold_s <= 3 * floor_s)  # fmt: skip
    target("huge: incremental sync <= 2% of cold", f"{incr_s:.2f}s = "
           f"{100 * incr_s / cold_s:.1f}%", incr_s <= 0.02 * cold_s)  # fmt: skip
    peak = cold["maxrss_kb"] / 1024
    target("huge: sync peak <= 2 GB", f"{peak:.0f} MiB", peak <= 2048)


def measure_helm(helm_repo: Path) -> None:
    from catalog_server import helmsdk

    packages, count = catalog_gen.packaged(OUT, "large")
    log(f"[3] Helm index over {count} chart versions: ours and helm repo index, "
        f"{HELM_SYNC_RUNS} runs each, taken in turn")  # fmt: skip

    def helm_repo_index() -> float:
        (packages / "index.yaml").unlink(missing_ok=True)
        started = time.perf_counter()
        helmsdk.repo_index_generate(packages, "http://127.0.0.1/charts")
        seconds = time.perf_counter() - started
        (packages / "index.yaml").unlink(missing_ok=True)
        return seconds

    # One of ours, then one of Helm's, and again: a change of the machine's load between
    # them weighs on both alike.
    ours, theirs = [], []
    for _ in range(HELM_SYNC_RUNS):
        db = fresh_db("helm-large")
        r = child_sync(db, "helm-large", helm_repo, "--index", "--watch-index", str(count),
                       "--render-repeat", str(RENDER_RUNS))  # fmt: skip
        if r["index_status"] != 200 or r["index_entries"] != count:
            raise RuntimeError(f"index.yaml: {r['index_status']}, {r['index_entries']} entries")
        ours.append(r)
        if helmsdk.available():
            theirs.append(helm_repo_index())
    sync_s = statistics.median(r["seconds"] for r in ours)
    served_s = statistics.median(r["served_seconds"] for r in ours)
    first_get_s = statistics.median(r["index_seconds"] for r in ours)
    render_s = statistics.median(s for r in ours for s in r["render_seconds"])
    helm_s = statistics.median(theirs) if theirs else float("nan")
    total = sync_s + first_get_s
    results["helm_index"] = {
        "chart_versions": count, "sync_seconds": sync_s, "first_get_seconds": first_get_s,
        "served_runs": [r["served_seconds"] for r in ours], "served_seconds": served_s,
        "ours_seconds": total, "render_seconds": render_s, "helm_runs": theirs,
        "helm_seconds": helm_s, "ratio": served_s / helm_s, "render_ratio": render_s / helm_s,
        "whole_ratio": total / helm_s, "index_bytes": ours[0]["index_bytes"],
    }  # fmt: skip
    target("Helm: commit -> served index.yaml faster than helm repo index",
           f"{served_s:.2f}s (median of {len(ours)}; whole sync {sync_s:.1f}s) / "
           f"{helm_s:.2f}s = {served_s / helm_s:.2f}", served_s < helm_s)  # fmt: skip
    log(f"    index render alone: {render_s * 1000:.0f} ms ({render_s / helm_s:.3f}x Helm's)")
    # The same catalog once served: a commit that changes one chart version, to its
    # served index (what a hand-kept repository does is `helm repo index` again).
    commits = []
    for n in range(1, HELM_COMMIT_RUNS + 1):
        catalog_gen.change_one_chart(helm_repo, n)
        r = child_sync(db, "helm-large", helm_repo, "--index")
        if r["templates_reloaded"] != 1 or r["index_status"] != 200:
            raise RuntimeError(f"one-chart sync: {r['templates_reloaded']} reloaded, "
                               f"index {r['index_status']}")  # fmt: skip
        commits.append(r["seconds"] + r["index_seconds"])
    commit_s = statistics.median(commits)
    results["helm_index"].update(commit_runs=commits, commit_seconds=commit_s)
    log(f"    one chart changed -> served index.yaml: {commit_s:.2f}s (median of "
        f"{len(commits)}), {commit_s / helm_s:.2f}x helm repo index")  # fmt: skip


# --- HTTP ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server in its own process group, stopped on exit."""

    def __init__(self, args: list[str], port: int, env: dict, ready_path: str):
        self.port = port
        self.log = open(OUT / "work" / f"server-{port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log.name}")
            try:
                status, _, _ = request(port, "GET", ready_path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server on {port} did not become ready")

    def worker_pids(self) -> list[int]:
        pids = []
        for pid in os.listdir("/proc"):
            if pid.isdigit() and _proc_stat(int(pid))[1:2] == [str(self.proc.pid)]:
                pids.append(int(pid))
        return sorted(pids)

    def worker_rss_mib(self) -> list[float]:
        rss = []
        for pid in self.worker_pids():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            rss.append(int(line.split()[1]) / 1024)
            except (OSError, ValueError, IndexError):
                continue
        return rss

    def worker_cpu_ticks(self) -> dict[int, int]:
        """Each worker's CPU time so far (user + system, every thread), in clock ticks."""
        ticks = {}
        for pid in self.worker_pids():
            fields = _proc_stat(pid)
            if len(fields) > 12:
                ticks[pid] = int(fields[11]) + int(fields[12])
        return ticks

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...); [] when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def wrk(port: int, paths: list[str], seconds: int, headers: dict | None = None,
        placed: Server | None = None) -> dict:  # fmt: skip
    """One wrk run. With ``placed`` (the server's workers), the run is stopped after
    PLACEMENT_PROBE seconds when a worker did under MIN_WORKER_SHARE of the workers' CPU
    work by then (``one_sided``), and ``worker_shares`` gives each worker's share over the
    whole run."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths) + "\n")
    env = dict(os.environ, BENCH_PATHS=fh.name,
               BENCH_HEADERS="|".join(f"{k}: {v}" for k, v in (headers or {}).items()))  # fmt: skip
    one_sided = False
    try:
        started = placed.worker_cpu_ticks() if placed else {}
        proc = subprocess.Popen(
            ["wrk", "-t1", f"-c{LOAD_CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
             "-s", str(BENCH / "wrk.lua"), f"http://127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        if placed:
            time.sleep(PLACEMENT_PROBE)
            one_sided = not _spread(started, placed.worker_cpu_ticks())
            if one_sided:
                proc.send_signal(signal.SIGINT)  # wrk stops and still reports what it saw
        try:
            out, err = proc.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    finally:
        os.unlink(fh.name)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{out}\n{err}")
    r = json.loads(line.split(" ", 1)[1])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    # wrk tells answers of status 400 or more from the rest (wrk.lua says why no more).
    r["statuses"] = {ANSWERED: r["requests"] - r["status_errors"]}
    if r["status_errors"]:
        r["statuses"][REFUSED] = r["status_errors"]
    if placed:
        used = _used(started, placed.worker_cpu_ticks())
        r["worker_shares"] = [u / max(sum(used), 1) for u in used]
        r["one_sided"] = one_sided
    return r


def _used(before: dict[int, int], after: dict[int, int]) -> list[int]:
    """Each worker's CPU ticks between two readings (workers present in both)."""
    return [after[pid] - ticks for pid, ticks in before.items() if pid in after]


def _spread(before: dict[int, int], after: dict[int, int]) -> bool:
    """Whether every worker did at least MIN_WORKER_SHARE of the CPU work between two
    readings of the workers' CPU ticks (too few ticks to tell count as spread)."""
    used = _used(before, after)
    if sum(used) < MIN_PROBE_TICKS:
        return True
    return len(used) == WORKERS and min(used) >= MIN_WORKER_SHARE * sum(used)


def spread_wrk(server: Server, paths: list[str], headers: dict | None = None) -> dict:
    """A wrk run of LOAD_SECONDS in which every worker of ``server`` served. A run whose
    connections all landed on one worker is stopped early (`wrk`) and started again, up to
    PLACEMENT_TRIES times; the run kept says how many were (``one_sided``), and ``tried``
    holds them all: their answers and failures are counted with it."""
    tried = []
    for _ in range(PLACEMENT_TRIES):
        run = wrk(server.port, paths, LOAD_SECONDS, headers, placed=server)
        tried.append(run)
        if not run["one_sided"]:
            break
    return dict(tried[-1], tried=tried, one_sided=sum(r["one_sided"] for r in tried),
                spread=not tried[-1]["one_sided"])  # fmt: skip


def load(server: Server, paths: list[str], headers: dict | None = None) -> dict:
    """Warm up, then LOAD_RUNS runs of LOAD_SECONDS; medians, and every status counted."""
    wrk(server.port, paths, 1, headers)  # warm-up: caches, connections
    return summary([spread_wrk(server, paths, headers) for _ in range(LOAD_RUNS)])


def summary(runs: list[dict]) -> dict:
    """Medians of the kept runs; answers, statuses and errors of every run tried."""
    every = [t for r in runs for t in r.get("tried", [r])]
    statuses: dict[str, int] = {}
    for r in every:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "bytes_per_answer": sum(r["bytes"] for r in runs)
        / max(sum(r["requests"] for r in runs), 1),
        "p50_ms": statistics.median(r["p50"] for r in runs) / 1000,
        "p95_ms": statistics.median(r["p95"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99"] for r in runs) / 1000,
        "requests": sum(r["requests"] for r in every),
        "statuses": statuses,
        "socket_errors": sum(r["socket_errors"] for r in every),
        "one_sided": sum(r.get("one_sided", 0) for r in runs),
        "spread": all(r.get("spread", True) for r in runs),
        "worker_shares": [[round(x, 2) for x in r.get("worker_shares", [])] for r in runs],
    }


def paired(base: Server, server: Server, paths: list[str], headers: dict) -> dict:
    """An endpoint's load runs, each right after a run of the trivial endpoint, so that
    each ratio is taken of two neighbouring runs (the machine's load drifts), and the
    median of those is the endpoint's ratio. Each run has every worker serving
    (`spread_wrk`): a run on one worker of two is no measure of either endpoint."""
    wrk(base.port, ["/"], 1, headers)
    wrk(server.port, paths, 1, headers)
    pairs = [
        (spread_wrk(base, ["/"], headers), spread_wrk(server, paths, headers))
        for _ in range(LOAD_RUNS)
    ]
    out = summary([run for _, run in pairs])
    base = summary([run for run, _ in pairs])
    out["ratio"] = statistics.median(run["rps"] / b["rps"] for b, run in pairs)
    out["baseline_rps"] = base["rps"]
    out["baseline"] = base
    return out


def server_env(db: Path | str, name: str = "large") -> dict:
    catalogs = OUT / "work" / "catalogs.yml"
    catalogs.write_text(f"catalogs:\n  - name: {name}\n    url: {OUT / name}\n")
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return dict(os.environ, CATALOG_DATABASE_URL=url,
                CATALOG_SOURCES=str(catalogs), CATALOG_INSTANCE_DIR=str(OUT / "work" / "instance"),
                CATALOG_CACHE_DIR=str(OUT / "work" / "cache"))  # fmt: skip


def measure_http(db: Path) -> None:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install -y wrk")
    log(f"[4] HTTP under gunicorn ({WORKERS} workers), wrk -c{LOAD_CONNECTIONS}, "
        f"{LOAD_RUNS} x {LOAD_SECONDS}s per endpoint after a 1 s warm-up")  # fmt: skip
    headers = {"Accept-Encoding": "gzip"}
    port = free_port()
    # The same worker class and threads as `catalog-server run`.
    base = Server([str(BIN / "gunicorn"), "--workers", str(WORKERS), "--threads", "4",
                   "--worker-class", "catalog_server.serving.BufferedThreadWorker", "--bind",
                   f"127.0.0.1:{port}", "--access-logfile", "-", "--chdir", str(BENCH),
                   "trivial_app:app"], port, dict(os.environ), "/")  # fmt: skip
    try:
        baseline = load(base, ["/"], headers)
        log(
            f"    baseline (trivial Flask): {baseline['rps']:.0f} req/s, "
            f"p50 {baseline['p50_ms']:.2f} ms"
        )
        port = free_port()
        server = Server([str(BIN / "catalog-server"), "run", "--host", "127.0.0.1", "--port",
                         str(port), "--workers", str(WORKERS)], port, server_env(db),
                        "/api/v1/readyz")  # fmt: skip
        try:
            runs = http_runs(base, server, headers)
            manifests = manifest_runs(port)
            rss = server.worker_rss_mib()
        finally:
            server.stop()
    finally:
        base.stop()
    results["http"] = {"baseline": baseline, **runs}
    results["manifest"] = manifests
    results["memory"]["worker_rss_mib"] = rss

    for name, r in runs.items():
        need = 0.8 if name == "revalidate (304)" else 0.5
        ratio = r["ratio"]
        target(f"{name}: >= {need:.0%} of trivial throughput",
               f"{r['rps']:.0f} req/s; {ratio:.0%} of the trivial endpoint's runs beside "
               f"them ({r['baseline_rps']:.0f} req/s; median of {LOAD_RUNS} pairs)",
               ratio >= need)  # fmt: skip
    search, version = runs["search"]["p95_ms"], runs["version detail"]["p95_ms"]
    target("search p95 < 20 ms", f"{search:.1f} ms", search < 20)
    target("version detail p95 < 10 ms", f"{version:.1f} ms", version < 10)
    worst = max(rss) if rss else float("nan")
    target("<= 300 MB resident per server worker", f"{worst:.0f} MiB (workers: "
           + ", ".join(f"{x:.0f}" for x in rss) + ")", bool(rss) and worst <= 300)  # fmt: skip
    bad = {name: {c: n for c, n in r["statuses"].items() if c != ANSWERED}
           for name, r in [("baseline", baseline), *runs.items()]}  # fmt: skip
    bad["manifest"] = {c: n for c, n in manifests["statuses"].items() if c != "200"}
    pairs = [r["baseline"] for r in runs.values()]
    for name, r in runs.items():
        bad[f"baseline beside {name}"] = {
            c: n for c, n in r["baseline"]["statuses"].items() if c != ANSWERED
        }
    failed = sum(n for codes in bad.values() for n in codes.values())
    sockets = sum(r["socket_errors"] for r in [baseline, *runs.values(), *pairs])
    total = sum(r["requests"] for r in [baseline, *runs.values(), *pairs])
    results["errors"] = {"failed": failed, "by_run": bad, "socket_errors": sockets,
                         "requests": total + manifests["requests"]}  # fmt: skip
    measured = [baseline, *runs.values(), *pairs]
    redone = sum(r["one_sided"] for r in measured)
    spread = all(r["spread"] for r in measured)
    results["placement"] = {"one_sided_runs_redone": redone, "every_run_spread": spread}
    target(f"every load run kept had each of the {WORKERS} workers serving",
           f"{'yes' if spread else 'NO'}; {redone} run(s) on one worker run again "
           f"(a worker under {MIN_WORKER_SHARE:.0%} of the workers' CPU)", spread)  # fmt: skip
    target("no failed request in the load runs",
           f"{failed} failed, {sockets} socket errors in {total + manifests['requests']} requests"
           + (f" {bad}" if failed else ""), failed == 0 and sockets == 0)  # fmt: skip


def http_runs(base: Server, server: Server, headers: dict) -> dict:
    port = server.port
    status, _, body = request(port, "GET", "/api/v1/templates?catalog=large&per_page=100")
    first = json.loads(body)
    slugs = [t["id"] if "id" in t else t["slug"] for t in first["items"]]
    total = first["total"]
    # Detail pages of templates spread over the whole catalog.
    status, _, body = request(port, "GET", "/api/v1/templates?catalog=large&per_page=100&page=13")
    slugs += [t["id"] if "id" in t else t["slug"] for t in json.loads(body)["items"]]
    details, versions = [], []
    for slug in slugs[:60]:
        status, _, body = request(port, "GET", f"/api/v1/templates/large/{slug}")
        detail = json.loads(body)
        details.append(f"/api/v1/templates/large/{slug}")
        versions += [f"/api/v1/templates/large/{slug}/versions/{v['version']}"
                     for v in detail["versions"]]  # fmt: skip
    words = catalog_gen.WORDS
    searches = [f"/api/v1/templates?q={w}" for w in words] + [
        f"/api/v1/templates?q={w}-{i:04d}" for i, w in enumerate(words)]  # fmt: skip
    lists = [f"/api/v1/templates?page={p}" for p in range(1, 21)]
    etag_path = details[0]
    _, got, _ = request(port, "GET", etag_path)
    etag = got.get("ETag") or got.get("Etag")
    status, _, _ = request(port, "GET", etag_path, headers={"If-None-Match": etag})
    if status != 304:  # the load run below counts answers, not their status
        raise RuntimeError(f"revalidating {etag_path} answered {status}, not 304")
    out = {}
    plan = [
        ("template list", lists, {}),
        ("search", searches, {}),
        ("template detail", details, {}),
        ("version detail", versions, {}),
        ("helm index.yaml", ["/helm/large/index.yaml"], {}),
        ("revalidate (304)", [etag_path], {"If-None-Match": etag}),
    ]
    for name, paths, extra in plan:
        out[name] = paired(base, server, paths, {**headers, **extra})
        r = out[name]
        log(f"    {name}: {r['rps']:.0f} req/s ({r['ratio']:.0%} of the trivial endpoint's "
            f"{r['baseline_rps']:.0f} beside it), p50 {r['p50_ms']:.2f} ms, p95 "
            f"{r['p95_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
            f"{r['bytes_per_answer']:.0f} bytes an answer, {r['statuses']}; workers' CPU "
            f"shares {r['worker_shares']}, {r['one_sided'] + r['baseline']['one_sided']} "
            "one-sided run(s) run again")  # fmt: skip
    results["catalog_size_served"] = total
    return out


def wipe_postgres(url: str) -> None:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for table in inspect(conn).get_table_names():
            conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()


def measure_uncached(db: Path | str, label: str, name: str = "large") -> None:
    """search_bench on a fresh server over ``db``: uncached reads and relevance."""
    limit = 50 if name == "huge" else 20
    log(f"[search] {label}: {search_bench.SEARCHES} distinct searches, "
        f"{search_bench.FILTERED} lists filtered by versions, {search_bench.DETAILS} template "
        f"and version details, {search_bench.MANIFESTS} manifests, each once; relevance of "
        "every template's exact name")  # fmt: skip
    metrics_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    port = free_port()
    env = server_env(db, name) | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = Server([str(BIN / "catalog-server"), "run", "--host", "127.0.0.1", "--port",
                     str(port), "--workers", str(WORKERS)], port, env,
                    "/api/v1/readyz")  # fmt: skip
    try:
        reads = search_bench.uncached_reads(port, name, catalog_gen.WORDS)
        rel = search_bench.relevance(port, name, 2000 if name == "huge" else None)
        index = search_bench.helm_index(port, name) if name == "huge" else None
        rss = server.worker_rss_mib()
    finally:
        server.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    results.setdefault("uncached", {})[label] = {"reads": reads, "relevance": rel,
                                                 "worker_rss_mib": rss, "index": index}  # fmt: skip
    for line in search_bench.report_lines(label, reads, rel):
        log("    " + line)
    log(f"    workers' RSS after the reads: {', '.join(f'{x:.0f}' for x in rss)} MiB")
    if index:
        first, second = index["first"], index["second"]
        log(f"    index.yaml: {first['bytes'] / 1e6:.1f} MB ({first['gzip_bytes'] / 1e6:.1f} MB "
            f"gzip), first GET: first byte {first['ttfb_s']:.2f}s, all {first['total_s']:.2f}s; "
            f"second GET: first byte {second['ttfb_s']:.3f}s, "
            f"all {second['total_s']:.2f}s")  # fmt: skip
    worst = max(rss) if rss else float("nan")
    target(f"{label}: <= 300 MB resident per web worker", f"{worst:.0f} MiB",
           bool(rss) and worst <= 300)  # fmt: skip
    for verdict in search_bench.verdicts(label, reads, rel, limit):
        target(*verdict)


def measure_search_both(db: Path, name: str = "large") -> None:
    """Uncached reads on SQLite (``db``, synced already) and, with BENCH_PG_URL, on
    PostgreSQL after a cold sync there."""
    measure_uncached(db, f"SQLite, {name}", name)
    if PG_URL:
        wipe_postgres(PG_URL)
        r = child_sync(PG_URL, name, OUT / name)
        log(f"    PostgreSQL cold sync of {name}: {r['seconds']:.1f}s")
        results.setdefault("postgres_sync", {})[name] = r["seconds"]
        measure_uncached(PG_URL, f"PostgreSQL, {name}", name)


def manifest_runs(port: int) -> dict:
    log(f"[5] manifest rendering, {MANIFEST_RUNS} sequential POSTs each after 2 warm-ups")
    statuses: dict[str, int] = {}
    out = {}
    for kind, slug in [("compose", "cache-0000"), ("helm", "charts*cache-chart-0000")]:
        _, _, body = request(port, "GET", f"/api/v1/templates/large/{slug}")
        version = json.loads(body)["versions"][0]["version"]
        path = f"/api/v1/templates/large/{slug}/versions/{version}"
        _, _, body = request(port, "GET", path)
        payload = json.dumps({"answers": search_bench.answers(json.loads(body)["questions"]),
                              "release": "bench", "namespace": "bench"}).encode()  # fmt: skip
        times = []
        for i in range(MANIFEST_RUNS + 2):
            started = time.perf_counter()
            status, _, text = request(port, "POST", f"{path}/manifest", payload,
                                      {"Content-Type": "application/json"})  # fmt: skip
            elapsed = time.perf_counter() - started
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status != 200:
                log(f"    {kind} manifest: {status} {text[:300]!r}")
            if i >= 2:
                times.append(elapsed)
        times.sort()
        out[kind] = {"version": f"{slug}@{version}", "p50_ms": statistics.median(times) * 1000,
                     "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000}  # fmt: skip
        log(f"    {kind} ({slug}@{version}): p50 {out[kind]['p50_ms']:.1f} ms, "
            f"p95 {out[kind]['p95_ms']:.1f} ms")  # fmt: skip
    out["statuses"] = statuses
    out["requests"] = sum(statuses.values())
    return out


# --- report --------------------------------------------------------------------------------


def report(info: dict) -> str:
    c, i, h = results["cold_sync"], results["incremental_sync"], results["helm_index"]
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"Python {info['python']}",
        f"Date: {info['date']}; commit {info['commit']}; load average at the start {info['load']}",
        f"Large catalog: {c['templates']} templates, 10,000 versions, {c['files']} files "
        f"({c['bytes'] / 1e6:.0f} MB, {c['yaml_files']} YAML); sync found {c['errors']} errors, "
        f"{c['warnings']} warnings",
        "",
        "| measurement | figure | runs |",
        "| --- | --- | --- |",
        f"| cold sync, large catalog | {c['seconds']:.1f} s | median of {len(c['runs'])} |",
        f"| floor: read every file + CSafeLoader every YAML | {c['floor_seconds']:.2f} s "
        f"| median of {len(c['floor_runs'])} |",
        f"| cold sync / floor | {c['ratio']:.1f}x | |",
        f"| incremental sync, one template changed | {i['seconds']:.2f} s "
        f"({100 * i['ratio']:.1f}% of cold) | median of {len(i['runs'])} |",
        f"| Helm: whole sync of {h['chart_versions']} chart versions | {h['sync_seconds']:.1f} s "
        f"| median of {HELM_SYNC_RUNS} |",
        f"| Helm: first GET index.yaml after it ({h['index_bytes'] / 1e6:.1f} MB) "
        f"| {1000 * h['first_get_seconds']:.0f} ms | median of {HELM_SYNC_RUNS} |",
        f"| Helm: index render alone (build + render, cache cleared) "
        f"| {1000 * h['render_seconds']:.0f} ms | median of {RENDER_RUNS} |",
        f"| helm repo index (Helm v4 SDK) over the same .tgz | {h['helm_seconds']:.2f} s "
        f"| median of {len(h['helm_runs'])} |",
        f"| Helm: sync start -> index.yaml listing every chart version, read by another "
        f"process | {h['served_seconds']:.2f} s | median of {len(h['served_runs'])} |",
        f"| ours (served) / Helm's | {h['ratio']:.2f} | |",
        f"| whole sync + first GET / Helm's | {h['whole_ratio']:.2f} | |",
        f"| index render alone / Helm's | {h['render_ratio']:.3f} | |",
        f"| Helm: one chart version changed -> served index.yaml (sync + first GET) "
        f"| {h['commit_seconds']:.2f} s ({h['commit_seconds'] / h['helm_seconds']:.2f}x "
        f"helm repo index) | median of {len(h['commit_runs'])} |",
    ]
    http = results["http"]
    lines += [
        "",
        f"HTTP: gunicorn {WORKERS} workers (catalog_server.serving.BufferedThreadWorker, 4 "
        f"threads), wrk 1 thread {LOAD_CONNECTIONS} connections, "
        f"median of {LOAD_RUNS} x {LOAD_SECONDS} s runs after a 1 s warm-up; each run right "
        "after one of the trivial endpoint, and `vs trivial` the median of those pairs' ratios; "
        "wrk reads every answer but hands none to Lua (bench/wrk.lua). A run in which one "
        f"worker did under {MIN_WORKER_SHARE:.0%} of the workers' CPU work (wrk's connections "
        "all on the other) is run again: "
        f"{results['placement']['one_sided_runs_redone']} were; statuses count every run.",
        "",
        "| endpoint | req/s | vs trivial | p50 ms | p95 ms | p99 ms | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in http.items():
        ratio = "1.00" if name == "baseline" else f"{r['ratio']:.2f}"
        label = "trivial Flask endpoint (baseline)" if name == "baseline" else name
        lines.append(f"| {label} | {r['rps']:.0f} | {ratio} | {r['p50_ms']:.2f} | "
                     f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['statuses']} |")  # fmt: skip
    m, mem = results["manifest"], results["memory"]
    lines += [
        "",
        "| manifest (POST .../manifest) | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        *(
            f"| {k} {m[k]['version']} | {m[k]['p50_ms']:.1f} | {m[k]['p95_ms']:.1f} |"
            for k in ("compose", "helm")
        ),  # fmt: skip
        "",
        f"Memory: server workers RSS after the load runs "
        f"{', '.join(f'{x:.0f}' for x in mem['worker_rss_mib'])} MiB; cold sync process "
        f"peak (ru_maxrss) {mem['sync_maxrss_mib']:.0f} MiB.",
        f"Errors: {results['errors']['failed']} failed responses, "
        f"{results['errors']['socket_errors']} socket errors in "
        f"{results['errors']['requests']} requests.",
        *uncached_lines(),
        *(site_bench.report_lines(results["site"]) if "site" in results else []),
        *verdict_table(),
    ]
    return "\n".join(lines)


def uncached_lines() -> list[str]:
    lines = []
    for label, r in results.get("uncached", {}).items():
        lines += search_bench.report_lines(label, r["reads"], r["relevance"])
    return lines


def search_report(info: dict) -> str:
    """The report of `--only search`: the machine, the sync and the uncached reads."""
    c = results["cold_sync"]
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"Python {info['python']}; load average before the run {info['load']}",
        f"Date: {info['date']}; commit {info['commit']}",
        f"Catalog {SIZE}: {c['templates']} templates; cold sync (SQLite) {c['seconds']:.1f} s, "
        f"peak RSS {c['maxrss_mib']:.0f} MiB",
        *uncached_lines(),
        *verdict_table(),
    ]
    return "\n".join(lines)


def verdict_table() -> list[str]:
    return [
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {measured} | {'PASS' if ok else 'FAIL'} |"
            for name, measured, ok in verdicts
        ),  # fmt: skip
    ]


def site_report(info: dict) -> str:
    """The report of `--only site`: the machine and the web site's figures."""
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"Python {info['python']}",
        f"Date: {info['date']}; commit {info['commit']}",
        *site_bench.report_lines(results["site"]),
        *verdict_table(),
    ]
    return "\n".join(lines)


def measure_site() -> None:
    """The web site: full build, and commit -> changed page served (bench/site_bench.py)."""
    repo = catalog_gen.ensure_repo(OUT, "large")
    figures, site_verdicts = site_bench.measure(OUT, repo, catalog_gen.change_one_template)
    results["site"] = figures
    for name, measured, passed in site_verdicts:
        target(name, measured, passed)


def main() -> int:
    started = time.monotonic()
    (OUT / "work").mkdir(parents=True, exist_ok=True)
    info = machine()
    log(f"bench: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
        f"{info['date']}, commit {info['commit']}")  # fmt: skip
    if ONLY_SITE:
        measure_site()
        return finish(info, site_report(info), started)
    if ONLY == "search":
        if SIZE == "huge":  # 515,000 files: over the default cap of 200,000
            os.environ.setdefault("CATALOG_MAX_FILES", "1000000")
        t = time.monotonic()
        repo = catalog_gen.ensure_repo(OUT, SIZE)
        log(f"catalog {SIZE}: ready in {time.monotonic() - t:.1f}s (cached under bench/out/)")
        db = fresh_db(SIZE)
        r = child_sync(db, SIZE, repo)
        log(f"    cold sync of {SIZE}: {r['seconds']:.1f}s, {r['templates_total']} templates, "
            f"{r['errors']} errors, maxrss {r['maxrss_kb'] // 1024} MiB (largest child process "
            f"{r['children_maxrss_kb'] // 1024} MiB)")  # fmt: skip
        results["cold_sync"] = {"seconds": r["seconds"], "templates": r["templates_total"],
                                "maxrss_mib": r["maxrss_kb"] / 1024,
                                "children_maxrss_mib": r["children_maxrss_kb"] / 1024}  # fmt: skip
        if SIZE == "huge":
            measure_huge_syncs(db, repo, r)
        measure_search_both(db, SIZE)
        return finish(info, search_report(info), started)
    if ONLY == "http":
        repo = catalog_gen.ensure_repo(OUT, "large")
        db = fresh_db("large")
        r = child_sync(db, "large", repo)
        results["memory"] = {"sync_maxrss_mib": r["maxrss_kb"] / 1024}
        measure_http(db)
        return finish(info, "\n".join(verdict_table()), started)
    if ONLY == "helm":
        catalog_gen.ensure_repo(OUT, "helm-large")
        catalog_gen.packaged(OUT, "large")
        measure_helm(OUT / "helm-large")
        return finish(info, "\n".join(verdict_table()), started)
    for name in ("small", "large", "helm-large"):
        t = time.monotonic()
        catalog_gen.ensure_repo(OUT, name)
        log(f"catalog {name}: ready in {time.monotonic() - t:.1f}s (cached under bench/out/)")
    t = time.monotonic()
    catalog_gen.packaged(OUT, "large")
    log(f"packaged charts: ready in {time.monotonic() - t:.1f}s")
    db = measure_syncs(OUT / "large")
    measure_helm(OUT / "helm-large")
    measure_http(db)
    measure_search_both(db)
    measure_site()
    return finish(info, report(info), started)


def finish(info: dict, text: str, started: float) -> int:
    results["machine"] = info
    results["verdicts"] = [{"target": n, "measured": m, "pass": ok} for n, m, ok in verdicts]
    (OUT / "report.md").write_text(text + "\n")
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(text)
    log(f"bench: done in {time.monotonic() - started:.0f}s; {sum(not v[2] for v in verdicts)} "
        "target(s) failed; report in bench/out/report.md")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
