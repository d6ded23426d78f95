"""A sync that loads many chart versions serves its chart repository (index.yaml and
archives) before the rest of its work is done (catalog_server.indexer.early)."""

from __future__ import annotations

import hashlib
import os

import pytest
import yaml
from sqlalchemy import func, select

from catalog_server import indexer
from catalog_server.db import db
from catalog_server.indexer import early
from catalog_server.models import Catalog, ChartDraft, DraftArchive
from catalog_server.problems import SourceError


@pytest.fixture
def publish_always(monkeypatch):
    """Publish ahead whatever the number of chart versions (the fixtures hold a few)."""
    monkeypatch.setattr(early, "EARLY_VERSIONS", 1)


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(True))
    return response


def served(client, catalog: str = "lib") -> dict:
    """What a Helm client sees: the index, and each listed archive checked against it."""
    index = yaml.safe_load(get(client, f"/helm/{catalog}/index.yaml").data)
    versions = {}
    for name, entries in (index["entries"] or {}).items():
        for entry in entries:
            archive = get(client, f"/helm/{catalog}/{entry['urls'][0]}").data
            assert hashlib.sha256(archive).hexdigest() == entry["digest"], entry["urls"]
            versions.setdefault(name, []).append(entry["version"])
    return versions


def during_the_sync(monkeypatch, look, fail: BaseException | None = None):
    """Run ``look()`` when the sync starts its (slow) work after publishing; then go on, or
    raise ``fail``."""
    seen = []
    real = indexer.index_batch

    def first_batch(*args, **kw):
        if not seen:
            seen.append(look())
            if fail is not None:
                raise fail
        return real(*args, **kw)

    monkeypatch.setattr(indexer, "index_batch", first_batch)
    return seen


def add_version(repo, version: str) -> None:
    repo.copy("manifest-catalog/charts/app/1.1.0", f"charts/app/{version}")
    chart = repo.path / f"charts/app/{version}/Chart.yaml"
    chart.write_text(chart.read_text().replace("version: 1.1.0", f"version: {version}"))


def draft_rows(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(ChartDraft)),
            db.session.scalar(select(func.count()).select_from(DraftArchive)),
        )


def test_a_new_catalogs_charts_are_served_before_its_templates(
    make_catalog_repo, sync, client, app, monkeypatch, publish_always
):
    repo = make_catalog_repo(fixture="manifest-catalog")

    def look():
        return (
            served(client),
            get(client, "/helm/lib/index.yaml").data,
            get(client, "/api/v1/templates?catalog=lib").json["total"],
        )

    seen = during_the_sync(monkeypatch, look)
    assert sync(repo.source("lib")).status == "updated"
    charts, draft_index, templates = seen[0]
    assert charts == {"app": ["1.1.0", "1.0.0"]}
    assert templates == 0  # the API shows the catalog at the swap only
    # The swap serves the index built from the rows: the same text, digests included.
    assert get(client, "/helm/lib/index.yaml").data == draft_index
    assert served(client) == charts
    assert draft_rows(app) == (0, 0)


def test_a_failed_sync_stops_serving_what_it_published(
    make_catalog_repo, sync, client, app, monkeypatch, publish_always
):
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    before = get(client, "/helm/lib/index.yaml")
    add_version(repo, "1.2.0")
    repo.commit("app 1.2.0")

    seen = during_the_sync(monkeypatch, lambda: served(client), SourceError("git went away"))
    summary = sync(repo.source("lib"))
    assert summary.status == "failed"
    assert seen == [{"app": ["1.2.0", "1.1.0", "1.0.0"]}]
    after = get(client, "/helm/lib/index.yaml")
    assert after.data == before.data
    assert after.headers["ETag"] != before.headers["ETag"]  # clients that saw the draft refetch
    get(client, "/helm/lib/charts/app-1.2.0.tgz", 404)
    assert draft_rows(app) == (0, 0)


def test_a_sync_that_crashed_after_publishing_leaves_nothing_served(
    make_catalog_repo, sync, client, app, monkeypatch, publish_always
):
    repo = make_catalog_repo(fixture="manifest-catalog")
    during_the_sync(monkeypatch, lambda: None, RuntimeError("a bug"))
    with pytest.raises(RuntimeError):
        sync(repo.source("lib"))
    assert draft_rows(app) == (0, 0)
    assert yaml.safe_load(get(client, "/helm/lib/index.yaml").data)["entries"] == {}


def test_a_draft_left_by_a_stopped_sync_goes_at_the_next_sync(
    make_catalog_repo, sync, client, app, monkeypatch, publish_always
):
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    good = get(client, "/helm/lib/index.yaml").data
    # What a sync killed after publishing leaves (the process gone, nothing withdrawn).
    with app.app_context():
        catalog = db.session.scalar(select(Catalog).where(Catalog.name == "lib"))
        db.session.add(ChartDraft(catalog_id=catalog.id, index=b"apiVersion: v1\nentries: {}\n",
                                  created_at=catalog.indexed_at))  # fmt: skip
        catalog.generation += 1
        db.session.commit()
    assert get(client, "/helm/lib/index.yaml").data != good
    assert sync(repo.source("lib")).status == "up to date"
    assert get(client, "/helm/lib/index.yaml").data == good
    assert draft_rows(app) == (0, 0)


