"""The admin API and webhooks against an attacker: secret references, SSRF, URLs and
branches, what unauthenticated readers see, malformed webhooks, replays and caching."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import git
import pytest
from sqlalchemy import select

from catalog_server import egress
from catalog_server.app import create_app
from catalog_server.auth import create_token
from catalog_server.catalogs import read_catalogs_file
from catalog_server.config import ConfigError
from catalog_server.db import db
from catalog_server.models import Catalog


@pytest.fixture
def make_app(settings):
    """Factory: an app like `app`, on the same database, with some settings changed."""
    from flask_migrate import upgrade

    made = []

    def make(**changes):
        app = create_app({"TESTING": True}, settings=dataclasses.replace(settings, **changes))
        with app.app_context():
            upgrade()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def token_for(app) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {create_token(db.session, f'ops{time.monotonic_ns()}')}"}


@pytest.fixture
def admin(app):
    return token_for(app)


def rows(app) -> dict[str, Catalog]:
    with app.app_context():
        return {c.name: c for c in db.session.scalars(select(Catalog))}


class RecordingGitServer(BaseHTTPRequestHandler):
    """Plain HTTP that asks for basic auth and records every Authorization it is sent."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802  (http.server's name)
        if "Authorization" in self.headers:
            type(self).seen.append(self.headers["Authorization"])
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server():
    RecordingGitServer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingGitServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", RecordingGitServer.seen
    server.shutdown()
    server.server_close()


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credentials", {"username": "x", "password_file": "/etc/passwd"}),
        ("credentials", {"username": "x", "password_env": "CATALOG_DATABASE_URL"}),
        ("credentials", {"password_env": "HOME"}),
        ("credentials", {"ssh_key_file": "/etc/ssh/ssh_host_ed25519_key"}),
        ("webhook_secret", {"env": "CATALOG_DATABASE_URL"}),
        ("webhook_secret", {"file": "/etc/shadow"}),
    ],
)
def test_api_secret_references_may_not_name_the_servers_secrets(app, client, admin, field, value):
    url = "ssh://git@git.example.com/c.git" if "ssh_key_file" in value else "https://e.com/c.git"
    body = {"name": "team", "url": url, field: value}
    response = client.post("/api/v1/catalogs", json=body, headers=admin)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]
    assert rows(app) == {}


def test_api_secret_references_within_the_prefix_and_folder_are_accepted(
    make_app, tmp_path, monkeypatch
):
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "team-token").write_text("token")
    (folder / "escape").symlink_to("/etc/passwd")
    app = make_app(api_secret_dir=folder.resolve())
    client, admin = app.test_client(), token_for(app)
    ok = [
        {"credentials": {"username": "ci", "password_env": "CATALOG_GIT_TEAM_TOKEN"}},
        {"credentials": {"password_file": str(folder / "team-token")}},
        {"webhook_secret": {"env": "CATALOG_GIT_TEAM_HOOK"}},
        {"webhook_secret": {"file": str(folder / "team-token")}},
    ]
    for i, extra in enumerate(ok):
        body = {"name": f"team{i}", "url": "https://e.com/c.git", **extra}
        assert client.post("/api/v1/catalogs", json=body, headers=admin).status_code == 201
    refused = [
        {"credentials": {"password_file": str(folder / "escape")}},  # a link out of the folder
        {"credentials": {"password_file": str(folder / ".." / "secrets-other")}},
        {"credentials": {"password_file": str(folder)}},
    ]
    for extra in refused:
        body = {"name": "bad", "url": "https://e.com/c.git", **extra}
        response = client.post("/api/v1/catalogs", json=body, headers=admin)
        assert response.status_code == 422, extra
    assert "bad" not in rows(app)


