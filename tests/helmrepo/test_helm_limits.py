"""Helm rendering under limits it cannot escape: time, memory, output size.

Every hostile chart is rendered from a child process whose address space is limited
(RLIMIT_AS): the Helm worker inherits the limit and lowers it further, so if the sandbox
ever stopped working the child would be the one to fail, never the machine. Go reserves
about 1.9 GiB of address space it does not use; the child's 2.6 GiB leaves the worker
room for its budget (256 MiB here) and nothing more.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from catalog_server import helmsdk, helmworker

pytestmark = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)

HOSTILE = Path(__file__).parent.parent / "data" / "hostile-render" / "helm"
BUNDLED_CHART = Path(__file__).parent.parent.parent / "catalog" / "charts" / "nginx" / "1.1.0"
CHILD_MB = 2600
LIMITS = {
    "CATALOG_HELM_TIMEOUT": "3",
    "CATALOG_HELM_MEMORY_MB": "256",
    "CATALOG_HELM_OUTPUT_MB": "4",
}
EXPECTED = {  # chart: what stops it
    "until-bomb": "ran out of memory (limit 256 MiB",
    "huge-manifest": "ran out of memory (limit 256 MiB",
    "busy-chart": "took longer than 3 s",
    "large-manifest": "output is larger than 4 MiB",
}

RENDER = """
import json, sys
from catalog_server import helmsdk
if hasattr(helmsdk, "configure"):
    helmsdk.configure(helmsdk.Limits(timeout=3, memory_mb=256, output_bytes=4 << 20))
out = []
for chart in sys.argv[1:]:
    try:
        rendered = helmsdk.render(chart, {}, "r", "ns")
        out.append({"ok": sum(map(len, rendered.values()))})
    except helmsdk.HelmError as exc:
        out.append({"error": type(exc).__name__, "message": str(exc)})
print(json.dumps(out))
"""


@pytest.mark.parametrize("chart", sorted(EXPECTED))
def test_a_hostile_chart_is_stopped_and_the_next_render_works(limited_run, chart):
    charts = [str(HOSTILE / "charts" / chart), str(BUNDLED_CHART)]
    result = limited_run([sys.executable, "-c", RENDER, *charts], memory_mb=CHILD_MB)
    assert result.returncode == 0, result.stderr[-3000:]
    stopped, after = json.loads(result.stdout)
    assert stopped["error"] == "HelmLimitExceeded", stopped
    assert EXPECTED[chart] in stopped["message"]
    assert "ok" in after, after  # a fresh worker took over


MANIFEST = """
import json, sys
from catalog_server.app import create_app
client = create_app({"TESTING": True}).test_client()
out = []
for chart in sys.argv[1:]:
    response = client.post(f"/api/v1/templates/hostile/charts*{chart}/versions/1.0.0/manifest",
                           json={"answers": {}})
    out.append({"status": response.status_code, "body": response.get_json()})
print(json.dumps(out))
"""


@pytest.fixture
def tight_helm_limits():
    """This process's Helm calls (the sync renders charts for their images) under the
    test's limits, the defaults again afterwards."""
    helmsdk.configure(helmworker.Limits(timeout=3, memory_mb=256, output_bytes=4 << 20))
    yield
    helmsdk.configure(helmworker.Limits())


def test_hostile_charts_are_a_422_through_the_api(
    limited_run, make_catalog_repo, sync, cli_env, tight_helm_limits
):
    if "postgresql" in cli_env["CATALOG_DATABASE_URL"]:
        pytest.skip("the API path is the same on both databases; once is enough")
    repo = make_catalog_repo()
    shutil.copytree(HOSTILE, repo.path, dirs_exist_ok=True)
    repo.commit("hostile charts")
    assert sync(repo.source("hostile")).status == "updated"
    charts = ["until-bomb", "large-manifest"]
    result = limited_run(
        [sys.executable, "-c", MANIFEST, *charts], memory_mb=CHILD_MB, env=cli_env | LIMITS
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout)
    assert [a["status"] for a in answers] == [422, 422]
    for chart, answer in zip(charts, answers, strict=True):
        assert answer["body"]["error"]["code"] == "render_error"
        assert EXPECTED[chart] in answer["body"]["error"]["message"]


