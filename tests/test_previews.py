"""Pull-request previews: a branch of a throwaway catalog repository indexed as a preview,
served like a catalog, reported against the base, and removed with all it indexed."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from catalog_server import previews, scheduler
from catalog_server.api import previews as preview_routes
from catalog_server.auth import create_token
from catalog_server.catalogs import CatalogSource
from catalog_server.db import db
from catalog_server.docs.store import update_site
from catalog_server.models import (
    AuditEntry,
    Catalog,
    Preview,
    ProblemRow,
    SitePage,
    Template,
    WebhookDelivery,
)

WEB_CONFIG = """\
name: Web Server
description: A small web server
version: {version}
category: Web
"""
WEB_COMPOSE = """\
services:
  web:
    image: nginx:1.27.3
    environment:
      GREETING: "${GREETING}"
"""
WEB_RANCHER = """\
.catalog:
  name: Web Server
  version: 1.0.0
  questions:
    - variable: GREETING
      label: Greeting
      type: string
      default: hello
"""
# The branch: web's question changes (a new label and default, a new question) in a new
# version 1.1.0 that upgrades from 1.0.0; and a new template that cannot be read.
WEB_COMPOSE_NEW = WEB_COMPOSE + '      COLOR: "${COLOR}"\n'
WEB_RANCHER_NEW = """\
.catalog:
  name: Web Server
  version: 1.1.0
  upgrade_from: ">=1.0.0 <1.1.0"
  questions:
    - variable: GREETING
      label: Greeting shown on the home page
      type: string
      default: hello preview
    - variable: COLOR
      label: Background colour
      type: enum
      options: [blue, green]
      default: green