def test_the_catalogs_file_may_name_any_secret(tmp_path):
    path = tmp_path / "catalogs.yml"
    path.write_text(
        "catalogs:\n"
        "  - name: a\n    url: https://git.example.com/a.git\n"
        "    credentials: {username: u, password_file: /etc/team-token}\n"
        "    webhook_secret: {env: HOOK}\n"
        "  - name: b\n    url: ssh://git@git.example.com/b.git\n"
        "    credentials: {ssh_key_file: /srv/keys/deploy}\n"
    )
    a, b = read_catalogs_file(path)
    assert a.credentials["password_file"] == "/etc/team-token"
    assert b.credentials["ssh_key_file"] == "/srv/keys/deploy"


@pytest.mark.parametrize(
    ("url", "credentials"),
    [
        ("http://git.example.com/a.git", {"username": "u", "password_env": "CATALOG_GIT_T"}),
        ("git://git.example.com/a.git", {"password_env": "CATALOG_GIT_T"}),
        ("https://git.example.com/a.git", {"ssh_key_file": "/srv/keys/deploy"}),
    ],
)
def test_credentials_only_travel_over_https_or_ssh(app, client, admin, tmp_path, url, credentials):
    body = {"name": "team", "url": url, "credentials": credentials}
    response = client.post("/api/v1/catalogs", json=body, headers=admin)
    assert response.status_code == 422
    path = tmp_path / "catalogs.yml"
    path.write_text(
        json.dumps({"catalogs": [{"name": "a", "url": url, "credentials": credentials}]})
    )
    with pytest.raises(ConfigError, match="credentials"):
        read_catalogs_file(path)


def test_the_attack_from_the_review_sends_nothing(
    make_app, recording_server, monkeypatch, settings
):
    """An admin token names /etc/passwd and CATALOG_DATABASE_URL as credentials of a plain
    http catalog: refused over the API; a row already stored that way (an older version
    wrote it) fails its sync and git is never handed the values."""
    from catalog_server import scheduler

    base, seen = recording_server
    app = make_app(allow_private_urls=True)
    client, admin = app.test_client(), token_for(app)
    monkeypatch.setenv("CATALOG_DATABASE_URL", settings.database_url)
    attacks = [
        {"username": "x", "password_file": "/etc/passwd"},
        {"username": "x", "password_env": "CATALOG_DATABASE_URL"},
    ]
    for i, credentials in enumerate(attacks):
        body = {"name": f"evil{i}", "url": f"{base}/c{i}.git", "credentials": credentials}
        response = client.post("/api/v1/catalogs", json=body, headers=admin)
        assert response.status_code == 422, response.json
        with app.app_context():
            db.session.add(
                Catalog(name=f"evil{i}", url=body["url"], generation=0, managed_by="api",
                        credentials=credentials, sync_state="idle", failures=0)
            )  # fmt: skip
            db.session.commit()
    with app.app_context():
        sources = scheduler.api_sources(db.session, app.extensions["catalog_settings"])
        summaries = [scheduler.sync_one(db.session, app.extensions["catalog_settings"], s)
                     for s in sources]  # fmt: skip
    assert [s.status for s in summaries] == ["failed", "failed"]
    assert seen == []
    errors = [c["last_error"] for c in client.get("/api/v1/catalogs").json["items"]]
    assert all("https" in e or "CATALOG_GIT_" in e for e in errors), errors


# --- SSRF -------------------------------------------------------------------------------------


def own_addresses() -> list[str]:
    found = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return sorted(a for a in found if not a.startswith("127."))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/c.git",
        "https://localhost/c.git",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/c.git",
        "http://[::ffff:127.0.0.1]/c.git",
        "http://10.1.2.3/c.git",
        "https://192.168.0.10/c.git",
        "http://100.64.0.1/c.git",
        "git://0.0.0.0/c.git",
        "ssh://git@172.16.0.5/c.git",
        "git@127.0.0.1:team/c.git",
        "http://[fe80::1]/c.git",
    ],
)
def test_api_catalogs_on_private_hosts_are_refused(app, client, admin, url):
    response = client.post("/api/v1/catalogs", json={"name": "t", "url": url}, headers=admin)
    assert response.status_code == 422, response.json
    assert "url" in response.json["error"]["details"]
    assert "CATALOG_ALLOW_PRIVATE_URLS" in response.json["error"]["details"]["url"][0]
    patched = client.patch("/api/v1/catalogs/t", json={"url": url}, headers=admin)
    assert patched.status_code == 404
    assert rows(app) == {}


