"""Shared fixtures: an app on its own database per test, and throwaway git catalogs.

Database-backed tests run twice: on SQLite, and on PostgreSQL when
CATALOG_TEST_DATABASE_URL names a database the tests may wipe (`.ci/run` creates a fresh
one). Without it the PostgreSQL runs skip, saying why.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from wsgiref import simple_server

import git
import pytest
from sqlalchemy import create_engine, inspect, text
from werkzeug.serving import make_server

from catalog_server.app import create_app
from catalog_server.catalogs import CatalogSource
from catalog_server.config import Settings
from catalog_server.db import db

DATA = Path(__file__).parent / "data"
PG_URL_VAR = "CATALOG_TEST_DATABASE_URL"


def _postgres_url() -> str:
    url = os.environ.get(PG_URL_VAR)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_URL_VAR} (a database they may wipe); not set")
    from catalog_server.config import normalise_database_url

    url = normalise_database_url(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the server is down or the database is missing
        pytest.skip(f"PostgreSQL at {PG_URL_VAR} is not reachable: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return url


def _wipe_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in inspect(conn).get_table_names():
            conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url = _postgres_url()
    _wipe_postgres(url)
    return url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    env = {
        "CATALOG_INSTANCE_DIR": str(tmp_path / "instance"),
        "CATALOG_DATABASE_URL": database_url,
        "CATALOG_CACHE_DIR": str(tmp_path / "cache"),
        # Tests read right after they sync: no grace period for the served state.
        "CATALOG_STATE_TTL": "0",
    }
    return Settings.from_env(env)


@pytest.fixture
def app(settings):
    from flask_migrate import upgrade

    app = create_app({"TESTING": True}, settings=settings)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_env(settings) -> dict[str, str]:
    """Environment for running `catalog-server` against the test's database."""
    return {
        "CATALOG_INSTANCE_DIR": str(settings.instance_dir),
        "CATALOG_DATABASE_URL": settings.database_url,
        "CATALOG_CACHE_DIR": str(settings.cache_dir),
        "CATALOG_STATE_TTL": "0",
    }


@dataclass
class CatalogRepo:
    """A real git repository in a temp folder, holding a catalog."""

    path: Path
    repo: git.Repo

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8", newline="")

    def copy(self, fixture: str, dest: str = "") -> None:
        """Copy a fixture folder from tests/data into the repository (at `dest`)."""
        shutil.copytree(DATA / fixture, self.path / dest, dirs_exist_ok=True, symlinks=True)

    def remove(self, *paths: str) -> None:
        for rel in paths:
            target = self.path / rel
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()

    def commit(self, message: str = "change") -> str:
        self.repo.git.add("-A")
        self.repo.git.commit("-m", message, "--allow-empty")
        return self.repo.head.commit.hexsha

    def source(self, name: str = "test", **kw) -> CatalogSource:
        return CatalogSource(name=name, url=str(self.path), **kw)


@pytest.fixture
def make_catalog_repo(tmp_path) -> Iterator:
    """Factory: `make_catalog_repo(files={...}, fixture="catalogs/x")` -> CatalogRepo."""
    count = 0

    def make(files: Mapping[str, str | bytes] | None = None, fixture: str | None = None):
        nonlocal count
        count += 1
        path = tmp_path / f"catalog-repo-{count}"
        path.mkdir()
        repo = git.Repo.init(path, initial_branch="main")
        with repo.config_writer() as cfg:
            cfg.set_value("user", "name", "Catalog Tests")
            cfg.set_value("user", "email", "tests@example.com")
            cfg.set_value("commit", "gpgsign", "false")
        catalog = CatalogRepo(path, repo)
        if fixture:
            catalog.copy(fixture)
        if files:
            catalog.write(files)
        catalog.commit("initial catalog")
        return catalog

    return make


@pytest.fixture
def sync(app, settings):
    """`sync(source, **kw)` indexes a catalog source into the test database."""
    from catalog_server.indexer import sync_catalog

    def run(source: CatalogSource, **kw):
        with app.app_context():
            return sync_catalog(db.session, source, cache_dir=settings.cache_dir, **kw)

    return run


@pytest.fixture
def http_server():
    """`with http_server(app) as host:` serves the app over HTTP on 127.0.0.1 (a thread)."""

    @contextlib.contextmanager
    def serve(app) -> Iterator[str]:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()

    return serve


@pytest.fixture
def helm_home(tmp_path, monkeypatch):
    """Helm's cache, config and data folders in the test's own temp folder."""
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))


