"""Syncing real git catalogs: what is served, what changes, what stays."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from catalog_server.cli import main
from catalog_server.db import db
from catalog_server.models import Template, TemplateVersion

COMPOSE = "services:\n  app:\n    image: busybox:1.36\n"


def compose_template(name: str, versions: dict[str, str], default: str | None = None) -> dict:
    files = {f"templates/{name}/config.yml": f"name: {name}\nversion: {default or '1.0.0'}\n"}
    for folder, version in versions.items():
        files[f"templates/{name}/{folder}/docker-compose.yml"] = COMPOSE
        files[f"templates/{name}/{folder}/rancher-compose.yml"] = (
            f".catalog:\n  version: {version}\n"
        )
    return files


def dump_tables(app) -> dict[str, list[tuple]]:
    """Every row of every table, to compare database states."""
    with app.app_context():
        meta = MetaData()
        meta.reflect(bind=db.engine)
        with db.engine.connect() as conn:
            return {
                name: sorted(map(tuple, conn.execute(table.select()).all()), key=repr)
                for name, table in meta.tables.items()
            }


def served(app) -> dict[str, list[str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Template.slug, TemplateVersion.version)
            .join(TemplateVersion, TemplateVersion.template_id == Template.id)
            .order_by(Template.slug, TemplateVersion.position)
        ).all()
    out: dict[str, list[str]] = {}
    for slug, version in rows:
        out.setdefault(slug, []).append(version)
    return out


def test_second_sync_of_the_same_commit_is_up_to_date_and_changes_no_row(
    app, make_catalog_repo, sync
):
    repo = make_catalog_repo(fixture="api-catalog")
    assert sync(repo.source()).status == "updated"
    before = dump_tables(app)
    summary = sync(repo.source())
    assert summary.status == "up to date"
    assert summary.templates_reloaded == 0
    assert summary.templates_total == 5
    assert dump_tables(app) == before


def test_only_changed_templates_are_reloaded(app, make_catalog_repo, sync):
    repo = make_catalog_repo(
        files=compose_template("a", {"0": "1.0.0"})
        | compose_template("b", {"0": "1.0.0"})
        | compose_template("c", {"0": "1.0.0"})
    )
    assert sync(repo.source()).templates_reloaded == 3
    repo.write(compose_template("b", {"0": "1.0.0", "1": "1.1.0"}, default="1.1.0"))
    repo.commit("b 1.1.0")
    summary = sync(repo.source())
    assert summary.templates_reloaded == 1
    assert summary.reloaded == ["b"]
    assert served(app)["b"] == ["1.1.0", "1.0.0"]


def test_deleted_and_renamed_templates(app, make_catalog_repo, sync):
    repo = make_catalog_repo(
        files=compose_template("a", {"0": "1.0.0"}) | compose_template("b", {"0": "1.0.0"})
    )
    sync(repo.source())
    repo.remove("templates/a")
    (repo.path / "templates/b").rename(repo.path / "templates/bee")
    repo.commit("delete a, rename b")
    summary = sync(repo.source())
    assert summary.templates_removed == 2
    assert sorted(served(app)) == ["bee"]


def test_a_broken_version_keeps_its_last_good_state(app, client, make_catalog_repo, sync):
    repo = make_catalog_repo(files=compose_template("a", {"0": "1.0.0", "1": "1.1.0"}))
    sync(repo.source())
    repo.write({"templates/a/1/rancher-compose.yml": ".catalog:\n  version: [1.2.0\n"})
    repo.commit("break version 1")
    summary = sync(repo.source())
    assert summary.status == "updated"
    assert served(app)["a"] == ["1.1.0", "1.0.0"]  # the last good 1.1.0 is still served
    problems = client.get("/api/v1/problems?template=a").json["items"]
    assert any(p["file"] == "templates/a/1/rancher-compose.yml" and p["blocking"] for p in problems)


def test_a_template_that_breaks_keeps_its_last_good_state(app, make_catalog_repo, sync):
    repo = make_catalog_repo(
        files=compose_template("a", {"0": "1.0.0"}) | compose_template("b", {"0": "1.0.0"})
    )
    sync(repo.source())
    repo.write({"templates/a/config.yml": "name: a\nversion: 1.0.0\n  bad: indent\n"})
    repo.commit("break config.yml")
    summary = sync(repo.source())
    assert summary.templates_failed == 1
    assert served(app) == {"a": ["1.0.0"], "b": ["1.0.0"]}
    # fixing it brings the template back to normal
    repo.write(compose_template("a", {"0": "1.0.0"}))
    repo.commit("fix")
    assert sync(repo.source()).templates_failed == 0


def test_a_source_that_cannot_be_read_keeps_the_index(
    app, client, make_catalog_repo, sync, tmp_path
):
    repo = make_catalog_repo(files=compose_template("a", {"0": "1.0.0"}))
    sync(repo.source())
    from catalog_server.catalogs import CatalogSource

    gone = CatalogSource(name="test", url=str(tmp_path / "missing"))
    summary = sync(gone)
    assert summary.status == "failed"
    assert "does not exist" in summary.error
    assert served(app) == {"a": ["1.0.0"]}
    catalog = client.get("/api/v1/catalogs/test").json
    assert "does not exist" in catalog["last_error"]
    assert catalog["last_attempt_at"]


def test_cli_sync_json_and_up_to_date(app, make_catalog_repo, cli_env, tmp_path):
    repo = make_catalog_repo(fixture="api-catalog")
    sources = tmp_path / "catalogs.yml"
    sources.write_text(f"catalogs:\n  - name: lib\n    url: {repo.path}\n")
    env = cli_env | {"CATALOG_SOURCES": str(sources)}
    runner = CliRunner()
    first = runner.invoke(main, ["sync", "--json"], env=env)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output.strip().splitlines()[-1])
    assert set(summary) >= {
        "catalog",
        "from_commit",
        "to_commit",
        "templates_total",
        "templates_failed",
        "templates_reloaded",
        "templates_removed",
        "errors",
        "warnings",
        "seconds",
    }
    assert summary["catalog"] == "lib"
    assert summary["to_commit"] == repo.repo.head.commit.hexsha
    assert summary["templates_total"] == 5
    assert summary["templates_failed"] == 1
    second = runner.invoke(main, ["sync"], env=env)
    assert second.exit_code == 0
    assert "up to date" in second.output
    assert "Traceback" not in first.output + second.output


def test_cli_sync_reports_a_bad_catalogs_file(app, cli_env, tmp_path):
    sources = tmp_path / "catalogs.yml"
    sources.write_text("catalogs:\n  - name: Bad Name\n    url: ext::sh -c touch% /tmp/pwned\n")
    result = CliRunner().invoke(main, ["sync"], env=cli_env | {"CATALOG_SOURCES": str(sources)})
    assert result.exit_code == 1
    assert "catalogs[0]" in result.output
    assert "Traceback" not in result.output


def test_a_backslash_in_a_plain_folders_name_costs_only_that_folder(client, sync, tmp_path):
    """A plain-folder catalog (no git) with `templates/we\\b/`: that path is ignored with a
    problem, as lint says, and the rest of the catalog is indexed."""
    from catalog_server.catalogs import CatalogSource

    compose = "services:\n  a:\n    image: busybox:1.36\n"
    for folder in ("web", "we\\b"):
        version = tmp_path / "plain" / "templates" / folder / "0"
        version.mkdir(parents=True)
        (version.parent / "config.yml").write_text("name: web\nversion: 1.0.0\n")
        (version / "docker-compose.yml").write_text(compose)
        (version / "rancher-compose.yml").write_text(".catalog:\n  version: 1.0.0\n")
    summary = sync(CatalogSource("plain", str(tmp_path / "plain")))
    assert summary.status == "updated", summary.error
    assert [t["id"] for t in client.get("/api/v1/templates").json["items"]] == ["web"]
    problems = client.get("/api/v1/problems?catalog=plain").json["items"]
    assert {p["rule"] for p in problems if "we\\\\b" in (p["file"] or "")} == {"file.unsafe-path"}


def catalog_state(app, name: str) -> dict[str, list]:
    """What a catalog serves and records, without row ids: to compare two catalogs."""
    from catalog_server.models import Catalog, ProblemRow, VersionFile

    def plain(row, skip=("id", "catalog_id", "template_id", "version_id")) -> tuple:
        return tuple(
            (c.key, getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip
        )

    with app.app_context():
        catalog = db.session.scalar(select(Catalog).where(Catalog.name == name))
        templates = db.session.scalars(
            select(Template).where(Template.catalog_id == catalog.id)
        ).all()
        versions = [
            (t.slug, plain(v))
            for t in templates
            for v in db.session.scalars(
                select(TemplateVersion).where(TemplateVersion.template_id == t.id)
            )
        ]
        files = db.session.execute(
            select(Template.slug, TemplateVersion.version, VersionFile.path, VersionFile.sha256)
            .join(TemplateVersion, TemplateVersion.id == VersionFile.version_id)
            .join(Template, Template.id == TemplateVersion.template_id)
            .where(Template.catalog_id == catalog.id)
        ).all()
        problems = db.session.scalars(
            select(ProblemRow).where(ProblemRow.catalog_id == catalog.id)
        ).all()
        return {
            "templates": sorted(
                (plain(t, ("id", "catalog_id", "updated_at")) for t in templates), key=repr
            ),
            "versions": sorted(versions, key=repr),
            "files": sorted(map(tuple, files)),
            "problems": sorted((plain(p) for p in problems), key=repr),
        }


def test_a_sync_in_batches_indexes_what_one_batch_does(
    app, settings, make_catalog_repo, monkeypatch
):
    """A large catalog is loaded, validated and written a batch of templates at a time;
    the index it makes is the one a single batch makes, problems and times included."""
    from catalog_server.catalogs import CatalogSource
    from catalog_server.indexer import loading, plan
    from catalog_server.scheduler import sync_one
    from catalog_server.sources import GitSnapshot

    monkeypatch.setattr(loading, "PARALLEL_BATCHES", 10**9)  # in this process: counted below
    repo = make_catalog_repo(fixture="survey-catalog")
    repo.copy("api-catalog")
    repo.commit("more templates")
    repo.write(compose_template("late", {"0": "1.0.0", "1": "1.1.0"}))
    repo.commit("a later template")
    prefetched: list[int] = []
    original = GitSnapshot.prefetch

    def counting(self, paths, *args, **kw):
        paths = list(paths)
        prefetched.append(len(paths))
        return original(self, paths, *args, **kw)

    monkeypatch.setattr(GitSnapshot, "prefetch", counting)
    with app.app_context():
        whole = sync_one(db.session, settings, CatalogSource(name="whole", url=str(repo.path)))
        assert len(prefetched) == 1
        monkeypatch.setattr(plan, "BATCH_FILES", 1)  # every template a batch of its own
        prefetched.clear()
        batched = sync_one(db.session, settings, CatalogSource(name="batched", url=str(repo.path)))
    assert whole.status == batched.status == "updated"
    assert len(prefetched) == batched.templates_reloaded == whole.templates_reloaded > 10
    assert sorted(batched.reloaded) == sorted(whole.reloaded)
    one, many = catalog_state(app, "whole"), catalog_state(app, "batched")
    assert one["problems"], "the fixture catalogs have problems to record"
    assert many == one


@pytest.mark.parametrize(
    "dies_at", [None, 0, 5], ids=["workers", "a-worker-dies-at-once", "a-worker-dies-later"]
)
def test_batches_loaded_by_worker_processes_index_what_one_process_does(
    app, settings, make_catalog_repo, monkeypatch, caplog, dies_at
):
    """A sync of many batches loads them in forked worker processes; the index is the one
    a sync loading everything itself makes. When a worker dies, on the first batch or
    after the sync wrote some, the sync loads the rest itself and makes the same index."""
    import os
    from collections import Counter

    from catalog_server.catalogs import CatalogSource
    from catalog_server.indexer import loading, plan
    from catalog_server.scheduler import sync_one

    repo = make_catalog_repo(fixture="survey-catalog")
    repo.copy("api-catalog")
    repo.commit("more templates")
    monkeypatch.setattr(plan, "BATCH_FILES", 1)  # every template a batch of its own
    with app.app_context():
        monkeypatch.setattr(loading, "PARALLEL_BATCHES", 10**9)
        alone = sync_one(db.session, settings, CatalogSource(name="alone", url=str(repo.path)))
        monkeypatch.setattr(loading, "PARALLEL_BATCHES", 2)
        monkeypatch.setattr(loading.os, "cpu_count", lambda: 2)
        submitted: list[int] = []

        class Counting(loading.ProcessPoolExecutor):
            def submit(self, fn, *args, **kwargs):
                submitted.append(args[0])
                return super().submit(fn, *args, **kwargs)

        monkeypatch.setattr(loading, "ProcessPoolExecutor", Counting)
        parent, real = os.getpid(), loading._load
        loads: Counter[int] = Counter()  # batches loaded, by process (each has its own copy)
        fatal = None if dies_at is None else alone.reloaded[dies_at]  # a template a batch

        def dying(snapshot, batch, paths):
            loads[os.getpid()] += 1
            if os.getpid() != parent and batch[0].id == fatal:
                os._exit(3)  # the pool breaks
            return real(snapshot, batch, paths)

        monkeypatch.setattr(loading, "_load", dying)
        shared = sync_one(db.session, settings, CatalogSource(name="shared", url=str(repo.path)))
    assert alone.status == shared.status == "updated"
    assert len(submitted) >= 3, "the workers loaded the batches"
    fell_back = "templates are loaded in the sync process" in caplog.text
    assert fell_back == (dies_at is not None)
    batches = alone.templates_reloaded
    if dies_at is None:
        assert loads[parent] == 0
    elif dies_at == 0:
        assert loads[parent] == batches  # no worker's batch came back: the sync loaded all
    else:
        # Batch 5 is sent to a worker once batch 2 came back (3 in flight): 0-2 were written.
        assert 0 < loads[parent] <= batches - 3
    assert shared.templates_reloaded == alone.templates_reloaded > 10
    assert shared.reloaded == alone.reloaded  # written in the same order
    one, other = catalog_state(app, "alone"), catalog_state(app, "shared")
    assert one["problems"], "the fixture catalogs have problems to record"
    assert other == one


@pytest.mark.parametrize("few", [200, 0], ids=["walk-of-the-folders", "walk-of-everything"])
def test_a_version_is_created_when_its_folder_last_changed(
    app, make_catalog_repo, sync, monkeypatch, few
):
    """A version's created time is the last commit that changed its folder: not moved by
    commits to other versions or templates, nor by one to its template's own files."""
    from datetime import UTC

    from catalog_server import sources

    monkeypatch.setattr(sources, "FEW_FOLDERS", few)

    def commit_at(repo, day: int, message: str) -> None:
        monkeypatch.setenv("GIT_COMMITTER_DATE", f"2024-01-{day:02d}T12:00:00+00:00")
        repo.commit(message)

    def created() -> dict[tuple[str, str], int]:
        with app.app_context():
            rows = db.session.execute(
                select(Template.slug, TemplateVersion.version, TemplateVersion.created).join(
                    Template, Template.id == TemplateVersion.template_id
                )
            ).all()
        return {(s, v): (c.replace(tzinfo=UTC) if c.tzinfo is None else c).day for s, v, c in rows}

    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-01-01T12:00:00+00:00")
    repo = make_catalog_repo(
        files=compose_template("a", {"0": "1.0.0", "1": "1.1.0"})
        | compose_template("b", {"0": "1.0.0"})
    )
    repo.write({"templates/a/1/docker-compose.yml": COMPOSE + "  other:\n    image: redis:7\n"})
    commit_at(repo, 5, "a 1.1.0 changes")
    sync(repo.source())
    assert created() == {("a", "1.0.0"): 1, ("a", "1.1.0"): 5, ("b", "1.0.0"): 1}
    repo.write({"templates/a/config.yml": "name: a\nversion: 1.1.0\ndescription: new\n"})
    commit_at(repo, 9, "a's description")
    repo.write({"templates/b/0/README.md": "# b\n"})
    commit_at(repo, 12, "b's readme")
    assert sync(repo.source()).templates_reloaded == 2
    assert created() == {("a", "1.0.0"): 1, ("a", "1.1.0"): 5, ("b", "1.0.0"): 12}