"""
BROKEN = {
    "templates/broken/config.yml": "name: Broken\nversion: 0.1.0\n",
    "templates/broken/0/docker-compose.yml": "services:\n  web:\n    image: [unclosed\n",
    "templates/broken/0/rancher-compose.yml": ".catalog:\n  version: 0.1.0\n",
}
DB_FILES = {
    "templates/db/config.yml": "name: Database\nversion: 1.0.0\n",
    "templates/db/0/docker-compose.yml": "services:\n  db:\n    image: postgres:17\n",
    "templates/db/0/rancher-compose.yml": ".catalog:\n  version: 1.0.0\n",
}
SECRET = "preview-hook-secret"


@pytest.fixture
def repo(make_catalog_repo):
    repo = make_catalog_repo(
        {
            "templates/web/config.yml": WEB_CONFIG.format(version="1.0.0"),
            "templates/web/0/docker-compose.yml": WEB_COMPOSE,
            "templates/web/0/rancher-compose.yml": WEB_RANCHER,
            **DB_FILES,
        }
    )
    repo.repo.git.checkout("-b", "feature")
    repo.write(
        {
            "templates/web/config.yml": WEB_CONFIG.format(version="1.1.0"),
            "templates/web/1/docker-compose.yml": WEB_COMPOSE_NEW,
            "templates/web/1/rancher-compose.yml": WEB_RANCHER_NEW,
            **BROKEN,
        }
    )
    repo.commit("web 1.1.0 asks for a colour; a broken template")
    # As GitHub keeps a pull request's head in the base repository.
    repo.repo.git.update_ref("refs/pull/7/head", "feature")
    repo.repo.git.checkout("main")
    return repo


@pytest.fixture
def served(app, settings, repo, tmp_path):
    """Settings whose catalogs file names the repository as catalog ``lib`` (a file://
    URL: fetched into the git cache, as a remote is); ``run()`` syncs every catalog
    (previews too) as the sync process does, then the site."""
    catalogs_file = tmp_path / "catalogs.yml"
    catalogs_file.write_text(
        yaml.safe_dump({"catalogs": [{"name": "lib", "url": f"file://{repo.path}"}]})
    )
    mine = dataclasses.replace(settings, sources_file=catalogs_file)
    app.extensions["catalog_settings"] = mine

    def run():
        with app.app_context():
            scheduler.expire_previews(db.session, mine)
            summaries = [
                scheduler.sync_one(db.session, mine, source)
                for source in scheduler.all_sources(db.session, mine)
            ]
            update_site(db.session, mine.cache_dir)
            return {s.catalog: s for s in summaries}

    run.settings = mine
    run()
    return run


@pytest.fixture
def admin(app):
    with app.app_context():
        token = create_token(db.session, "reviewer")
    return {"Authorization": f"Bearer {token}"}


def _count(app, model, **where) -> int:
    with app.app_context():
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return db.session.scalar(stmt)


def _catalog_id(app, name: str) -> int | None:
    with app.app_context():
        return db.session.scalar(select(Catalog.id).where(Catalog.name == name))


def test_a_branch_preview_is_served_reported_and_removed(app, client, served, admin):
    base_before = client.get("/api/v1/templates/lib/web").json
    created = client.post(
        "/api/v1/catalogs/lib/previews", json={"ref": "feature", "id": "pr-7"}, headers=admin
    )
    assert created.status_code == 201, created.json
    assert created.json["name"] == "lib~pr-7" and created.json["state"] == "queued"
    summaries = served()
    assert summaries["lib~pr-7"].status == "updated", summaries["lib~pr-7"]
    # Indexed against the base's commit: only the templates the branch touches are loaded.
    assert sorted(summaries["lib~pr-7"].reloaded) == ["broken", "web"]
    unchanged = client.get("/api/v1/templates/lib~pr-7/db/versions/1.0.0/files/docker-compose.yml")
    assert unchanged.get_data(True) == DB_FILES["templates/db/0/docker-compose.yml"]
    assert client.get("/api/v1/catalogs/lib/previews/pr-7").json["state"] == "ready"

    # The changed template, served by the API under the preview's name.
    web = client.get("/api/v1/templates/lib~pr-7/web").json
    assert web["default_version"] == "1.1.0"
    assert [v["version"] for v in web["versions"]] == ["1.1.0", "1.0.0"]
    version = client.get("/api/v1/templates/lib~pr-7/web/versions/1.1.0").json
    questions = {q["variable"]: q for q in version["questions"]}
    assert questions["GREETING"]["label"] == "Greeting shown on the home page"
    assert questions["COLOR"]["options"] == ["blue", "green"]
    # The manifest with the new question's answer.
    manifest = client.post(
        "/api/v1/templates/lib~pr-7/web/versions/1.1.0/manifest",
        json={"answers": {"COLOR": "blue"}},
    )
    assert manifest.status_code == 200, manifest.json
    compose = next(f for f in manifest.json["files"] if f["path"] == "docker-compose.yml")
    environment = yaml.safe_load(compose["content"])["services"]["web"]["environment"]
    assert environment["COLOR"] == "blue"
    assert environment["GREETING"] == "hello preview"
    # Its site page, with the install form; and the reviewer's page, linking to it.
    page = client.get("/catalogs/lib~pr-7/web/")
    assert page.status_code == 200
    assert "Background colour" in page.get_data(True) and 'id="install"' in page.get_data(True)
    assert client.get("/helm/lib~pr-7/index.yaml").status_code == 200
    # The site has pages of what the preview changes only; the rest are the base's pages.
    assert client.get("/catalogs/lib~pr-7/db/").status_code == 404
    review = client.get("/previews/lib~pr-7/")
    assert review.status_code == 200
    html = review.get_data(True)
    assert "../../catalogs/lib~pr-7/web/#install" in html
    assert "broken" in html and "templates/broken/0/docker-compose.yml" in html
    assert "+      COLOR: &#34;${COLOR}&#34;" in html or '+      COLOR: "${COLOR}"' in html

    # The report: web changed (new version, questions, diff, upgrade path), broken added
    # with its problems, db unchanged and not named.
    report = client.get("/api/v1/catalogs/lib/previews/pr-7/report").json
    by_id = {t["id"]: t for t in report["templates"]}
    assert set(by_id) == {"web", "broken"}
    web_report = by_id["web"]
    assert web_report["change"] == "changed"
    assert web_report["default_version"] == {"base": "1.0.0", "preview": "1.1.0"}
    (new_version,) = web_report["versions"]
    assert new_version["version"] == "1.1.0" and new_version["change"] == "added"
    assert new_version["compared_with"] == "1.0.0"
    assert new_version["questions"] == {"added": ["COLOR"], "changed": ["GREETING"], "removed": []}
    assert '+      COLOR: "${COLOR}"' in new_version["diff"]
    assert "-      label: Greeting\n" in new_version["diff"]
    assert {c["check"]: c["status"] for c in web_report["upgrade"]["checks"]} == {
        "released_unchanged": "pass",
        "version_bumped": "pass",
        "upgrade_from": "pass",
    }
    broken = by_id["broken"]
    assert broken["change"] == "added" and broken["served"] is False
    problem = next(p for p in broken["problems"] if p["severity"] == "error")
    assert problem["file"] == "templates/broken/0/docker-compose.yml" and problem["line"]
    assert report["summary"]["added"] == 1 and report["summary"]["changed"] == 1
    assert problem["new"] is True
    # The problems the change brings in: broken's; web's were in the base already.
    assert (report["summary"]["errors"], report["summary"]["warnings"]) == (1, 2)
    # web has no icon in the base either: that problem is not the change's.
    assert not any(p["new"] for p in web_report["problems"] if p["rule"] == "config.icon-missing")

    # The Markdown report, by Accept and by ?format=markdown alike.
    markdown = client.get(
        "/api/v1/catalogs/lib/previews/pr-7/report", headers={"Accept": "text/markdown"}
    )
    assert markdown.content_type.startswith("text/markdown")
    text = markdown.get_data(True)
    assert text == client.get("/api/v1/catalogs/lib/previews/pr-7/report?format=markdown").get_data(
        True
    )
    assert len(text) < 10_000
    assert "Accept" in markdown.headers["Vary"]
    again = client.get("/api/v1/catalogs/lib/previews/pr-7/report")  # kept: still JSON
    assert again.is_json and again.json == report and "Accept" in again.headers["Vary"]
    etag = markdown.headers["ETag"]
    assert etag and etag != again.headers["ETag"]
    revalidated = client.get(
        "/api/v1/catalogs/lib/previews/pr-7/report",
        headers={"Accept": "text/markdown", "If-None-Match": etag},
    )
    assert revalidated.status_code == 304
    assert "web" in text and "1\\.1\\.0 added" in text
    assert "added COLOR; changed GREETING" in text
    assert "broken" in text and "templates/broken/0/docker\\-compose\\.yml:" in text
    assert problem["rule"].replace(".", "\\.").replace("-", "\\-") in text
    assert "version\\_bumped" not in text and "version_bumped" in text
    assert "problem(s) the catalog has already" in text

    # The base catalog is untouched, and lists and search leave the preview out.
    assert client.get("/api/v1/templates/lib/web").json == base_before
    assert client.get("/api/v1/templates/lib/broken").status_code == 404
    assert [c["name"] for c in client.get("/api/v1/catalogs").json["items"]] == ["lib"]
    listed = client.get("/api/v1/catalogs?include_previews=true").json["items"]
    assert [c["name"] for c in listed] == ["lib", "lib~pr-7"]
    found = client.get("/api/v1/templates?q=web").json
    assert [(t["catalog"], t["id"]) for t in found["items"]] == [("lib", "web")]
    found = client.get("/api/v1/templates?q=web&include_previews=true").json
    assert {t["catalog"] for t in found["items"]} == {"lib", "lib~pr-7"}
    assert all(p["catalog"] == "lib" for p in client.get("/api/v1/problems").json["items"])
    assert "lib~pr-7" not in client.get("/templates.json").get_data(True)
    assert "lib~pr-7" not in client.get("/").get_data(True)

    # DELETE: gone, with everything it indexed; the base stays.
    preview_id = _catalog_id(app, "lib~pr-7")
    assert _count(app, Template, catalog_id=preview_id) == 2
    deleted = client.delete("/api/v1/catalogs/lib/previews/pr-7", headers=admin)
    assert deleted.status_code == 204
    assert client.get("/api/v1/catalogs/lib/previews/pr-7").status_code == 404
    assert client.get("/api/v1/catalogs/lib/previews").json["items"] == []
    assert client.get("/api/v1/catalogs/lib~pr-7").status_code == 404
    assert client.get("/api/v1/templates/lib~pr-7/web").status_code == 404
    assert client.get("/catalogs/lib~pr-7/web/").status_code == 404
    assert client.get("/previews/lib~pr-7/").status_code == 404
    assert _catalog_id(app, "lib~pr-7") is None
    assert _count(app, Template, catalog_id=preview_id) == 0
    assert _count(app, ProblemRow, catalog_id=preview_id) == 0
    assert _count(app, SitePage, catalog="lib~pr-7") == 0
    assert client.get("/api/v1/templates/lib/web").json == base_before
    with app.app_context():
        actions = [
            (a.token_name, a.action, a.target)
            for a in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions == [
        ("reviewer", "preview.create", "lib~pr-7"),
        ("reviewer", "preview.delete", "lib~pr-7"),
    ]


def test_an_incremental_sync_then_a_refresh_follows_the_ref(app, client, served, admin, repo):
    """A refresh (POST again) re-indexes the ref: a new commit on the branch is served."""
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "refs/pull/7/head"}, headers=admin).status_code == 201
    served()
    assert client.get("/api/v1/templates/lib~pr-7/db").json["default_version"] == "1.0.0"
    repo.repo.git.checkout("feature")
    repo.remove("templates/broken")
    repo.commit("drop the broken template")
    repo.repo.git.update_ref("refs/pull/7/head", "feature")
    repo.repo.git.checkout("main")
    again = client.post(url, json={"ref": "refs/pull/7/head"}, headers=admin)
    assert again.status_code == 200 and again.json["pull_request"] == 7
    served()
    report = client.get(f"{url}/pr-7/report").json
    assert [t["id"] for t in report["templates"]] == ["web"]


def test_released_versions_changed_in_place_fail_the_upgrade_check(
    app, client, served, admin, repo
):
    repo.repo.git.checkout("-b", "in-place")
    repo.write({"templates/web/0/docker-compose.yml": WEB_COMPOSE.replace("1.27.3", "1.28.0")})
    repo.commit("change a released version")
    repo.repo.git.checkout("main")
    body = {"ref": "in-place"}
    created = client.post("/api/v1/catalogs/lib/previews", json=body, headers=admin)
    assert created.json["id"] == "in-place"
    served()
    report = client.get("/api/v1/catalogs/lib/previews/in-place/report").json
    (web,) = report["templates"]
    checks = {c["check"]: c for c in web["upgrade"]["checks"]}
    assert checks["released_unchanged"]["status"] == "fail"
    assert "1.0.0" in checks["released_unchanged"]["message"]
    assert checks["version_bumped"]["status"] == "fail"
    assert web["versions"][0]["change"] == "changed"
    assert "+    image: nginx:1.28.0" in web["versions"][0]["diff"]
    text = client.get("/api/v1/catalogs/lib/previews/in-place/report?format=markdown").get_data(
        True
    )
    assert "❌ released_unchanged" in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ref": "-x"}, "ref"),
        ({"ref": "a..b"}, "ref"),
        ({"ref": 7}, "ref"),
        ({"ref": "feature", "id": "Bad Id"}, "id"),
        ({"ref": "feature", "id": "x" * 40}, "id"),
    ],
)
def test_bad_preview_requests_are_422_and_change_nothing(app, client, served, admin, body, field):
    response = client.post("/api/v1/catalogs/lib/previews", json=body, headers=admin)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]
    assert _count(app, Preview) == 0


def test_previews_need_an_admin_token_to_change(app, client, served, admin):
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "feature"}).status_code == 401
    assert client.post(url, json={"ref": "feature"}, headers=admin).status_code == 201
    assert client.delete(f"{url}/feature").status_code == 401
    assert client.get(url).json["total"] == 1  # reading is public, as every read is
    assert (
        client.post("/api/v1/catalogs/nope/previews", json={"ref": "x"}, headers=admin).status_code
        == 404
    )
    nested = client.post("/api/v1/catalogs/lib~feature/previews", json={"ref": "x"}, headers=admin)
    assert nested.status_code == 404


# --- expiry and the maximum ----------------------------------------------------------------


def test_previews_expire_after_their_time_to_live(app, client, served, admin, monkeypatch):
    mine = dataclasses.replace(served.settings, preview_ttl=3600)
    app.extensions["catalog_settings"] = mine
    start = previews.now()
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "feature"}, headers=admin).status_code == 201
    served()
    assert (mine.cache_dir / "lib~feature.git").is_dir()  # the ref fetched
    monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=3599))
    served()
    assert client.get(f"{url}/feature").status_code == 200
    monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=3601))
    # Past its time the sync process removes all of it.
    served()
    assert client.get(f"{url}/feature").status_code == 404
    assert _catalog_id(app, "lib~feature") is None
    assert _count(app, SitePage, catalog="lib~feature") == 0
    assert client.get("/catalogs/lib~feature/web/").status_code == 404
    assert not any("lib~feature" in p.name for p in mine.cache_dir.iterdir())
    assert (mine.cache_dir / "lib.git").is_dir()
    assert _catalog_id(app, "lib") is not None


def test_a_refresh_extends_the_time_to_live(app, client, served, admin, monkeypatch):
    start = previews.now()
    url = "/api/v1/catalogs/lib/previews"
    client.post(url, json={"ref": "feature"}, headers=admin)
    ttl = served.settings.preview_ttl
    monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=ttl - 10))
    assert client.post(url, json={"ref": "feature"}, headers=admin).status_code == 200
    monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=ttl + 10))
    served()
    assert client.get(f"{url}/feature").status_code == 200


def test_at_most_the_maximum_per_catalog_the_oldest_replaced(
    app, client, served, admin, monkeypatch
):
    app.extensions["catalog_settings"] = dataclasses.replace(served.settings, preview_max=2)
    start = previews.now()
    url = "/api/v1/catalogs/lib/previews"
    for i, name in enumerate(["one", "two", "three"]):
        monkeypatch.setattr(previews, "now", lambda i=i: start + timedelta(seconds=i))
        if name == "three":  # "one" was refreshed last: "two" is the least recent
            monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=5))
            client.post(url, json={"ref": "feature", "id": "one"}, headers=admin)
            monkeypatch.setattr(previews, "now", lambda: start + timedelta(seconds=6))
        response = client.post(url, json={"ref": "feature", "id": name}, headers=admin)
        assert response.status_code in (200, 201)
    assert [p["id"] for p in client.get(url).json["items"]] == ["one", "three"]
    assert _catalog_id(app, "lib~two") is None
    assert _count(app, Preview) == 2
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.target == "lib~three"))
    assert entry.details["replaced"] == ["lib~two"]


# --- GitHub pull_request webhooks ----------------------------------------------------------


@pytest.fixture
def hooked(app, client, admin, monkeypatch, repo):
    """Catalog ``team`` added over the API for GitHub repository platform/catalog, with a
    webhook secret; its sync is not run (the webhook tests look at what is queued)."""
    monkeypatch.setenv("CATALOG_GIT_TEAM_HOOK", SECRET)
    body = {
        "name": "team",
        "url": "https://github.com/platform/catalog.git",
        "branch": "main",
        "webhook_secret": {"env": "CATALOG_GIT_TEAM_HOOK"},
    }
    assert client.post("/api/v1/catalogs", json=body, headers=admin).status_code == 201


def pull_request(action: str, number: int = 42, head: str = "platform/catalog", **extra) -> bytes:
    return json.dumps(
        {
            "action": action,
            "number": number,
            "pull_request": {
                "head": {"sha": "a" * 40, "ref": "feature", "repo": {"full_name": head}},
                "base": {"ref": "main", "repo": {"full_name": "platform/catalog"}},
            },
            "repository": {
                "full_name": "platform/catalog",
                "clone_url": "https://github.com/platform/catalog.git",
                "default_branch": "main",
            },
            **extra,
        }
    ).encode()


def deliver(client, body: bytes, secret: str = SECRET):
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/api/v1/hooks/github",
        data=body,
        headers={
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": "pull_request",
            "Content-Type": "application/json",
        },
    )


def _preview_row(app, name: str):
    with app.app_context():
        row = db.session.execute(
            select(Preview, Catalog)
            .join(Catalog, Preview.catalog_id == Catalog.id)
            .where(Catalog.name == name)
        ).first()
        return None if row is None else (row[0].ref, row[0].head_sha, row[1].branch,
                                         row[1].refresh_requested_at is not None)  # fmt: skip


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize"])
def test_pull_request_opened_synchronize_reopened_queue_a_preview(
    app, client, hooked, admin, action
):
    response = deliver(client, pull_request(action))
    assert response.status_code == 202, response.json
    assert response.json["previewed"] == ["team~pr-42"]
    ref, head_sha, branch, queued = _preview_row(app, "team~pr-42")
    assert ref == branch == "refs/pull/42/head" and head_sha == "a" * 40 and queued
    preview = client.get("/api/v1/catalogs/team/previews/pr-42", headers=admin).json
    assert preview["pull_request"] == 42 and preview["fork"] is False
    assert preview["requested_by"] == "github"
    with app.app_context():
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.target == "team~pr-42"))
    assert audit.action == "webhook.preview.create" and audit.details["action"] == action


def test_pull_request_synchronize_refreshes_and_closed_removes(app, client, hooked):
    assert deliver(client, pull_request("opened")).status_code == 202
    with app.app_context():
        row = db.session.scalar(select(Catalog).where(Catalog.name == "team~pr-42"))
        row.refresh_requested_at, row.sync_state = None, "idle"  # as if synced
        db.session.commit()
    body = pull_request("synchronize", after="b" * 40)  # a new head: a new body
    assert deliver(client, body).json["previewed"] == ["team~pr-42"]
    assert _preview_row(app, "team~pr-42")[3]  # queued again
    closed = deliver(client, pull_request("closed"))
    assert closed.status_code == 202 and closed.json["removed"] == ["team~pr-42"]
    assert _preview_row(app, "team~pr-42") is None
    assert _catalog_id(app, "team~pr-42") is None
    # The same closed body again is a replay; an edited pull request queues nothing.
    assert deliver(client, pull_request("closed")).status_code == 409
    edited = deliver(client, pull_request("edited"))
    assert edited.status_code == 202 and edited.json["previewed"] == []


def test_a_fork_pull_request_is_refused_unless_the_catalog_allows_forks(app, client, hooked, admin):
    fork = pull_request("opened", head="someone/catalog")
    response = deliver(client, fork)
    assert response.status_code == 202 and response.json["refused"] == ["team"]
    assert _preview_row(app, "team~pr-42") is None
    with app.app_context():
        refused = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "webhook.preview.refused")
        )
    assert refused.target == "team~pr-42"
    allow = client.patch("/api/v1/catalogs/team", json={"preview_forks": True}, headers=admin)
    assert allow.status_code == 200
    again = deliver(client, pull_request("opened", head="someone/catalog", number=43))
    assert again.json["previewed"] == ["team~pr-43"]
    assert client.get("/api/v1/catalogs/team/previews/pr-43").json["fork"] is True


def test_pull_request_webhooks_need_a_valid_signature(app, client, hooked):
    response = deliver(client, pull_request("opened"), secret="not-the-secret")
    assert response.status_code == 401
    assert _preview_row(app, "team~pr-42") is None


def _fail_upsert(monkeypatch):
    def conflict(*args, **kwargs):  # the same preview made at that moment by another request
        raise IntegrityError("INSERT INTO previews", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(previews, "upsert", conflict)


def _fail_audit(monkeypatch):
    def locked(*args, **kwargs):
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))

    monkeypatch.setattr(preview_routes, "audit_request", locked)


@pytest.mark.parametrize(("fail", "status"), [(_fail_upsert, 409), (_fail_audit, 500)])
def test_a_failed_pull_request_delivery_keeps_nothing_and_its_redelivery_is_accepted(
    app, client, hooked, admin, monkeypatch, fail, status
):
    # Catalog team has a preview past its time: the delivery removes it before its own work.
    assert deliver(client, pull_request("opened", number=41)).status_code == 202
    with app.app_context():
        row = db.session.scalar(select(Preview).where(Preview.name == "pr-41"))
        row.expires_at = previews.now() - timedelta(seconds=1)
        db.session.commit()
    body = pull_request("opened")
    with monkeypatch.context() as patched:
        fail(patched)
        assert deliver(client, body).status_code == status
    assert _preview_row(app, "team~pr-42") is None
    assert _count(app, WebhookDelivery) == 1  # only pr-41's
    # GitHub redelivers the same body: it is accepted and does the work.
    again = deliver(client, body)
    assert again.status_code == 202, again.json
    assert again.json["previewed"] == ["team~pr-42"]
    assert _preview_row(app, "team~pr-42") is not None
    assert _preview_row(app, "team~pr-41") is None  # expired: removed by the delivery
    assert deliver(client, body).status_code == 409  # and now it is a replay


def test_who_asked_for_a_preview_is_shown_only_to_an_admin(app, client, hooked, admin):
    url = "/api/v1/catalogs/team/previews"
    created = client.post(url, json={"ref": "refs/pull/5/head"}, headers=admin)
    assert created.status_code == 201 and created.json["requested_by"] == "reviewer"
    # Answers kept in memory are kept for a while, as in production.
    app.extensions["served_state"].ttl = 60
    for _ in range(2):  # the second time from memory
        for public in (client.get(url), client.get(f"{url}/pr-5")):
            assert public.status_code == 200
            assert "reviewer" not in public.get_data(True)
            assert "requested_by" not in public.get_data(True)
        listed = client.get(url, headers=admin)
        assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
        assert [p["requested_by"] for p in listed.json["items"]] == ["reviewer"]
        one = client.get(f"{url}/pr-5", headers=admin)
        assert one.status_code == 200 and one.headers["Cache-Control"] == "no-store"
        assert one.json["requested_by"] == "reviewer"
    bad = client.get(f"{url}/pr-5", headers={"Authorization": "Bearer cat_not-a-token"})
    assert bad.status_code == 401 and "reviewer" not in bad.get_data(True)


def test_a_pull_request_to_another_branch_is_ignored(app, client, hooked):
    body = json.loads(pull_request("opened"))
    body["pull_request"]["base"]["ref"] = "release-1"
    response = deliver(client, json.dumps(body).encode())
    assert response.status_code == 202 and response.json["ignored"] == ["team"]
    assert _preview_row(app, "team~pr-42") is None


def test_a_previews_charts_are_served_by_the_helm_repository_and_over_oci(
    app, client, served, admin, repo
):
    repo.repo.git.checkout("-b", "chart")
    repo.write(
        {
            "charts/hello/0.1.0/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n"
            'appVersion: "1.0"\ndescription: Says hello\n',
            "charts/hello/0.1.0/values.yaml": "greeting: hello\n",
            "charts/hello/0.1.0/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
        }
    )
    repo.commit("a chart")
    repo.repo.git.checkout("main")
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "chart"}, headers=admin).status_code == 201
    served()
    index = yaml.safe_load(client.get("/helm/lib~chart/index.yaml").get_data())
    assert [v["version"] for v in index["entries"]["hello"]] == ["0.1.0"]
    assert "hello" not in (
        yaml.safe_load(client.get("/helm/lib/index.yaml").get_data())["entries"] or {}
    )
    tags = client.get("/v2/lib__chart/hello/tags/list")
    assert tags.status_code == 200 and tags.json["tags"] == ["0.1.0"]
    assert "lib~chart" not in client.get("/v2/_catalog").get_data(True)
    (chart,) = client.get("/api/v1/templates?catalog=lib~chart&kind=helm").json["items"]
    page = client.get(f"/catalogs/lib~chart/{chart['id'].replace('*', '%2A')}/")
    assert page.status_code == 200
    assert "/lib__chart/hello --version 0.1.0" in page.get_data(True)


def test_the_preview_page_follows_the_base_catalog(app, client, served, admin, repo):
    """When the base catalog moves on (here: the branch's change merged), the reviewer's
    page is made again, without re-indexing the preview."""
    client.post("/api/v1/catalogs/lib/previews", json={"ref": "feature"}, headers=admin)
    served()
    assert "1 added, 1 changed, 0 removed" in client.get("/previews/lib~feature/").get_data(True)
    repo.repo.git.merge("feature")
    summaries = served()
    assert summaries["lib"].status == "updated"
    assert summaries["lib~feature"].status == "up to date"
    page = client.get("/previews/lib~feature/").get_data(True)
    assert "0 added, 0 changed, 0 removed" in page
    assert "No template changes against the base catalog." in page


def test_the_markdown_report_makes_catalog_text_inert():
    from catalog_server.previewreport import report_markdown

    hostile = "<img src=x onerror=alert(1)> @everyone [click](https://evil.example) | `x` #1"
    report = {
        "catalog": "lib",
        "preview": "lib~pr-1",
        "id": "pr-1",
        "ref": "refs/pull/1/head",
        "commit": "c" * 40,
        "base_commit": "b" * 40,
        "indexed": True,
        "sync_state": "idle",
        "last_error": None,
        "summary": {
            "added": 1, "changed": 0, "removed": 0, "errors": 1, "warnings": 0,
            "failed_checks": 0,
        },
        "templates": [
            {
                "id": hostile,
                "name": hostile,
                "kind": "compose",
                "change": "added",
                "served": False,
                "default_version": {"base": None, "preview": None},
                "versions": [],
                "problems": [
                    {
                        "severity": "error", "rule": "yaml.syntax", "version": "0",
                        "file": f"templates/{hostile}/0/docker-compose.yml", "line": 3,
                        "column": 1, "message": hostile + "\n| injected | row |",
                        "blocking": True,
                    }
                ],
                "upgrade": None,
                "links": None,
            }
        ],
        "catalog_problems": [],
        "links": {"page": "/previews/lib~pr-1/"},
    }  # fmt: skip
    text = report_markdown(report, "https://catalog.example.com/")
    unescaped = re.compile(r"(?<!\\)[<@\[\]`]")
    assert "\\<img" in text and "\\@everyone" in text
    assert not unescaped.search(text.split("\n\n", 1)[1].replace("[Preview page]", ""))
    assert "\n| injected" not in text
    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 4 for line in table_rows)  # no cell added by the name
    assert "https://catalog.example.com/previews/lib~pr-1/" in text


def test_removing_a_catalog_removes_its_previews(app, client, hooked, admin):
    assert deliver(client, pull_request("opened")).status_code == 202
    refused = client.delete("/api/v1/catalogs/team~pr-42", headers=admin)
    assert refused.status_code == 409 and "preview" in refused.json["error"]["message"]
    assert client.delete("/api/v1/catalogs/team", headers=admin).status_code == 204
    assert _catalog_id(app, "team~pr-42") is None
    assert _count(app, Preview) == 0


def test_a_preview_is_indexed_against_a_base_that_moved_on(app, client, served, admin, repo):
    """The base's branch gained a commit the pull request does not have: the preview is
    still loaded incrementally (the base's branch is fetched with the ref)."""
    repo.write({"NOTES.md": "catalog notes\\n"})
    repo.commit("main moves on")
    assert served()["lib"].status == "updated"
    client.post("/api/v1/catalogs/lib/previews", json={"ref": "refs/pull/7/head"}, headers=admin)
    summary = served()["lib~pr-7"]
    assert summary.status == "updated" and sorted(summary.reloaded) == ["broken", "web"]
    assert client.get("/api/v1/templates/lib~pr-7/db").json["default_version"] == "1.0.0"


def test_a_ref_that_does_not_exist_fails_the_preview_and_says_why(app, client, served, admin):
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "no-such-branch"}, headers=admin).status_code == 201
    summary = served()["lib~no-such-branch"]
    assert summary.status == "failed" and "no-such-branch" in summary.error
    preview = client.get(f"{url}/no-such-branch").json
    assert preview["state"] == "failed" and "no-such-branch" in preview["last_error"]
    report = client.get(f"{url}/no-such-branch/report").json
    assert report["indexed"] is False and report["templates"] == []
    text = client.get(f"{url}/no-such-branch/report?format=markdown").get_data(True)
    assert "The preview is not indexed" in text