@dataclass
class GpgHome:
    """A GnuPG home folder of its own, driven by the real gpg: throwaway keys for tests."""

    path: Path

    def run(self, *args: str, passphrase: str = "", stdin: bytes | None = None) -> bytes:
        env = {**os.environ, "GNUPGHOME": str(self.path)}
        command = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase]
        result = subprocess.run(
            [*command, *args], input=stdin, env=env, check=True, capture_output=True
        )
        return result.stdout

    def make_key(self, user_id: str, algorithm: str = "ed25519", passphrase: str = "") -> str:
        """Make a signing key; return its fingerprint (lowercase hex)."""
        self.run("--quick-gen-key", user_id, algorithm, "sign", "never", passphrase=passphrase)
        out = self.run("--with-colons", "--list-keys", user_id).decode()
        fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
        return fpr.lower()

    def secret_keyring(self, target: Path, *who: str, passphrase: str = "") -> Path:
        """The binary secret keyring `helm package --sign` takes (gpg --export-secret-keys)."""
        target.write_bytes(self.run("--export-secret-keys", *who, passphrase=passphrase))
        return target

    def public_keyring(self, target: Path, *who: str) -> Path:
        target.write_bytes(self.run("--export", *who))
        return target

    def dearmor(self, armored: bytes) -> bytes:
        return self.run("--dearmor", stdin=armored)

    def stop(self) -> None:
        """Stop the gpg-agent that gpg started for this home."""
        env = {**os.environ, "GNUPGHOME": str(self.path)}
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


def _gpg_home(folder: Path) -> Iterator[GpgHome]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed (apt-get install gnupg)")
    folder.mkdir(mode=0o700)
    home = GpgHome(folder)
    yield home
    home.stop()


@pytest.fixture
def gpg(tmp_path) -> Iterator[GpgHome]:
    """A throwaway GnuPG home (skips where gpg is not installed)."""
    yield from _gpg_home(tmp_path / "gnupg")


@pytest.fixture(scope="module")
def module_gpg(tmp_path_factory) -> Iterator[GpgHome]:
    """A throwaway GnuPG home shared by a module's tests (keys take a while to make)."""
    yield from _gpg_home(tmp_path_factory.mktemp("gpg") / "gnupg")


# --- git over HTTPS ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def git_http_server(tls_certificate, monkeypatch) -> Iterator:
    """Factory: `git_http_server(root, user, password)` serves the repositories under
    `root` over HTTPS (git http-backend) to clients sending that HTTP basic auth, and
    returns its base URL. git trusts the server's certificate for the test. Every
    Authorization header received is kept in the factory's `authorizations` list."""
    cert, key = tls_certificate
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    servers = []
    authorizations: list[str] = []

    def start(root, user: str, password: str) -> str:
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        def app(environ, start_response):
            if "HTTP_AUTHORIZATION" in environ:
                authorizations.append(environ["HTTP_AUTHORIZATION"])
            if environ.get("HTTP_AUTHORIZATION") != expected:
                start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
                return [b"authentication required\n"]
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            cgi = {
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": environ["PATH_INFO"],
                "QUERY_STRING": environ.get("QUERY_STRING", ""),
                "REQUEST_METHOD": environ["REQUEST_METHOD"],
                "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
                "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
                "REMOTE_USER": user,
                "PATH": os.environ["PATH"],
            }
            out = subprocess.run(
                ["git", "http-backend"], input=body, env=cgi, capture_output=True
            ).stdout
            head, _, content = out.partition(b"\r\n\r\n")
            status, headers = "200 OK", []
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(": ")
                if name.lower() == "status":
                    status = value
                elif name:
                    headers.append((name, value))
            start_response(status, headers)
            return [content]

        server = simple_server.make_server(
            "127.0.0.1", 0, app, server_class=simple_server.WSGIServer, handler_class=_QuietHandler
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_port}"

    start.authorizations = authorizations
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- bounded child processes ---------------------------------------------------------------


def run_limited(
    args: list[str],
    *,
    memory_mb: int,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a command in a child process whose address space is limited to ``memory_mb``
    (RLIMIT_AS, inherited by its own children) and that is killed after ``timeout``
    seconds: a test of resource limits that regresses fails, instead of taking the
    machine's memory."""
    import resource

    limit = memory_mb * 1024 * 1024

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return subprocess.run(
        args, preexec_fn=limit_memory, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )  # fmt: skip


@pytest.fixture
def limited_run():
    """`limited_run(args, memory_mb=..., ...)`: see run_limited."""
    return run_limited