def test_a_large_sync_brings_postgresqls_planner_statistics_up_to_date(
    app, make_catalog_repo, sync, monkeypatch
):
    """Statistics, and the visibility map the templates' list index needs to answer alone,
    right after a sync that rewrote many templates."""
    from sqlalchemy import text

    from catalog_server import indexer

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite plans without statistics tables here")
    repo = make_catalog_repo(fixture="api-catalog")
    monkeypatch.setattr(indexer, "ANALYZE_AFTER", 3)
    summary = sync(repo.source())
    assert summary.templates_reloaded >= 3

    def maintained() -> dict:
        with app.app_context():
            db.session.remove()
            rows = db.session.execute(
                text(
                    "SELECT relname, last_analyze IS NOT NULL, last_vacuum IS NOT NULL "
                    "FROM pg_stat_user_tables "
                    "WHERE relname IN ('templates', 'template_versions', 'template_search')"
                )
            ).all()
            return {name: (analyzed, vacuumed) for name, analyzed, vacuumed in rows}

    assert maintained() == {
        "templates": (True, True),
        "template_search": (True, True),
        "template_versions": (True, False),
    }


def test_maintenance_that_fails_after_a_sync_leaves_the_sync_done(
    app, make_catalog_repo, sync, monkeypatch, caplog
):
    from catalog_server import indexer

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the maintenance after a sync is PostgreSQL's")
    repo = make_catalog_repo(fixture="api-catalog")
    monkeypatch.setattr(indexer, "ANALYZE_AFTER", 1)
    monkeypatch.setattr(indexer, "_VACUUMED", ("templates", "no_such_table"))
    summary = sync(repo.source())
    assert summary.status == "updated"
    assert served(app)
    assert "database maintenance after the sync failed" in caplog.text