def test_a_local_catalogs_preview_of_a_missing_ref_fails(app, sync, repo, make_catalog_repo):
    """A catalog read in place from a local repository: a missing ref is an error, never
    the working tree read instead."""
    summary = sync(previews.preview_source(repo.source("lib"), "x", "no-such-branch"))
    assert summary.status == "failed" and "no-such-branch" in summary.error
    assert sync(previews.preview_source(repo.source("lib"), "y", "feature")).status == "updated"


def test_a_plain_folder_catalog_has_no_previews(app, client, admin, sync, tmp_path):
    folder = tmp_path / "plain"
    (folder / "templates/db/0").mkdir(parents=True)
    for path, text in DB_FILES.items():
        (folder / path).write_text(text)
    assert sync(CatalogSource(name="plain", url=str(folder))).status == "updated"
    response = client.post("/api/v1/catalogs/plain/previews", json={"ref": "x"}, headers=admin)
    assert response.status_code == 409 and "plain folder" in response.json["error"]["message"]


def _search_rows(app) -> int:
    from sqlalchemy import text

    from catalog_server import search

    with app.app_context():
        return db.session.scalar(text(f"SELECT count(*) FROM {search.TABLE}"))


def test_a_previews_templates_are_searched_only_when_asked_for(app, client, served, admin):
    created = client.post(
        "/api/v1/catalogs/lib/previews", json={"ref": "feature", "id": "pr-7"}, headers=admin
    )
    assert created.status_code == 201, created.json
    assert sorted(served()["lib~pr-7"].reloaded) == ["broken", "web"]
    # db is unchanged on the branch: seeded from the base, it is never loaded again, and is
    # found all the same; web was reloaded; broken never loaded (no template).
    found = client.get("/api/v1/templates?q=database").json
    assert [(t["catalog"], t["id"]) for t in found["items"]] == [("lib", "db")]
    assert found["total"] == 1 and found["facets"]["kind"] == {"compose": 1}
    found = client.get("/api/v1/templates?q=database&include_previews=true").json
    assert [(t["catalog"], t["id"]) for t in found["items"]] == [
        ("lib", "db"),
        ("lib~pr-7", "db"),
    ]
    assert found["total"] == 2 and found["facets"]["kind"] == {"compose": 2}
    assert found["items"][1]["highlights"] == found["items"][0]["highlights"]
    for sort in ("name", "updated"):
        found = client.get(f"/api/v1/templates?q=server&sort={sort}").json
        assert [(t["catalog"], t["id"]) for t in found["items"]] == [("lib", "web")]
    found = client.get("/api/v1/templates?q=web&catalog=lib~pr-7").json
    assert [(t["catalog"], t["id"], t["latest_version"]) for t in found["items"]] == [
        ("lib~pr-7", "web", "1.1.0")
    ]
    assert _search_rows(app) == 4  # db and web, in the base and in the preview

    # Removed with the preview.
    deleted = client.delete("/api/v1/catalogs/lib/previews/pr-7", headers=admin)
    assert deleted.status_code == 204
    assert _search_rows(app) == 2
    found = client.get("/api/v1/templates?q=database&include_previews=true").json
    assert [(t["catalog"], t["id"]) for t in found["items"]] == [("lib", "db")]


def test_a_preview_removed_during_a_sync_round_stays_removed(app, client, served, admin):
    """The sync process lists its sources at the start of a round; a preview removed
    before its turn is not indexed back into a plain, public catalog."""
    url = "/api/v1/catalogs/lib/previews"
    assert client.post(url, json={"ref": "feature"}, headers=admin).status_code == 201
    with app.app_context():
        stale = [s for s in scheduler.all_sources(db.session, served.settings) if "~" in s.name]
    assert [s.name for s in stale] == ["lib~feature"]
    assert client.delete(f"{url}/feature", headers=admin).status_code == 204
    with app.app_context():
        summary = scheduler.sync_one(db.session, served.settings, stale[0])
    assert summary.status == "failed" and "removed" in summary.error
    assert _catalog_id(app, "lib~feature") is None
    names = [c["name"] for c in client.get("/api/v1/catalogs?include_previews=true").json["items"]]
    assert names == ["lib"]
    assert client.get("/api/v1/templates/lib~feature/web").status_code == 404
