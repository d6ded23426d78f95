"""The sync engine against real git remotes: incremental syncs, failures, concurrency,
readers during a sync, a sync killed halfway, and credentials that must never leak."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import git
import pytest
from sqlalchemy import MetaData, func, select

from catalog_server.catalogs import CatalogSource
from catalog_server.db import db
from catalog_server.models import Catalog

COMPOSE = "services:\n  app:\n    image: busybox:1.36\n"


def template_files(name: str, marker: str, versions: int = 1) -> dict[str, str]:
    files = {
        f"templates/{name}/config.yml": (
            f"name: {name}\ndescription: state {marker}\nversion: 1.0.0\ncategory: Test\n"
        )
    }
    for rev in range(versions):
        files[f"templates/{name}/{rev}/docker-compose.yml"] = COMPOSE
        files[f"templates/{name}/{rev}/rancher-compose.yml"] = f".catalog:\n  version: 1.0.{rev}\n"
    return files


def many(count: int, marker: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for i in range(count):
        files |= template_files(f"t{i:04d}", marker)
    return files


@pytest.fixture
def remote(make_catalog_repo, tmp_path):
    """A working repository and a bare repository as its remote, reached by file:// URL."""
    work = make_catalog_repo(files=template_files("a", "1") | template_files("b", "1"))
    bare = tmp_path / "remote.git"
    git.Repo.clone_from(work.path, bare, bare=True)
    work.repo.create_remote("origin", str(bare))

    def publish(message: str = "change") -> str:
        sha = work.commit(message)
        work.repo.git.push("origin", "HEAD:main", "--force")
        return sha

    work.publish = publish
    work.source_url = f"file://{bare}"
    return work


def served(client) -> dict[str, str]:
    items = client.get("/api/v1/templates?per_page=100").json["items"]
    return {t["id"]: t["description"] for t in items}


def test_remote_changes_are_followed_incrementally(remote, sync, client):
    source = CatalogSource("r", remote.source_url, branch="main")
    first = sync(source)
    assert first.status == "updated" and first.templates_reloaded == 2
    remote.write(template_files("a", "2"))
    remote.publish("edit a")
    summary = sync(source)
    assert summary.templates_reloaded == 1 and summary.reloaded == ["a"]
    assert served(client) == {"a": "state 2", "b": "state 1"}
    # a deleted template leaves; a renamed one moves
    remote.remove("templates/a")
    (remote.path / "templates/b").rename(remote.path / "templates/bee")
    remote.publish("delete a, rename b")
    summary = sync(source)
    assert summary.templates_removed == 2 and summary.templates_reloaded == 1
    assert served(client) == {"bee": "state 1"}
    assert sync(source).status == "up to date"


def test_a_remote_that_goes_away_keeps_the_last_good_index(remote, sync, client, tmp_path):
    source = CatalogSource("r", remote.source_url, branch="main")
    sync(source)
    os.rename(tmp_path / "remote.git", tmp_path / "moved.git")
    summary = sync(source)
    assert summary.status == "failed"
    assert served(client) == {"a": "state 1", "b": "state 1"}
    catalog = client.get("/api/v1/catalogs/r").json
    assert "git fetch" in catalog["last_error"]
    assert catalog["sync_state"] == "failed" and catalog["failures"] == 1
    os.rename(tmp_path / "moved.git", tmp_path / "remote.git")
    assert sync(source).status in ("up to date", "updated")
    assert client.get("/api/v1/catalogs/r").json["failures"] == 0


def _catalogs_file(tmp_path, url: str) -> str:
    path = tmp_path / "catalogs.yml"
    path.write_text(f"catalogs:\n  - name: lib\n    url: {url}\n    branch: main\n")
    return str(path)