def test_the_servers_own_addresses_are_refused():
    for address in own_addresses():
        assert egress.forbidden_reason(address), address
    assert egress.forbidden_reason("93.184.216.34") is None  # a public address elsewhere


def test_private_hosts_are_allowed_when_the_operator_says_so(make_app):
    app = make_app(allow_private_urls=True)
    body = {"name": "t", "url": "http://127.0.0.1:9/c.git"}
    response = app.test_client().post("/api/v1/catalogs", json=body, headers=token_for(app))
    assert response.status_code == 201


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_fetch_time(
    app, client, admin, monkeypatch
):
    from catalog_server import scheduler

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(egress, "resolve", lambda host, port: next(answers))
    body = {"name": "t", "url": "https://rebind.example/c.git"}
    assert client.post("/api/v1/catalogs", json=body, headers=admin).status_code == 201
    with app.app_context():
        settings = app.extensions["catalog_settings"]
        [source] = scheduler.api_sources(db.session, settings)
        summary = scheduler.sync_one(db.session, settings, source)
    assert summary.status == "failed"
    assert "127.0.0.1, which is a loopback address" in summary.error


@pytest.fixture
def git_daemon(tmp_path):
    """`git daemon` serving a one-template catalog repository on 127.0.0.1."""
    root = tmp_path / "daemon"
    work = root / "work"
    work.mkdir(parents=True)
    repo = git.Repo.init(work, initial_branch="main")
    (work / "templates" / "a" / "0").mkdir(parents=True)
    (work / "templates" / "a" / "config.yml").write_text("name: a\nversion: 1.0.0\n")
    (work / "templates" / "a" / "0" / "docker-compose.yml").write_text(
        "services:\n  a:\n    image: busybox:1.36\n"
    )
    (work / "templates" / "a" / "0" / "rancher-compose.yml").write_text(
        ".catalog:\n  version: 1.0.0\n"
    )
    repo.git.add("-A")
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    repo.git.commit("-m", "a", env=who | {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    git.Repo.clone_from(work, root / "cat.git", bare=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
         f"--port={port}", f"--base-path={root}", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield port
    # `git daemon` runs `git-daemon` as a child: stop the whole process group, not the parent.
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait()


def test_a_fetch_goes_to_the_checked_address_not_a_new_lookup(make_app, git_daemon, monkeypatch):
    """The name is unknown to the system resolver: the fetch works only because git is
    handed the address the check resolved (and checked), not the name."""
    from catalog_server import scheduler

    app = make_app(allow_private_urls=True)
    lookups = []
    monkeypatch.setattr(egress, "resolve", lambda host, port: lookups.append(host) or ["127.0.0.1"])
    body = {"name": "pinned", "url": f"git://catalog-host.invalid:{git_daemon}/cat.git"}
    client = app.test_client()
    assert client.post("/api/v1/catalogs", json=body, headers=token_for(app)).status_code == 201
    with app.app_context():
        settings = app.extensions["catalog_settings"]
        [source] = scheduler.api_sources(db.session, settings)
        summary = scheduler.sync_one(db.session, settings, source)
    assert summary.status == "updated", summary.error
    assert lookups[-1] == "catalog-host.invalid"
    assert client.get("/api/v1/templates/pinned/a").status_code == 200


def test_https_fetches_are_pinned_and_follow_no_redirect():
    destination = egress.Destination(
        "https", "git.example.com", 443, ("93.184.216.34", "2001:db8::1")
    )
    url, config, env = egress.pinned_fetch("https://git.example.com/c.git", destination, {})
    assert url == "https://git.example.com/c.git"
    assert config == [
        "http.curloptResolve=git.example.com:443:93.184.216.34,[2001:db8::1]",
        "http.followRedirects=false",
    ]
    ssh = egress.Destination("ssh", "git.example.com", 22, ("93.184.216.34",))
    _, _, env = egress.pinned_fetch(
        "git@git.example.com:c.git", ssh, {"GIT_SSH_COMMAND": "ssh -i k"}
    )
    assert env["GIT_SSH_COMMAND"].startswith("ssh -i k -o HostName=93.184.216.34")
    assert "HostKeyAlias=git.example.com" in env["GIT_SSH_COMMAND"]


# --- URLs, branches, what readers see ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "https://git.example.com/a b.git"),
        ("url", "https://git.example.com/a.git\n"),
        ("url", "https://git.example.com/a\t.git"),
        ("url", "https://git.example.com/a\u2028.git"),
        ("url", "http://[::1"),
        ("url", "https://git.example.com:99999/a.git"),
        ("url", "https://git.example.com/a.git?access_token=SEKRIT"),
        ("url", "https://git.example.com/a.git#frag"),
        ("branch", "main\nprivileged"),
        ("branch", "main branch"),
        ("branch", "a..b"),
        ("branch", "a@{1}"),
        ("branch", "main\x00"),
        ("branch", "ref.lock"),
    ],
)
def test_urls_and_branches_are_validated(app, client, admin, field, value):
    body = {"name": "t", "url": "https://git.example.com/a.git", field: value}
    response = client.post("/api/v1/catalogs", json=body, headers=admin)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]
    assert rows(app) == {}


