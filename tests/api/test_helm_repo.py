"""The Helm chart repository at /helm/<catalog>/, read by our tests and by a real Helm client."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import git
import pytest
import yaml

from catalog_server import helmsdk, responsecache
from catalog_server.catalogs import CatalogSource
from catalog_server.helmrepo import render_index

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


@pytest.fixture
def repo(make_catalog_repo):
    return make_catalog_repo(fixture="manifest-catalog")


@pytest.fixture
def indexed(repo, sync):
    summary = sync(repo.source("lib"))
    assert summary.status == "updated", summary
    return repo


def get(client, url, status=200, **kw):
    response = client.get(url, **kw)
    assert response.status_code == status, (url, response.status_code, response.get_data(True))
    return response


def test_index_lists_every_chart_version_and_no_compose_template(indexed, client):
    response = get(client, "/helm/lib/index.yaml")
    assert response.content_type.startswith("application/x-yaml")
    index = yaml.safe_load(response.get_data(True))
    assert index["apiVersion"] == "v1"
    assert list(index["entries"]) == ["app"]
    versions = index["entries"]["app"]
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    for entry in versions:
        assert entry["urls"] == [f"charts/app-{entry['version']}.tgz"]
        assert entry["annotations"]["catalog.cattle.io/release-name"] == "webapp"
    assert {v["appVersion"] for v in versions} == {"2.4.0", "2.4.1"}


def test_archives_match_the_index_digests(indexed, client):
    index = yaml.safe_load(get(client, "/helm/lib/index.yaml").get_data(True))
    for entry in index["entries"]["app"]:
        response = get(client, f"/helm/lib/{entry['urls'][0]}")
        assert response.content_type == "application/gzip"
        assert hashlib.sha256(response.data).hexdigest() == entry["digest"]
        with tarfile.open(fileobj=io.BytesIO(response.data)) as tar:
            names = tar.getnames()
        assert "app/Chart.yaml" in names and "app/templates/deployment.yaml" in names
        assert all(name.startswith("app/") for name in names)


def commit_time(commit) -> str:
    return datetime.fromtimestamp(commit.committed_date, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_generated_and_created_are_the_commit_times(indexed, client):
    index = yaml.safe_load(get(client, "/helm/lib/index.yaml").get_data(True))
    expected = commit_time(indexed.repo.head.commit)
    assert index["generated"] == expected
    assert {v["created"] for v in index["entries"]["app"]} == {expected}


def test_etag_and_304_on_index_and_archives(indexed, client):
    for url in ("/helm/lib/index.yaml", "/helm/lib/charts/app-1.0.0.tgz"):
        first = get(client, url)
        etag = first.headers["ETag"]
        again = get(client, url, 304, headers={"If-None-Match": etag})
        assert again.data == b""
        assert get(client, url).headers["ETag"] == etag


def test_index_changes_only_with_the_catalog(indexed, client, sync):
    first = get(client, "/helm/lib/index.yaml")
    assert sync(indexed.source("lib")).status == "up to date"
    assert get(client, "/helm/lib/index.yaml").data == first.data
    indexed.copy("manifest-catalog/charts/app/1.1.0", "charts/app/1.2.0")
    chart = (indexed.path / "charts/app/1.2.0/Chart.yaml").read_text()
    (indexed.path / "charts/app/1.2.0/Chart.yaml").write_text(
        chart.replace("version: 1.1.0", "version: 1.2.0")
    )
    indexed.commit("app 1.2.0")
    assert sync(indexed.source("lib")).status == "updated"
    later = get(client, "/helm/lib/index.yaml", headers={"If-None-Match": first.headers["ETag"]})
    index = yaml.safe_load(later.get_data(True))
    assert [v["version"] for v in index["entries"]["app"]] == ["1.2.0", "1.1.0", "1.0.0"]
    assert get(client, "/helm/lib/charts/app-1.2.0.tgz").data


@pytest.mark.parametrize(
    "url",
    [
        "/helm/nope/index.yaml",
        "/helm/lib/charts/app-9.9.9.tgz",
        "/helm/lib/charts/stack-1.0.0.tgz",
        "/helm/lib/charts/../index.yaml.tgz",
    ],
)
def test_unknown_catalog_or_chart_is_404(indexed, client, url):
    assert client.get(url).status_code == 404


def test_two_clones_of_one_commit_serve_identical_archives(repo, sync, client, tmp_path):
    clone = tmp_path / "elsewhere" / "clone"
    git.Repo.clone_from(repo.path, clone)
    sync(repo.source("one"))
    sync(CatalogSource(name="two", url=str(clone)))
    one = yaml.safe_load(get(client, "/helm/one/index.yaml").get_data(True))
    two = yaml.safe_load(get(client, "/helm/two/index.yaml").get_data(True))
    assert one["entries"] == two["entries"]
    for entry in one["entries"]["app"]:
        url = entry["urls"][0]
        assert get(client, f"/helm/one/{url}").data == get(client, f"/helm/two/{url}").data


def test_requests_that_come_while_the_index_is_built_wait_for_that_build(indexed, app, monkeypatch):
    from catalog_server.api import helm as helm_api

    builds, real_build = [], helm_api.build_index

    def slow_build(catalog: str):
        builds.append(catalog)
        time.sleep(0.5)  # the other requests arrive meanwhile
        return real_build(catalog)

    monkeypatch.setattr(helm_api, "build_index", slow_build)
    bodies = []

    def fetch():
        bodies.append(get(app.test_client(), "/helm/lib/index.yaml").data)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["lib"]
    assert len(bodies) == 3 and len(set(bodies)) == 1


def rendered_again(text: bytes) -> bytes:
    """render_index's text for what a served index holds: the served one must be it, byte
    for byte, however its entries were read and written."""
    parsed = yaml.safe_load(text)
    return render_index(parsed["entries"], parsed["generated"]).encode()


def test_versions_of_one_chart_from_two_templates_are_one_list(make_catalog_repo, sync, client):
    # app/ and app-classic/ both give chart "app"; zz-first/ gives chart "aardvark".
    repo = make_catalog_repo(fixture="shared-chart-name")
    assert sync(repo.source("shared")).status == "updated"
    text = get(client, "/helm/shared/index.yaml").data
    assert text == rendered_again(text)
    index = yaml.safe_load(text)
    assert list(index["entries"]) == ["aardvark", "app"]
    versions = [v["version"] for v in index["entries"]["app"]]
    assert versions == ["2.0.0", "1.10.0", "1.5.0", "1.0.0"]
    for entry in index["entries"]["app"]:
        assert get(client, f"/helm/shared/{entry['urls'][0]}").data


@pytest.fixture
def bundled_repo(make_catalog_repo, sync):
    repo = make_catalog_repo()
    shutil.copytree(Path(__file__).resolve().parents[2] / "catalog", repo.path, dirs_exist_ok=True)
    repo.commit("the bundled catalog")
    assert sync(repo.source("library")).status == "updated"
    return repo


@pytest.mark.parametrize("first", ["plain", "gzip", "head"])
@pytest.mark.parametrize("kept_as", ["bytes", "files"])
def test_the_bundled_index_is_the_same_in_every_form(
    bundled_repo, client, monkeypatch, first, kept_as
):
    """Plain, gzip and HEAD give the one text, whichever the first request was (it builds
    the index) and whether the answer is kept as bytes or as files (large indexes)."""
    if kept_as == "files":
        monkeypatch.setattr(responsecache, "SHARED_FILE_BYTES", 1024)
    url = "/helm/library/index.yaml"
    forms = {
        "plain": lambda: get(client, url),
        "gzip": lambda: get(client, url, headers={"Accept-Encoding": "gzip"}),
        "head": lambda: client.head(url),
    }
    answers = {first: forms[first]()}
    answers.update((form, ask()) for form, ask in forms.items() if form not in answers)
    plain, packed, head = answers["plain"], answers["gzip"], answers["head"]
    assert len(plain.data) > 1024
    assert plain.data == rendered_again(plain.data)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["Content-Length"] == str(len(packed.data))
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(plain.data))
    assert head.headers["ETag"] == plain.headers["ETag"] != packed.headers["ETag"]
    for answer in (plain, packed):
        assert answer.headers["Vary"] == "Accept-Encoding"
        assert answer.content_type == "application/x-yaml; charset=utf-8"
        etag = answer.headers["ETag"]
        assert get(client, url, 304, headers={"If-None-Match": etag}).headers["ETag"] == etag


@pytest.fixture
def other_worker(settings):
    """An app on the same database and cache folder: what another worker process of the
    same server is (its own in-process caches)."""
    from catalog_server.app import create_app
    from catalog_server.db import db

    app = create_app({"TESTING": True}, settings=settings)
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def counted_builds(monkeypatch):
    from catalog_server.api import helm as helm_api

    builds: list[str] = []
    real = helm_api.build_index

    def counting(catalog):
        builds.append(catalog)
        return real(catalog)

    monkeypatch.setattr(helm_api, "build_index", counting)
    # The fixture's index (1 kB) as a large one: in files, and with a gzip form.
    monkeypatch.setattr(responsecache, "SHARED_FILE_BYTES", 256)
    monkeypatch.setattr(responsecache, "GZIP_MIN_BYTES", 256)
    return builds


def test_a_large_index_is_built_once_for_every_worker(
    indexed, client, other_worker, settings, sync, counted_builds
):
    """The first worker to need a large index builds it and writes it to the cache folder;
    another worker sends those files (plain, gzip, and the archives the index names). A
    sync's new index is built once again; the files of a state before it go once no
    worker can be reading them any more."""
    import os

    from catalog_server.api import helm as helm_api

    url = "/helm/lib/index.yaml"
    other = other_worker
    built = get(client, url)
    assert len(built.data) > 256
    shared = get(other, url)
    assert shared.data == built.data and shared.headers["ETag"] == built.headers["ETag"]
    packed = get(other, url, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(packed.data) == built.data
    index = yaml.safe_load(shared.data)
    for entry in index["entries"]["app"]:
        archive = get(other, f"/helm/lib/{entry['urls'][0]}").data
        assert hashlib.sha256(archive).hexdigest() == entry["digest"]
    assert counted_builds == ["lib"]
    folder = settings.cache_dir / "helm-index"
    first_state = {p.name for p in folder.iterdir()}
    assert {Path(n).suffix for n in first_state} == {".yaml", ".gz", ".json", ".lock"}

    def change(text: str) -> bytes:
        chart = indexed.path / "charts/app/1.1.0/Chart.yaml"
        chart.write_text(chart.read_text().replace("description:", f"description: {text}"))
        indexed.commit(text)
        assert sync(indexed.source("lib")).status == "updated"
        after = [get(c, url).data for c in (other, client)]
        assert after[0] == after[1] and text.encode() in after[0]
        return after[0]

    assert change("Changed.") != built.data
    assert counted_builds == ["lib", "lib"]
    files = {p.name for p in folder.iterdir()}
    assert first_state < files, "a worker may still be reading the state before the sync"
    long_ago = time.time() - helm_api.STALE_SECONDS - 1
    for name in first_state:
        os.utime(folder / name, (long_ago, long_ago))
    change("Again.")
    assert counted_builds == ["lib", "lib", "lib"]
    left = {p.name for p in folder.iterdir()}
    assert not first_state & left, "the old state's files go"
    assert len({name.split(".")[0] for name in left}) == 2  # the last two states


def test_a_cut_short_shared_index_is_built_again(
    indexed, client, other_worker, settings, counted_builds
):
    """Files that a crash left shorter than written are not served: the next worker
    builds the index again."""
    url = "/helm/lib/index.yaml"
    built = get(client, url).data
    (text,) = (settings.cache_dir / "helm-index").glob("*.yaml")
    text.write_bytes(text.read_bytes()[:100])
    assert get(other_worker, url).data == built
    assert counted_builds == ["lib", "lib"]


def test_a_catalog_added_again_at_the_same_commit_serves_its_own_archives(
    indexed, client, app, other_worker, settings, sync, counted_builds
):
    """A catalog removed and added again at the commit it had is new rows: a worker does
    not read the index files (and archive names) of the old ones."""
    from sqlalchemy import select

    from catalog_server.db import db
    from catalog_server.models import Catalog

    url = "/helm/lib/index.yaml"
    get(client, url)
    with app.app_context():
        db.session.delete(db.session.scalar(select(Catalog).where(Catalog.name == "lib")))
        db.session.commit()
    get(client, url, 404)
    assert sync(indexed.source("other")).status == "updated"  # takes the freed row ids
    assert sync(indexed.source("lib")).status == "updated"
    for worker in (other_worker, client):  # one that read the files, one that built them
        index = yaml.safe_load(get(worker, url).data)
        for entry in index["entries"]["app"]:
            archive = get(worker, f"/helm/lib/{entry['urls'][0]}").data
            assert hashlib.sha256(archive).hexdigest() == entry["digest"]
    assert counted_builds == ["lib", "lib"]


def test_workers_build_their_own_index_when_the_cache_folder_cannot_be_written(
    indexed, client, other_worker, settings, counted_builds
):
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    (settings.cache_dir / "helm-index").write_text("a file where the folder would be")
    url = "/helm/lib/index.yaml"
    answers = [get(c, url).data for c in (client, other_worker)]
    assert answers[0] == answers[1]
    assert counted_builds == ["lib", "lib"]


@needs_helm
def test_a_real_helm_client_reads_the_repository(indexed, app, tmp_path, monkeypatch, http_server):
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    with http_server(app) as host:
        url = f"http://{host}/helm/lib"
        index = helmsdk.repo_index(url)
        versions = index["entries"]["app"]
        assert sorted(v["version"] for v in versions) == ["1.0.0", "1.1.0"]
        for entry in versions:
            dest = tmp_path / "pulled" / entry["version"]
            dest.mkdir(parents=True)
            archive = helmsdk.pull("app", repo_url=url, version=entry["version"], dest=dest)
            assert archive.name == f"app-{entry['version']}.tgz"
            assert hashlib.sha256(archive.read_bytes()).hexdigest() == entry["digest"]


@needs_helm
def test_a_real_helm_client_pulls_every_bundled_chart(
    make_catalog_repo, sync, app, tmp_path, monkeypatch, http_server
):
    bundled = Path(__file__).resolve().parents[2] / "catalog"
    repo = make_catalog_repo()
    shutil.copytree(bundled, repo.path, dirs_exist_ok=True)
    repo.commit("the bundled catalog")
    assert sync(repo.source("library")).status == "updated"
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    expected = {p.parent.parent.name for p in bundled.glob("charts/*/*/Chart.yaml")}
    with http_server(app) as host:
        url = f"http://{host}/helm/library"
        index = helmsdk.repo_index(url)
        assert set(index["entries"]) == expected
        for name, versions in index["entries"].items():
            for entry in versions:
                dest = tmp_path / "pulled" / name / entry["version"]
                dest.mkdir(parents=True)
                archive = helmsdk.pull(name, repo_url=url, version=entry["version"], dest=dest)
                assert hashlib.sha256(archive.read_bytes()).hexdigest() == entry["digest"]