def _sync_process(cli_env, sources: str) -> subprocess.Popen:
    env = os.environ | cli_env | {"CATALOG_SOURCES": sources}
    return subprocess.Popen(
        [sys.executable, "-m", "catalog_server.cli", "sync", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _row_counts(app) -> dict[str, int]:
    with app.app_context():
        meta = MetaData()
        meta.reflect(bind=db.engine)
        with db.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in meta.tables.items()
            }


def test_two_syncs_at_once_index_once(app, make_catalog_repo, cli_env, tmp_path):
    repo = make_catalog_repo(files=many(60, "1"))
    sources = _catalogs_file(tmp_path, str(repo.path))
    first, second = _sync_process(cli_env, sources), _sync_process(cli_env, sources)
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    statuses = sorted(json.loads(out.strip().splitlines()[-1])["status"] for out, _ in results)
    assert statuses == ["up to date", "updated"]
    for _, err in results:
        assert "Traceback" not in err
    counts = _row_counts(app)
    assert counts["templates"] == 60 and counts["catalogs"] == 1
    assert counts["template_versions"] == 60


def test_readers_see_a_whole_catalog_during_a_sync(
    app, client, make_catalog_repo, sync, monkeypatch
):
    from catalog_server.indexer import plan

    monkeypatch.setattr(plan, "BATCH_FILES", 1)  # a batch a template: many writes to see
    repo = make_catalog_repo(files=many(80, "old"))
    sync(repo.source("lib"))
    repo.write(many(80, "new"))
    repo.commit("rewrite every template")
    seen: list[set[str]] = []
    done = threading.Event()

    def poll():
        reader = app.test_client()
        while not done.is_set():
            # A URL of its own for each read: a kept answer would hide what the database
            # holds between the sync's commits.
            read = f"/api/v1/templates?per_page=100&read={len(seen)}"
            items = reader.get(read).json["items"]
            seen.append({t["description"] for t in items})
            # A pause between reads: a thread that never waits would hold the GIL whenever
            # the sync thread gives it up for I/O (5 ms each time), and slow the sync 80x.
            time.sleep(0.002)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        assert sync(repo.source("lib")).templates_reloaded == 80
    finally:
        done.set()
        thread.join()
    for _ in range(3):  # and after it
        seen.append(
            {t["description"] for t in client.get("/api/v1/templates?per_page=100").json["items"]}
        )
    assert len(seen) > 3
    assert all(states in ({"state old"}, {"state new"}) for states in seen), [
        s for s in seen if len(s) != 1
    ]
    assert seen[-1] == {"state new"}


def test_a_sync_killed_halfway_leaves_the_last_index_served(
    app, client, make_catalog_repo, cli_env, tmp_path
):
    repo = make_catalog_repo(files=many(300, "old"))
    sources = _catalogs_file(tmp_path, str(repo.path))
    first = _sync_process(cli_env, sources)
    first.communicate(timeout=300)
    assert first.returncode == 0
    repo.write(many(300, "new"))
    repo.commit("rewrite every template")
    victim = _sync_process(cli_env, sources)
    with app.app_context():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = db.session.scalar(select(Catalog.sync_state).where(Catalog.name == "lib"))
            db.session.rollback()
            if state == "syncing" or victim.poll() is not None:
                break
            time.sleep(0.02)
    time.sleep(0.3)  # well into loading the templates
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the sync ended before it could be killed"
    assert set(served(client).values()) == {"state old"}
    assert len(served(client)) == 100  # one page of the 300, all of the old state
    assert client.get("/api/v1/templates").json["total"] == 300
    again = _sync_process(cli_env, sources)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "updated"
    assert set(served(client).values()) == {"state new"}


# --- private catalogs ---------------------------------------------------------------------

TOKEN = "s3cr3t-T0KEN-never-to-be-seen"


@pytest.fixture
def private_remote(remote, tmp_path, git_http_server):
    # Over https: credentials are never sent over anything else.
    return git_http_server(tmp_path, "deploy", TOKEN) + "/remote.git"


def test_credentials_never_leak(
    app, client, private_remote, sync, monkeypatch, caplog, capfd, settings
):
    monkeypatch.setenv("CATALOG_TEST_GIT_TOKEN", TOKEN)
    credentials = {"username": "deploy", "password_env": "CATALOG_TEST_GIT_TOKEN"}
    source = CatalogSource("private", private_remote, branch="main", credentials=credentials)
    caplog.set_level("DEBUG")
    assert sync(source).status == "updated"
    wrong = CatalogSource(
        "wrong",
        private_remote,
        branch="main",
        credentials={"username": "deploy", "password_file": str(settings.instance_dir / "nope")},
    )
    assert sync(wrong).status == "failed"
    monkeypatch.setenv("CATALOG_TEST_GIT_TOKEN", "not-the-token")
    assert sync(source).status == "failed"  # a refused password is an error, not a hang
    seen = []
    for url in [
        "/api/v1/catalogs",
        "/api/v1/catalogs/private",
        "/api/v1/catalogs/wrong",
        "/api/v1/templates",
        "/api/v1/templates/private/a",
        "/api/v1/problems",
        "/metrics",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        seen.append(response.get_data(as_text=True))
    with app.app_context():
        meta = MetaData()
        meta.reflect(bind=db.engine)
        with db.engine.connect() as conn:
            for table in meta.tables.values():
                seen.extend(repr(row) for row in conn.execute(table.select()))
    seen.append(caplog.text)
    captured = capfd.readouterr()
    seen += [captured.out, captured.err]
    for path in settings.cache_dir.rglob("*"):
        if path.is_file():
            seen.append(path.read_bytes().decode("utf-8", "replace"))
    assert not [text for text in seen if TOKEN in text]
    assert client.get("/api/v1/templates").json["total"] == 2


# --- the watch loop ------------------------------------------------------------------------


def test_retry_delay_backs_off_up_to_the_interval():
    from catalog_server.scheduler import retry_delay

    assert [retry_delay(n, 300) for n in range(6)] == [300, 15, 30, 60, 120, 240]
    assert retry_delay(7, 300) == 300
    assert retry_delay(50, 300) == 300


def test_watch_picks_up_a_refresh_request(
    app, client, settings, make_catalog_repo, monkeypatch, tmp_path
):
    from catalog_server import scheduler
    from catalog_server.auth import create_token
    from catalog_server.config import Settings

    monkeypatch.setattr(scheduler, "POLL_INTERVAL", 0.1)
    repo = make_catalog_repo(files=template_files("a", "1"))
    sources = tmp_path / "catalogs.yml"
    sources.write_text(
        f"catalogs:\n  - name: lib\n    url: {repo.path}\n    refresh_interval: 3600\n"
    )
    watched = Settings.from_env(
        {
            "CATALOG_INSTANCE_DIR": str(settings.instance_dir),
            "CATALOG_DATABASE_URL": settings.database_url,
            "CATALOG_CACHE_DIR": str(settings.cache_dir),
            "CATALOG_SOURCES": str(sources),
            "CATALOG_STATE_TTL": "0",
        }
    )
    summaries = []
    stop = threading.Event()

    def run():
        with app.app_context():
            scheduler.watch(
                lambda: db.session, watched, on_summary=summaries.append, should_stop=stop.is_set
            )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not summaries and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.status for s in summaries] == ["updated"]
        repo.write(template_files("a", "2"))
        repo.commit("edit a")
        time.sleep(0.5)
        assert len(summaries) == 1  # not due for an hour
        with app.app_context():
            token = create_token(db.session, "ops")
        response = client.post(
            "/api/v1/catalogs/lib/refresh", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 202
        while len(summaries) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.status for s in summaries] == ["updated", "updated"]
        assert served(client) == {"a": "state 2"}
        assert client.get("/api/v1/catalogs/lib").json["sync_state"] == "idle"
    finally:
        stop.set()
        thread.join(timeout=30)


def test_a_catalog_over_the_file_limit_is_refused_whole(
    app, client, make_catalog_repo, sync, monkeypatch
):
    from catalog_server import indexer

    repo = make_catalog_repo(files=many(3, "1"))
    sync(repo.source("lib"))
    repo.write(many(6, "2"))
    repo.commit("grow")
    monkeypatch.setattr(indexer, "MAX_CATALOG_FILES", 10)
    summary = sync(repo.source("lib"))
    assert summary.status == "failed"
    assert "at most 10 are indexed" in summary.error
    assert set(served(client).values()) == {"state 1"}  # the last good index stays


def test_sync_logs_json_lines(make_catalog_repo, cli_env, tmp_path, app):
    repo = make_catalog_repo(files=template_files("a", "1"))
    sources = _catalogs_file(tmp_path, str(repo.path))
    env = os.environ | cli_env | {"CATALOG_SOURCES": sources, "CATALOG_LOG_FORMAT": "json"}
    result = subprocess.run(
        [sys.executable, "-m", "catalog_server.cli", "sync"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    sync_lines = [line for line in lines if line.get("event") == "sync"]
    assert sync_lines and sync_lines[0]["catalog"] == "lib"
    assert sync_lines[0]["status"] == "updated" and sync_lines[0]["level"] == "info"


def test_the_file_limit_is_a_setting(app, make_catalog_repo):
    from dataclasses import replace

    from catalog_server import scheduler
    from catalog_server.config import ConfigError, Settings
    from catalog_server.db import db

    repo = make_catalog_repo(files=many(4, "1"))
    settings = app.extensions["catalog_settings"]
    with app.app_context():
        tight = replace(settings, max_catalog_files=3)
        summary = scheduler.sync_one(db.session, tight, repo.source("lib"))
        assert summary.status == "failed"
        assert "at most 3 are indexed (CATALOG_MAX_FILES)" in summary.error
        summary = scheduler.sync_one(db.session, settings, repo.source("lib"))
        assert summary.status == "updated"
    assert Settings.from_env({"CATALOG_MAX_FILES": "500000"}).max_catalog_files == 500_000
    with pytest.raises(ConfigError):
        Settings.from_env({"CATALOG_MAX_FILES": "0"})