def test_catalogs_file_branches_are_validated(tmp_path):
    path = tmp_path / "catalogs.yml"
    path.write_text('catalogs:\n  - {name: a, url: "https://e.com/a.git", branch: "main\\nx"}\n')
    with pytest.raises(ConfigError, match="branch"):
        read_catalogs_file(path)


def test_readers_never_see_tokens_or_query_strings(app, client, sync, git_http_server, tmp_path):
    """A catalogs-file URL with a token in its query and user info: the fetch fails (wrong
    password), and neither the catalog's URL nor its last_error shows any secret."""
    from catalog_server.catalogs import CatalogSource

    base = git_http_server(tmp_path, "deploy", "right-password")
    url = base.replace("https://", "https://deploy:SEKRIT-PW@") + "/c.git?access_token=SEKRIT-Q"
    assert sync(CatalogSource("leaky", url)).status == "failed"
    for path in ("/api/v1/catalogs", "/api/v1/catalogs/leaky"):
        text = client.get(path).get_data(as_text=True)
        assert "SEKRIT" not in text and "access_token" not in text, text
    shown = client.get("/api/v1/catalogs/leaky").json
    assert shown["url"] == base + "/c.git"
    assert shown["last_error"]


# --- webhooks ---------------------------------------------------------------------------------

SECRET = "hook-secret-for-tests"


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def hooked(app, client, admin, monkeypatch):
    monkeypatch.setenv("CATALOG_GIT_TEAM_HOOK", SECRET)
    body = {
        "name": "team",
        "url": "https://git.example.com/platform/catalog.git",
        "branch": "main",
        "webhook_secret": {"env": "CATALOG_GIT_TEAM_HOOK"},
    }
    assert client.post("/api/v1/catalogs", json=body, headers=admin).status_code == 201
    settle(app)


def settle(app) -> None:
    """As the sync process would: the queued refresh is taken."""
    with app.app_context():
        row = db.session.scalar(select(Catalog).where(Catalog.name == "team"))
        row.refresh_requested_at, row.sync_state = None, "idle"
        db.session.commit()


def queued(app) -> bool:
    return rows(app)["team"].refresh_requested_at is not None


