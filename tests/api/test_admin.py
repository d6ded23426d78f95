"""Admin API with bearer tokens, the audit log, and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from catalog_server.auth import create_token, revoke_token
from catalog_server.cli import main
from catalog_server.db import db
from catalog_server.models import AuditEntry, Catalog


@pytest.fixture
def token(app):
    with app.app_context():
        return create_token(db.session, "ops")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def catalogs(app) -> dict[str, Catalog]:
    with app.app_context():
        return {c.name: c for c in db.session.scalars(select(Catalog))}


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            (a.token_name, a.action, a.target, a.client_address)
            for a in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


NEW = {"name": "team", "url": "https://git.example.com/platform/catalog.git", "branch": "main"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cat_wrong"},
        {"Authorization": "Basic b3BzOm9wcw=="},
        {"Authorization": "Bearer "},
    ],
)
def test_no_token_or_a_wrong_one_is_401_and_changes_nothing(app, client, token, headers):
    for method, url, body in [
        ("post", "/api/v1/catalogs", NEW),
        ("patch", "/api/v1/catalogs/team", {"branch": "dev"}),
        ("delete", "/api/v1/catalogs/team", None),
        ("post", "/api/v1/catalogs/team/refresh", None),
        ("get", "/api/v1/audit", None),
    ]:
        response = getattr(client, method)(url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert catalogs(app) == {}
    assert audit_rows(app) == []


def test_a_revoked_token_is_401(app, client, token):
    with app.app_context():
        revoke_token(db.session, "ops")
    response = client.post("/api/v1/catalogs", json=NEW, headers=bearer(token))
    assert response.status_code == 401
    assert catalogs(app) == {}


def test_catalog_lifecycle_with_a_good_token_is_audited(app, client, token):
    created = client.post("/api/v1/catalogs", json=NEW, headers=bearer(token))
    assert created.status_code == 201, created.json
    assert created.json["name"] == "team"
    assert created.json["managed_by"] == "api"
    assert created.json["sync_state"] == "queued"
    changed = client.patch(
        "/api/v1/catalogs/team", json={"refresh_interval": 60}, headers=bearer(token)
    )
    assert changed.status_code == 200 and changed.json["refresh_interval"] == 60
    refresh = client.post("/api/v1/catalogs/team/refresh", headers=bearer(token))
    assert refresh.status_code == 202
    assert catalogs(app)["team"].refresh_requested_at is not None
    assert client.delete("/api/v1/catalogs/team", headers=bearer(token)).status_code == 204
    assert catalogs(app) == {}
    rows = audit_rows(app)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("ops", "catalog.create", "team"),
        ("ops", "catalog.update", "team"),
        ("ops", "catalog.refresh", "team"),
        ("ops", "catalog.delete", "team"),
    ]
    assert all(r[3] == "127.0.0.1" for r in rows)
    log = client.get("/api/v1/audit", headers=bearer(token)).json
    assert [e["action"] for e in log["items"]][0] == "catalog.delete"
    assert log["total"] == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "ext::sh -c id"}, "url"),
        ({"name": "x", "url": "-oProxyCommand=id"}, "url"),
        ({"name": "x", "url": "https://user:pw@git.example.com/c.git"}, "url"),
        ({"name": "x", "url": "/srv/catalog"}, "url"),
        ({"name": "x", "url": "file:///srv/catalog"}, "url"),
        ({"name": "x", "url": "https://e.com/c.git", "refresh_interval": 1}, "refresh_interval"),
        ({"name": "x", "url": "https://e.com/c.git", "branch": "--upload-pack=x"}, "branch"),
        (
            {"name": "x", "url": "https://e.com/c.git", "credentials": {"password": "p"}},
            "credentials",
        ),
        ({"name": "Bad Name", "url": "https://e.com/c.git"}, "name"),
    ],
)
def test_bad_catalog_settings_are_422_naming_the_field(app, client, token, body, field):
    response = client.post("/api/v1/catalogs", json=body, headers=bearer(token))
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]
    assert catalogs(app) == {}


def test_catalogs_file_catalogs_cannot_be_changed_over_the_api(
    app, client, token, make_catalog_repo, sync
):
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    response = client.delete("/api/v1/catalogs/lib", headers=bearer(token))
    assert response.status_code == 409
    assert "catalogs file" in response.json["error"]["message"]
    assert "lib" in catalogs(app)


def test_token_cli(app, cli_env):
    runner = CliRunner()
    created = runner.invoke(main, ["token", "create", "ci-bot"], env=cli_env)
    assert created.exit_code == 0
    token = created.output.strip()
    assert token.startswith("cat_") and len(token) > 40
    listed = runner.invoke(main, ["token", "list"], env=cli_env)
    assert "ci-bot" in listed.output and token not in listed.output
    with app.app_context():
        stored = db.session.execute(db.text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert stored != token and token not in stored
    assert runner.invoke(main, ["token", "create", "ci-bot"], env=cli_env).exit_code == 1
    assert runner.invoke(main, ["token", "revoke", "ci-bot"], env=cli_env).exit_code == 0
    assert runner.invoke(main, ["token", "revoke", "nobody"], env=cli_env).exit_code == 1


# --- webhooks ------------------------------------------------------------------------------


SECRET = "hook-secret-for-tests"


@pytest.fixture
def hooked(app, client, token, monkeypatch):
    monkeypatch.setenv("CATALOG_GIT_TEAM_HOOK_SECRET", SECRET)
    body = NEW | {"webhook_secret": {"env": "CATALOG_GIT_TEAM_HOOK_SECRET"}}
    assert client.post("/api/v1/catalogs", json=body, headers=bearer(token)).status_code == 201
    with app.app_context():  # the sync process would have picked up the first request
        row = db.session.scalar(select(Catalog).where(Catalog.name == "team"))
        row.refresh_requested_at, row.sync_state = None, "idle"
        db.session.commit()


def push(ref="refs/heads/main", url="https://git.example.com/platform/catalog.git") -> bytes:
    return json.dumps(
        {"ref": ref, "repository": {"clone_url": url, "default_branch": "main"}}
    ).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def queued(app) -> bool:
    return catalogs(app)["team"].refresh_requested_at is not None


def test_github_hook_with_a_good_signature_queues_a_refresh(app, client, hooked):
    body = push()
    response = client.post(
        "/api/v1/hooks/github",
        data=body,
        headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
    )
    assert response.status_code == 202
    assert response.json["queued"] == ["team"]
    assert queued(app)


def test_github_hook_for_another_branch_queues_nothing(app, client, hooked):
    body = push(ref="refs/heads/feature")
    response = client.post(
        "/api/v1/hooks/github",
        data=body,
        headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
    )
    assert response.status_code == 202 and response.json["queued"] == []
    assert not queued(app)


@pytest.mark.parametrize(
    "signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage", "wrong-secret"]
)
def test_bad_or_missing_signatures_are_401_and_queue_nothing(app, client, hooked, signature):
    body = push()
    if signature == "wrong-secret":
        signature = sign(body, "not-the-secret")
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    for url in ("/api/v1/hooks/github", "/api/v1/hooks/team"):
        response = client.post(url, data=body, headers=headers)
        assert response.status_code == 401, url
    assert not queued(app)


def test_a_body_changed_after_signing_is_refused(app, client, hooked):
    body = push()
    tampered = body.replace(b"main", b"mainx", 1)
    response = client.post(
        "/api/v1/hooks/team", data=tampered, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 401
    assert not queued(app)


def test_generic_hook_queues_a_refresh(app, client, hooked):
    body = b'{"any": "payload"}'
    response = client.post(
        "/api/v1/hooks/team", data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 202
    assert queued(app)
    assert ("webhook.generic", "team") in {(r[1], r[2]) for r in audit_rows(app)}
