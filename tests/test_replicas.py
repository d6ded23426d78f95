"""The multi-process deployment: two web processes and one sync process on one PostgreSQL,
each with folders of its own (no shared disk), serving a throwaway git catalog.

Real `catalog-server run` (gunicorn) and `catalog-server sync --watch` processes on free
ports, with default settings: both web processes serve the site, every template page, the
API and the Helm index; after a commit (and a refresh asked over the admin API, as a webhook
would) both serve the change within a few seconds; and a web process started after the sync
serves the whole site at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

pytestmark = pytest.mark.postgres

DEADLINE = 30.0  # seconds: "a few seconds", with room for a busy machine
CATALOG_SERVER = [sys.executable, "-m", "catalog_server.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class Processes:
    """Processes this test started, each in its own session, stopped by their ids."""

    def __init__(self, base: Path):
        self.base = base
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.base / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                CATALOG_SERVER + args,
                env=os.environ | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self.started)

    def stop(self) -> None:
        for proc, _ in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _start_web(procs: Processes, name: str, env: dict[str, str], folder: Path) -> str:
    """`catalog-server run` on a free port with its own instance folder; its base URL once
    it answers /api/v1/healthz."""
    port = _free_port()
    own = env | {"CATALOG_INSTANCE_DIR": str(folder), "CATALOG_CACHE_DIR": str(folder / "cache")}
    proc = procs.start(name, ["run", "--host", "127.0.0.1", "--port", str(port), "--workers",
                              "1"], own)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{name} exited:\n{procs.logs()}"
        try:
            if _get(base + "/api/v1/healthz")[0] == 200:
                return base
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{name} did not start:\n{procs.logs()}")


def _wait_for(check, what: str, procs: Processes):
    """Poll ``check()`` until it returns something true, within DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {DEADLINE}s: {what}\n{procs.logs()}")


def _serves_everything(base: str) -> bool:
    """The home page, the page of every template (hidden ones too) and every version, the
    API and the Helm index."""
    status, home = _get(base + "/")
    if status != 200 or "Web App" not in home:
        return False
    status, body = _get(base + "/api/v1/templates?include_hidden=true&per_page=100")
    if status != 200:
        return False
    items = json.loads(body)["items"]
    if len(items) != 3:
        return False
    for item in items:
        page = f"{base}/catalogs/site/{quote(item['id'], safe='')}/"
        status, text = _get(page)
        if status != 200 or item["name"] not in text:
            return False
        status, detail = _get(f"{base}/api/v1/templates/site/{quote(item['id'], safe='')}")
        for version in json.loads(detail)["versions"]:
            if _get(page + quote(version["version"], safe="") + "/")[0] != 200:
                return False
    status, index = _get(base + "/helm/site/index.yaml")
    return status == 200 and "monitor" in index


def _shows_the_new_version(base: str) -> bool:
    status, page = _get(base + "/catalogs/site/charts%2Amonitor/")
    if status != 200 or "1.1.0" not in page or "A monitoring agent, now faster" not in page:
        return False
    status, body = _get(base + "/api/v1/templates/site/charts%2Amonitor")
    if status != 200 or json.loads(body)["versions"][0]["version"] != "1.1.0":
        return False
    status, index = _get(base + "/helm/site/index.yaml")
    entries = yaml.safe_load(index)["entries"]["monitor"] if status == 200 else []
    return sorted(e["version"] for e in entries) == ["1.0.0", "1.1.0"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_web_processes_and_a_sync_share_only_the_database(
    database_url, make_catalog_repo, tmp_path
):
    repo = make_catalog_repo(fixture="site-catalog")
    catalogs = tmp_path / "catalogs.yml"
    catalogs.write_text(f"catalogs:\n  - name: site\n    url: {repo.path}\n    branch: main\n")
    env = {"CATALOG_DATABASE_URL": database_url, "CATALOG_LOG_FORMAT": "text"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")} | env
    env.pop("CATALOG_STATE_TTL", None)  # the default: what a deployment runs with
    sync_env = env | {
        "CATALOG_SOURCES": str(catalogs),
        "CATALOG_INSTANCE_DIR": str(tmp_path / "sync"),
        "CATALOG_CACHE_DIR": str(tmp_path / "sync" / "cache"),
    }
    upgrade = subprocess.run(
        CATALOG_SERVER + ["db", "upgrade"], env=sync_env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    token = subprocess.run(
        CATALOG_SERVER + ["token", "create", "ops"], env=sync_env, capture_output=True, text=True
    )
    assert token.returncode == 0, token.stderr

    procs = Processes(tmp_path)
    try:
        procs.start("sync", ["sync", "--watch"], sync_env)
        web_a = _start_web(procs, "web-a", env, tmp_path / "web-a")
        web_b = _start_web(procs, "web-b", env, tmp_path / "web-b")
        for base in (web_a, web_b):
            _wait_for(lambda base=base: _serves_everything(base), f"{base} serves it all", procs)
        assert not (tmp_path / "web-a" / "site").exists()  # nothing was built on their disks

        new = repo.path / "charts" / "monitor" / "1.1.0"
        repo.copy("site-catalog/charts/monitor/1.0.0", "charts/monitor/1.1.0")
        chart = yaml.safe_load((new / "Chart.yaml").read_text())
        chart.update(version="1.1.0", description="A monitoring agent, now faster")
        (new / "Chart.yaml").write_text(yaml.safe_dump(chart))
        (new / "README.md").write_text("# monitor\n\nA monitoring agent, now faster.\n")
        repo.commit("monitor 1.1.0")
        refresh = urllib.request.Request(
            web_a + "/api/v1/catalogs/site/refresh",
            method="POST",
            headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        )
        with urllib.request.urlopen(refresh, timeout=10) as answer:
            assert answer.status == 202
        for base in (web_a, web_b):
            _wait_for(lambda base=base: _shows_the_new_version(base), f"{base}: 1.1.0", procs)

        # A web process started now serves the current site at once: no build, no wait.
        web_c = _start_web(procs, "web-c", env, tmp_path / "web-c")
        assert _shows_the_new_version(web_c), procs.logs()
        assert _serves_everything(web_c), procs.logs()
    finally:
        procs.stop()
    assert "Traceback" not in procs.logs()
