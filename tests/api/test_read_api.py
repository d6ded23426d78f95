"""The read API over a real git catalog with good and broken templates side by side."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from catalog_server.db import db


@pytest.fixture
def indexed(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="api-catalog")
    summary = sync(repo.source("lib"))
    assert summary.status == "updated", summary
    return repo, summary


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(True))
    return response


def test_sync_serves_good_templates_and_records_the_broken_one(indexed):
    _, summary = indexed
    assert summary.templates_total == 5
    assert summary.templates_failed == 1
    assert summary.templates_reloaded == 6
    assert summary.errors >= 2


def test_template_list_with_facets(indexed, client):
    body = get(client, "/api/v1/templates").json
    ids = [t["id"] for t in body["items"]]
    assert sorted(ids) == ["charts*demo", "halfbroken", "infra*dns", "stable*plain", "web"]
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == 20
    assert body["facets"]["kind"] == {"compose": 3, "helm": 2}
    assert body["facets"]["category"]["Load Balancing"] == 1
    web = next(t for t in body["items"] if t["id"] == "web")
    assert web["name"] == "Web Server"
    assert web["kind"] == "compose"
    assert web["latest_version"] == "1.1.0"
    assert web["links"]["icon"] == "/api/v1/templates/lib/web/icon"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=proxy", ["web"]),
        ("q=WEBAPP", ["charts*demo"]),  # chart keywords are searched, case-insensitively
        ("q=web server", ["web"]),  # every word must match
        ("q=100%25", []),  # LIKE wildcards are literal
        ("kind=helm", ["charts*demo", "stable*plain"]),
        ("category=Monitoring", ["halfbroken"]),
        ("catalog=other", []),
        ("kind=compose&category=External DNS", ["infra*dns"]),
    ],
)
def test_template_filters(indexed, client, query, expected):
    body = get(client, f"/api/v1/templates?{query}").json
    assert sorted(t["id"] for t in body["items"]) == expected
    assert body["total"] == len(expected)


def test_paging(indexed, client):
    first = get(client, "/api/v1/templates?per_page=2").json
    second = get(client, "/api/v1/templates?per_page=2&page=2").json
    third = get(client, "/api/v1/templates?per_page=2&page=3").json
    ids = [t["id"] for page in (first, second, third) for t in page["items"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert first["total"] == 5


@pytest.mark.parametrize(
    "query", ["per_page=101", "per_page=0", "page=0", "page=abc", "kind=docker", "q=%00"]
)
def test_bad_parameters_are_400_with_the_error_shape(indexed, client, query):
    response = get(client, f"/api/v1/templates?{query}", 400)
    error = response.json["error"]
    assert error["code"] == "bad_parameter"
    assert error["message"]


def test_template_detail_lists_versions_newest_first(indexed, client):
    body = get(client, "/api/v1/templates/lib/web").json
    assert [v["version"] for v in body["versions"]] == ["1.1.0", "1.0.0"]
    assert body["default_version"] == "1.1.0"
    assert body["maintainer"] == "Platform Team <platform@example.com>"
    assert body["project_url"] == "https://example.com/web"
    assert body["versions"][0]["upgrade_from"] == ">=1.0.0 <1.1.0"
    assert body["versions"][0]["links"]["self"] == "/api/v1/templates/lib/web/versions/1.1.0"


def test_version_detail(indexed, client):
    body = get(client, "/api/v1/templates/lib/web/versions/1.1.0").json
    assert body["folder"] == "1"
    assert body["minimum_rancher_version"] == "v1.6.0"
    assert [q["variable"] for q in body["questions"]] == ["HTTP_PORT", "GREETING"]
    paths = [f["path"] for f in body["files"]]
    assert paths == ["README.md", "docker-compose.yml", "rancher-compose.yml"]
    assert body["links"]["readme"].endswith("/versions/1.1.0/readme")
    # the version folder's name works as the version id too
    assert get(client, "/api/v1/templates/lib/web/versions/0").json["version"] == "1.0.0"


def test_helm_version_detail_carries_the_chart(indexed, client):
    body = get(client, "/api/v1/templates/lib/charts*demo/versions/1.1.0").json
    assert body["app_version"] == "2.1.1.0"
    assert body["chart"]["apiVersion"] == "v2"
    assert body["questions"][0]["variable"] == "replicas"
    assert "templates/configmap.yaml" in [f["path"] for f in body["files"]]


def test_raw_files(indexed, client):
    response = get(client, "/api/v1/templates/lib/web/versions/1.1.0/files/docker-compose.yml")
    assert response.content_type.startswith("application/yaml")
    assert b"nginx:1.27.3" in response.data
    assert "sandbox" in response.headers["Content-Security-Policy"]
    for path in ["../config.yml", "nope.yml", "..%2Fconfig.yml", "%2e%2e/config.yml"]:
        error = get(client, f"/api/v1/templates/lib/web/versions/1.1.0/files/{path}", 404)
        assert error.json["error"]["code"] == "not_found"


def test_icon_and_readmes(indexed, client):
    icon = get(client, "/api/v1/templates/lib/web/icon")
    assert icon.content_type == "image/svg+xml"
    assert icon.data.startswith(b"<svg")
    assert "sandbox" in icon.headers["Content-Security-Policy"]
    assert get(client, "/api/v1/templates/lib/infra*dns/icon", 404).json["error"]
    readme = get(client, "/api/v1/templates/lib/web/readme")
    assert readme.content_type.startswith("text/markdown")
    assert b"Serves static files" in readme.data
    assert b"nginx 1.27.3" in get(client, "/api/v1/templates/lib/web/versions/1.1.0/readme").data
    get(client, "/api/v1/templates/lib/web/versions/1.0.0/readme", 404)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/catalogs/nope",
        "/api/v1/templates/nope/web",
        "/api/v1/templates/lib/nope",
        "/api/v1/templates/lib/web/versions/9.9.9",
        "/api/v1/templates/lib/broken",  # never loaded: not served
        "/api/v1/nothing-here",
    ],
)
def test_unknown_things_are_404(indexed, client, url):
    error = get(client, url, 404).json["error"]
    assert error["code"] == "not_found"
    assert error["message"]


def test_wrong_method_is_405_with_the_error_shape(indexed, client):
    response = client.post("/api/v1/templates")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_problems_say_where(indexed, client):
    body = get(client, "/api/v1/problems?template=broken&severity=error").json
    assert body["total"] >= 1
    problem = body["items"][0]
    assert problem["file"] == "templates/broken/config.yml"
    assert problem["line"] == 2  # where the unclosed bracket opens
    assert problem["blocking"] is True
    assert problem["rule"].startswith("yaml.")
    half = get(client, "/api/v1/templates/lib/halfbroken").json
    assert [v["version"] for v in half["versions"]] == ["1.0.0"]
    assert any(
        p["file"] == "templates/halfbroken/1/rancher-compose.yml" and p["blocking"]
        for p in half["problems"]
    )
    get(client, "/api/v1/problems?severity=fatal", 400)


def test_categories(indexed, client):
    body = get(client, "/api/v1/categories").json
    names = {c["name"]: c["templates"] for c in body["items"]}
    assert names["Load Balancing"] == 1
    assert names["Developer Tools"] == 1


def test_catalogs(indexed, client):
    repo, summary = indexed
    body = get(client, "/api/v1/catalogs").json
    assert body["total"] == 1
    catalog = get(client, "/api/v1/catalogs/lib").json
    assert catalog["commit"] == repo.repo.head.commit.hexsha
    assert catalog["templates"] == 5
    assert catalog["problems"] >= 2
    assert catalog["indexed_at"].endswith("Z")


def test_etag_and_not_modified(indexed, client, make_catalog_repo, sync):
    repo, _ = indexed
    first = get(client, "/api/v1/templates/lib/web")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/templates/lib/web", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    # another URL has another ETag
    assert get(client, "/api/v1/templates").headers["ETag"] != etag
    # a new commit changes every ETag
    repo.write({"templates/web/README.md": "# Web Server\n\nNew text.\n"})
    repo.commit("new readme")
    sync(repo.source("lib"))
    fresh = client.get("/api/v1/templates/lib/web", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag


def test_health_and_readiness(client, app, make_catalog_repo, sync):
    assert get(client, "/api/v1/healthz").json == {"status": "ok"}
    assert get(client, "/api/v1/readyz", 503).json["error"]["code"] == "not_ready"
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    assert get(client, "/api/v1/readyz").json["status"] == "ready"


def _count_queries(app, client, url):
    statements = []
    with app.app_context():
        engine = db.engine

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            get(client, url)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_query_count_does_not_grow_with_the_catalog(app, client, make_catalog_repo, sync):
    """List and detail endpoints run a bounded number of queries (no N+1)."""
    files = {}
    for i in range(12):
        files[f"templates/t{i}/config.yml"] = f"name: T{i}\nversion: 1.0.{i}\ncategory: C{i}\n"
        for rev in range(4):
            files[f"templates/t{i}/{rev}/docker-compose.yml"] = "services:\n  a:\n    image: x:1\n"
            files[f"templates/t{i}/{rev}/rancher-compose.yml"] = (
                f".catalog:\n  version: 1.0.{rev}\n"
                "  questions:\n    - variable: A\n      type: string\n"
            )
    sync(make_catalog_repo(files=files).source("lib"))
    small = _count_queries(app, client, "/api/v1/templates?per_page=2")
    large = _count_queries(app, client, "/api/v1/templates?per_page=100")
    assert large == small
    assert large <= 6
    detail = _count_queries(app, client, "/api/v1/templates/lib/t3")
    version = _count_queries(app, client, "/api/v1/templates/lib/t3/versions/1.0.2")
    assert detail <= 6 and version <= 6


def test_repeated_reads_are_kept_and_sent_gzipped_to_who_takes_it(indexed, client):
    import gzip

    plain = get(client, "/api/v1/templates?per_page=100")
    zipped = client.get("/api/v1/templates?per_page=100", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    # either form's ETag revalidates
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        again = client.get("/api/v1/templates?per_page=100", headers={"If-None-Match": etag})
        assert again.status_code == 304
    # a kept raw file keeps its sandbox
    url = "/api/v1/templates/lib/web/versions/1.1.0/files/docker-compose.yml"
    first, second = get(client, url), get(client, url)
    assert second.data == first.data
    assert "sandbox" in second.headers["Content-Security-Policy"]


@contextlib.contextmanager
def app_with_ttl(settings, ttl: float, database_url: str | None = None):
    """An app (in its context) that trusts its last read of the served state ``ttl`` s
    (on ``database_url``, given as Flask's setting, when there is one)."""
    from dataclasses import replace

    from flask_migrate import upgrade

    from catalog_server.app import create_app

    config = {"TESTING": True}
    if database_url:
        config["SQLALCHEMY_DATABASE_URI"] = database_url
    app = create_app(config, settings=replace(settings, state_ttl=ttl))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_a_sync_is_served_within_the_state_ttl(make_catalog_repo, settings, tmp_path):
    """With a grace period, a process trusts its last read of the state that long, then
    serves the new catalog."""
    import time

    from catalog_server.indexer import sync_catalog

    with app_with_ttl(settings, 0.5) as app:
        repo = make_catalog_repo(fixture="api-catalog")
        client = app.test_client()
        assert client.get("/api/v1/templates").json["total"] == 0
        sync_catalog(db.session, repo.source("lib"), cache_dir=settings.cache_dir)
        time.sleep(0.6)
        assert client.get("/api/v1/templates").json["total"] == 5


@pytest.mark.parametrize("where", ["settings", "flask-config", "relative-path"])
def test_a_commit_to_sqlite_is_served_at_the_next_request(
    make_catalog_repo, settings, tmp_path, monkeypatch, where
):
    """On SQLite a process sees another connection's commit at once (the database's own
    change counter), however long the grace period: no wait after a sync. So too for a
    database given in Flask's own setting, at a path that means something in a URI, or
    relative (Flask puts it in the instance folder)."""
    from catalog_server.indexer import sync_catalog

    if not settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no such counter: a sync shows within the grace period")
    url, expected = None, None
    if where == "flask-config":
        folder = tmp_path / "odd #1 100%"
        folder.mkdir()
        url, expected = f"sqlite:///{folder / 'catalog.db'}", folder / "catalog.db"
    elif where == "relative-path":
        monkeypatch.chdir(tmp_path)  # not where the file goes
        url, expected = "sqlite:///relative.db", settings.instance_dir / "relative.db"
    with app_with_ttl(settings, 3600, url) as app:
        if expected:
            assert expected.exists()
        repo = make_catalog_repo(fixture="api-catalog")
        client = app.test_client()
        assert client.get("/api/v1/templates").json["total"] == 0
        assert client.get("/api/v1/templates").json["total"] == 0  # the kept answer
        sync_catalog(db.session, repo.source("lib"), cache_dir=settings.cache_dir)
        assert client.get("/api/v1/templates").json["total"] == 5
        assert client.get("/helm/lib/index.yaml").status_code == 200


def test_repeats_and_revalidations_are_answered_without_the_database(make_catalog_repo, settings):
    """With a fresh served state, a repeated read and a revalidation run no SQL at all, and
    answer exactly what the view answered."""
    from dataclasses import replace

    from flask_migrate import upgrade

    from catalog_server.app import create_app
    from catalog_server.indexer import sync_catalog

    app = create_app({"TESTING": True}, settings=replace(settings, state_ttl=60))
    with app.app_context():
        upgrade()
        sync_catalog(db.session, make_catalog_repo(fixture="api-catalog").source("lib"),
                     cache_dir=settings.cache_dir)  # fmt: skip
        engine = db.engine
    client = app.test_client()
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for url in [
            "/api/v1/templates?q=web&per_page=5",
            "/api/v1/templates/lib/web/versions/1.1.0/files/docker-compose.yml",
            "/helm/lib/index.yaml",
        ]:
            first = client.get(url)
            assert first.status_code == 200
            statements.clear()
            again = client.get(url)
            assert statements == [], url
            assert again.data == first.data
            assert again.headers["ETag"] == first.headers["ETag"]
            assert again.content_type == first.content_type
            assert again.headers.get("Content-Security-Policy") == first.headers.get(
                "Content-Security-Policy"
            )
            revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
            assert revalidated.status_code == 304 and statements == []
        # what must stay live is never answered from memory
        client.get("/api/v1/readyz")
        assert statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