def test_a_large_change_publishes_the_unchanged_charts_too(
    make_catalog_repo, sync, client, app, monkeypatch, publish_always
):
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    repo.copy("manifest-catalog/charts/app", "charts/other")
    for chart in (repo.path / "charts/other").glob("*/Chart.yaml"):
        chart.write_text(chart.read_text().replace("name: app", "name: other"))
    repo.commit("another chart")

    seen = during_the_sync(monkeypatch, lambda: served(client))
    summary = sync(repo.source("lib"))
    assert summary.status == "updated" and summary.templates_reloaded == 1
    expected = {"app": ["1.1.0", "1.0.0"], "other": ["1.1.0", "1.0.0"]}
    assert seen == [expected]  # app's archives rebuilt from its rows, other's from the draft
    assert served(client) == expected


def test_small_syncs_do_not_publish_ahead(make_catalog_repo, sync, client, monkeypatch):
    repo = make_catalog_repo(fixture="manifest-catalog")
    seen = during_the_sync(monkeypatch, lambda: served(client))
    assert sync(repo.source("lib")).status == "updated"
    assert seen == [{}]  # two chart versions: below EARLY_VERSIONS


def two_charts(make_catalog_repo):
    repo = make_catalog_repo(fixture="manifest-catalog")
    repo.copy("manifest-catalog/charts/app", "charts/other")
    for chart in (repo.path / "charts/other").glob("*/Chart.yaml"):
        chart.write_text(chart.read_text().replace("name: app", "name: other"))
    repo.commit("another chart")
    return repo


def test_chart_versions_are_packaged_by_worker_processes(
    make_catalog_repo, sync, client, monkeypatch, publish_always, tmp_path
):
    monkeypatch.setattr(early, "TASK_VERSIONS", 1)  # a task per template: two workers
    workers = tmp_path / "workers"
    real = early._charts

    def charts(*args):
        with workers.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(early, "_charts", charts)
    repo = two_charts(make_catalog_repo)
    seen = during_the_sync(monkeypatch, lambda: get(client, "/helm/lib/index.yaml").data)
    assert sync(repo.source("lib")).status == "updated"
    pids = set(workers.read_text().split())
    assert pids and str(os.getpid()) not in pids  # worker processes, not this one
    assert yaml.safe_load(seen[0])["entries"].keys() == {"app", "other"}
    assert get(client, "/helm/lib/index.yaml").data == seen[0]


def test_a_worker_that_dies_means_nothing_is_published_ahead(
    make_catalog_repo, sync, client, monkeypatch, publish_always
):
    monkeypatch.setattr(early, "TASK_VERSIONS", 1)
    monkeypatch.setattr(early, "_charts", lambda *args: os._exit(3))
    repo = two_charts(make_catalog_repo)
    seen = during_the_sync(monkeypatch, lambda: served(client))
    assert sync(repo.source("lib")).status == "updated"
    assert seen == [{}]
    assert served(client) == {"app": ["1.1.0", "1.0.0"], "other": ["1.1.0", "1.0.0"]}


def test_a_chart_that_no_longer_loads_stays_listed_in_the_draft(
    make_catalog_repo, sync, client, monkeypatch, publish_always
):
    """As at the swap, which keeps the last good state of a template that cannot be loaded."""
    repo = two_charts(make_catalog_repo)
    assert sync(repo.source("lib")).status == "updated"
    before = served(client)
    for folder in ("charts/app/1.0.0", "charts/app/1.1.0"):
        (repo.path / folder / "Chart.yaml").unlink()
        (repo.path / folder / "Chart.yaml").symlink_to("../../other/1.0.0/Chart.yaml")
    (repo.path / "charts/other/1.1.0/README.md").write_text("changed\n")
    repo.commit("app broken, other changed")
    seen = during_the_sync(monkeypatch, lambda: served(client))
    assert sync(repo.source("lib")).status == "updated"
    assert seen == [before] == [served(client)]


def test_a_file_name_two_new_templates_give_is_the_first_templates(
    make_catalog_repo, sync, client, monkeypatch, publish_always
):
    """charts/app and charts/app-classic both give app-1.0.0.tgz: the index lists app's, as
    at the swap, and serves its archive, even when the other template's came in first."""
    repo = make_catalog_repo(fixture="shared-chart-name")
    repo.copy("shared-chart-name/charts/app/1.0.0", "charts/app-classic/1.0.0")
    (repo.path / "charts/app-classic/1.0.0/values.yaml").write_text("classic: true\n")
    repo.commit("app-classic gives app 1.0.0 too")
    monkeypatch.setattr(early, "TASK_VERSIONS", 1)
    tasks = early._tasks
    monkeypatch.setattr(early, "_tasks", lambda *args: list(reversed(tasks(*args))))
    seen = during_the_sync(
        monkeypatch, lambda: (get(client, "/helm/shared/index.yaml").data, served(client, "shared"))
    )
    assert sync(repo.source("shared")).status == "updated"
    draft_index, charts = seen[0]
    assert charts["app"] == ["2.0.0", "1.10.0", "1.5.0", "1.0.0"]
    assert get(client, "/helm/shared/index.yaml").data == draft_index