def test_lint_reports_hostile_charts_as_problems(limited_run):
    result = limited_run(
        [sys.executable, "-m", "catalog_server.cli", "lint", str(HOSTILE), "--format", "json"],
        memory_mb=CHILD_MB,
        env=LIMITS,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    failed = {
        p["template"].removeprefix("charts*"): p["message"]
        for p in json.loads(result.stdout)
        if p["rule"] == "helm.lint"
        and p["severity"] == "error"
        and "helm lint failed" in p["message"]
    }
    assert sorted(failed) == ["busy-chart", "huge-manifest", "until-bomb"]
    for chart, message in failed.items():
        assert EXPECTED[chart] in message


def test_sync_with_helm_lint_records_hostile_charts_as_problems(limited_run, tmp_path):
    catalogs = tmp_path / "catalogs.yml"
    catalogs.write_text(f"catalogs:\n  - name: hostile\n    url: {HOSTILE}\n")
    env = LIMITS | {
        "CATALOG_INSTANCE_DIR": str(tmp_path / "instance"),
        "CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
        "CATALOG_SOURCES": str(catalogs),
        "CATALOG_SITE_DIR": str(tmp_path / "site"),
        "CATALOG_SERVER_HELM_LINT": "true",
    }
    cli = [sys.executable, "-m", "catalog_server.cli"]
    upgraded = limited_run([*cli, "db", "upgrade"], memory_mb=CHILD_MB, env=env)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    result = limited_run([*cli, "sync", "--json"], memory_mb=CHILD_MB, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "updated" and summary["templates_total"] == 4
    from catalog_server.app import create_app
    from catalog_server.config import Settings

    client = create_app({"TESTING": True}, settings=Settings.from_env(env)).test_client()
    problems = client.get("/api/v1/problems?catalog=hostile&severity=error").json["items"]
    failed = {
        p["template"].removeprefix("charts*")
        for p in problems
        if "helm lint failed" in p["message"]
    }
    assert failed == {"busy-chart", "huge-manifest", "until-bomb"}
    assert {p["rule"] for p in problems if "helm lint failed" in p["message"]} == {"helm.lint"}


def test_renders_in_a_row_reuse_one_worker_and_a_failure_replaces_it():
    pool = helmworker.WorkerPool(helmworker.Limits(timeout=3, memory_mb=256), size=1)
    try:
        chart = {"chart": str(BUNDLED_CHART), "values": {}, "release": "r", "namespace": "n",
                 "archive": False}  # fmt: skip
        for _ in range(10):
            assert pool.call("render", chart)
        assert pool.started == 1
        with pytest.raises(helmworker.LimitExceeded):
            pool.call("render", chart | {"chart": str(HOSTILE / "charts" / "until-bomb")})
        assert pool.call("render", chart)
        assert pool.started == 2
    finally:
        pool.close()


def test_a_worker_that_cannot_start_is_an_error_not_a_crash(limited_run):
    """Under an address-space limit too small for Go's runtime, the worker does not start:
    a WorkerError saying so, and available() reads it as no SDK."""
    script = (
        "from catalog_server import helmsdk, helmworker\n"
        "pool = helmworker.WorkerPool(helmworker.Limits(), size=1)\n"
        "try:\n"
        "    pool.call('ping', {})\n"
        "except helmworker.WorkerError as exc:\n"
        "    print('WorkerError:', exc)\n"
        "print('available:', helmsdk.available())\n"
    )
    result = limited_run([sys.executable, "-c", script], memory_mb=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WorkerError: the Helm worker did not start" in result.stdout
    assert "available: False" in result.stdout