PUSH = {"ref": "refs/heads/main",
        "repository": {"clone_url": "https://git.example.com/platform/catalog.git"}}  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        {"ref": "refs/heads/main", "repository": "git.example.com/platform/catalog"},
        {"ref": "refs/heads/main", "repository": ["https://git.example.com/platform/catalog.git"]},
        {"ref": "refs/heads/main", "repository": 7},
        {"ref": "refs/heads/main", "repository": {"clone_url": "http://[::1"}},
        {"ref": ["x"], "repository": {"clone_url": 5, "default_branch": {}}},
        [1, 2],
    ],
)
def test_malformed_github_payloads_are_client_errors(app, client, hooked, payload):
    body = json.dumps(payload).encode()
    response = client.post(
        "/api/v1/hooks/github", data=body,
        headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    assert response.json["error"]["code"] in ("bad_request", "unauthorized")
    assert not queued(app)


@pytest.mark.parametrize("url", ["/api/v1/hooks/github", "/api/v1/hooks/team"])
def test_a_signature_with_non_ascii_bytes_is_401(app, client, hooked, url):
    body = json.dumps(PUSH).encode()
    environ = {"HTTP_X_HUB_SIGNATURE_256": "sha256=\xe9\xe9\xe9"}
    response = client.post(url, data=body, content_type="application/json",
                           environ_overrides=environ)  # fmt: skip
    assert response.status_code == 401
    assert not queued(app)


def test_a_webhook_secret_that_cannot_be_read_is_401(make_app, monkeypatch, tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "hook").write_text(SECRET)
    app = make_app(api_secret_dir=folder.resolve())
    client = app.test_client()
    body = {"name": "team", "url": "https://e.com/c.git",
            "webhook_secret": {"file": str(folder / "hook")}}  # fmt: skip
    assert client.post("/api/v1/catalogs", json=body, headers=token_for(app)).status_code == 201
    (folder / "hook").unlink()
    payload = b"{}"
    response = client.post("/api/v1/hooks/team", data=payload,
                           headers={"X-Hub-Signature-256": sign(payload)})  # fmt: skip
    assert response.status_code == 401


@pytest.mark.parametrize("url", ["/api/v1/hooks/github", "/api/v1/hooks/team"])
def test_a_replayed_webhook_is_refused(app, client, hooked, url):
    body = json.dumps(PUSH | {"after": "0123abc"}).encode()
    headers = {"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"}
    first = client.post(url, data=body, headers=headers)
    assert first.status_code == 202 and queued(app)
    settle(app)
    again = client.post(url, data=body, headers=headers)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "replayed"
    assert not queued(app)
    fresh = json.dumps(PUSH | {"after": "4567def"}).encode()
    headers["X-Hub-Signature-256"] = sign(fresh)
    assert client.post(url, data=fresh, headers=headers).status_code == 202


# --- caching, encodings -----------------------------------------------------------------------


def test_admin_answers_are_never_stored_by_caches(app, client, admin, hooked):
    answers = [
        client.get("/api/v1/audit", headers=admin),
        client.get("/api/v1/audit"),
        client.post("/api/v1/catalogs", json={"name": "x", "url": "https://e.com/x.git"},
                    headers=admin),
        client.patch("/api/v1/catalogs/x", json={"refresh_interval": 60}, headers=admin),
        client.post("/api/v1/catalogs/x/refresh", headers=admin),
        client.delete("/api/v1/catalogs/x", headers=admin),
        client.post("/api/v1/catalogs", json={"name": "BAD"}, headers=admin),
        client.post("/api/v1/hooks/team", data=b"{}", headers={"X-Hub-Signature-256": "x"}),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 401, 201, 200, 202, 204, 422, 401]
    assert {a.headers.get("Cache-Control") for a in answers} == {"no-store"}


def test_gzip_is_not_sent_to_a_client_that_refuses_it(app, client, make_catalog_repo, sync):
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    for attempt in range(2):  # the view's answer, then the kept one
        answer = client.get("/api/v1/templates", headers={"Accept-Encoding": "gzip;q=0"})
        assert answer.status_code == 200 and len(answer.data) > 1400, attempt
        assert "Content-Encoding" not in answer.headers
        assert answer.json["total"] > 0
    accepted = client.get("/api/v1/templates", headers={"Accept-Encoding": "gzip"})
    assert accepted.headers["Content-Encoding"] == "gzip"
