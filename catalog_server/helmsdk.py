"""The one door to the Helm v4 SDK (PyPI ``helm-python-sdk``, import ``helm_python``).

The SDK binds Helm v4's Go code through a bundled C library (``libhelm_c``, ~85 MB, a
manylinux x86_64 wheel among others), so Helm's own linter, renderer and repository client
run without a ``helm`` binary. It is a default dependency where PyPI has its wheel (see
pyproject.toml's marker); elsewhere it is missing unless built from its sdist
(``pip install 'catalog-server[helm]'``, needs Go). It is young (alpha, 0.2.x): nothing else
in the service imports it, and everything here works, or fails with :class:`HelmSDKMissing`,
whether it is installed or not.

The SDK never runs in the service's own process: a chart's templates decide what Go
computes, and Python cannot interrupt or bound a call inside it. Every function here runs
in a reusable worker process (:mod:`catalog_server.helmworker`) under limits of time,
memory (RLIMIT_AS) and output size, set with :func:`configure` (``CATALOG_HELM_TIMEOUT``,
``CATALOG_HELM_MEMORY_MB``, ``CATALOG_HELM_OUTPUT_MB``). Going over one raises
:class:`HelmLimitExceeded`, a :class:`HelmError` naming the limit; the worker is replaced.

Every function raises :class:`HelmSDKMissing` when the SDK cannot be imported and
:class:`HelmError`, carrying Helm's own message, when Helm reports a failure.

Things to know about the SDK:

- ``repo_index_generate`` and ``pull`` write files (``index.yaml`` into the folder, the
  archive into ``dest``) and ``pull`` also fills Helm's repository cache
  (``$HELM_CACHE_HOME``, by default ``~/.cache/helm``).
- Helm stamps ``created``/``generated`` with the current time, so its index differs on
  every run; :mod:`catalog_server.helmrepo` builds the deterministic one we serve.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from catalog_server import helmworker
from catalog_server.config import Settings
from catalog_server.helmworker import Limits
from catalog_server.problems import CatalogError

__all__ = [
    "HelmError",
    "HelmLimitExceeded",
    "HelmSDKMissing",
    "Limits",
    "available",
    "configure",
    "configure_from",
    "lint",
    "missing_message",
    "pull",
    "pull_oci",
    "push",
    "render",
    "repo_index",
    "repo_index_generate",
    "sign",
    "verify",
]

StrPath = str | os.PathLike[str]

# helm_python's lint severities: 0 unknown, 1 info, 2 warning, 3 error.
_SEVERITIES = {0: "info", 1: "info", 2: "warning", 3: "error"}


class HelmSDKMissing(CatalogError):
    """The Helm SDK is not installed (or its native library does not load)."""


class HelmError(CatalogError):
    """Helm reported a failure; the message is Helm's own."""


class HelmLimitExceeded(HelmError):
    """A Helm call went over a limit (time, memory, output) and was stopped."""


_limits = Limits()
# Workers one process may keep: as many as the chart image renderer's threads (one a CPU,
# at most 4); each starts only when that many calls run at once.
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)
_size = DEFAULT_WORKERS
_pool: helmworker.WorkerPool | None = None
_pool_lock = threading.Lock()


def configure(limits: Limits, workers: int = DEFAULT_WORKERS) -> None:
    """Set the limits of every Helm call from now on, and how many worker processes one
    process may keep (idle workers started under other limits are replaced)."""
    global _limits, _size, _pool
    with _pool_lock:
        if _pool is not None and (_pool.limits != limits or _pool.size != workers):
            _pool.close()
            _pool = None
        _limits, _size = limits, workers


def configure_from(settings: Settings) -> None:
    """The limits of the ``CATALOG_HELM_*`` settings (the app factory and the CLI)."""
    configure(
        Limits(
            timeout=settings.helm_timeout,
            memory_mb=settings.helm_memory_mb,
            output_bytes=settings.helm_output_mb * 1024 * 1024,
        )
    )


def _workers() -> helmworker.WorkerPool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():  # none yet, or inherited over a fork
            _pool = helmworker.WorkerPool(_limits, _size)
        return _pool


@functools.cache
def _import() -> tuple[object | None, str]:
    """Whether the SDK loads, tried once in a worker (never here): a marker or None, and
    why not."""
    if importlib.util.find_spec("helm_python") is None:
        return None, "No module named 'helm_python'"
    try:
        _workers().call("ping", {})
    except helmworker.CallFailed as exc:
        if exc.kind == "missing":
            return None, str(exc)
    except helmworker.WorkerError as exc:
        return None, str(exc)
    return True, ""


def available() -> bool:
    """True when the Helm SDK imports and its native library loads (in a worker)."""
    return _import()[0] is not None


def missing_message() -> str:
    """What to tell a user who asked for something only the Helm SDK does."""
    module, reason = _import()
    if module is not None:
        return ""
    return (
        "this needs the Helm SDK (PyPI helm-python-sdk), which is installed with the server "
        "where PyPI has its wheel (Linux x86_64 and aarch64 with glibc 2.28+, macOS, Windows "
        "x86_64); elsewhere build it with `pip install 'catalog-server[helm]'` (needs Go) or "
        "`make helm`" + (f" ({reason})" if reason else "")
    )


def _call(op: str, **args: Any) -> Any:
    """Run one SDK call in a worker, turning its failures into ours."""
    if _import()[0] is None:
        raise HelmSDKMissing(missing_message())
    try:
        return _workers().call(op, args)
    except helmworker.CallFailed as exc:
        if exc.kind == "missing":
            raise HelmSDKMissing(missing_message() or str(exc)) from None
        raise HelmError(str(exc)) from None
    except helmworker.LimitExceeded as exc:
        raise HelmLimitExceeded(str(exc)) from None
    except helmworker.WorkerError as exc:
        raise HelmError(str(exc)) from None


def lint(path: StrPath) -> list[dict[str, str]]:
    """``helm lint`` a chart folder or ``.tgz``: every finding, none raised.

    Returns ``[{"severity": "error"|"warning"|"info", "path": ..., "message": ...}]``;
    ``path`` is relative to the chart (``Chart.yaml``, ``templates/``), empty when Helm
    could not read the chart at all (its message then says why).

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or Helm rejected the arguments.
    """
    report = _call("lint", path=os.fspath(path))
    findings = [
        {
            "severity": _SEVERITIES.get(message.get("severity", 0), "info"),
            "path": message.get("path", ""),
            "message": message.get("error", ""),
        }
        for message in report.get("messages", [])
    ]
    # "errors" repeats the error-level messages, and alone carries why a chart that could
    # not be loaded was not linted (total_charts_linted 0).
    seen = {finding["message"] for finding in findings}
    findings.extend(
        {"severity": "error", "path": "", "message": error}
        for error in report.get("errors", [])
        if error not in seen
    )
    return findings


def render(
    chart: StrPath | bytes, values: dict[str, Any], release: str, namespace: str
) -> dict[str, str]:
    """``helm template``: render a chart (folder, ``.tgz`` path or archive bytes) offline.

    Returns a mapping of template path (``<chart>/templates/deployment.yaml``, subcharts'
    under ``<chart>/charts/<sub>/templates/``) to its rendered text, ``NOTES.txt``
    included. No cluster is contacted; ``lookup`` returns nothing.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; the chart does not load, the values
            fail its schema, or a template fails to render.
        HelmLimitExceeded: the render took too long, too much memory, or its output is
            too large (the limits of :func:`configure`).
    """
    archive = isinstance(chart, bytes | bytearray)
    manifests: dict[str, str] = _call(
        "render",
        chart=helmworker.encode_bytes(bytes(chart)) if archive else os.fspath(chart),
        values=values,
        release=release,
        namespace=namespace,
        archive=archive,
    )
    return manifests


def repo_index_generate(directory: StrPath, url: str) -> Path:
    """``helm repo index --url URL DIR``: index every ``*.tgz`` in ``directory``.

    Writes ``directory/index.yaml`` (URLs are ``url/<archive>``) and returns its path.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or Helm could not read the folder
            or one of its archives.
    """
    _call("repo_index_generate", directory=os.fspath(directory), url=url)
    return Path(directory) / "index.yaml"


def repo_index(url: str) -> dict[str, Any]:
    """Download and parse ``url/index.yaml`` exactly as a Helm client would.

    Helm is strict: an unknown key anywhere fails the whole index; entries that do not
    validate (a version that is not SemVer, say) are dropped silently.

    Returns:
        ``{"apiVersion", "generated", "entries": {name: [ChartVersion, ...]}}``.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; the index could not be fetched or
            Helm refused to parse it.
    """
    index: dict[str, Any] = _call("repo_index", url=url)
    return index


def pull(name: str, repo_url: str, version: str | None, dest: StrPath) -> Path:
    """``helm pull NAME --repo URL --version V -d DEST``: download a chart archive.

    ``version`` None means the newest stable version. ``dest`` is created if need be.
    Returns the path of the archive written into it (``<name>-<version>.tgz``).

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; the repository or version could not
            be found, or the download failed.
    """
    destination = Path(dest)
    destination.mkdir(parents=True, exist_ok=True)  # Helm would fail on a missing folder
    before = set(destination.glob("*.tgz"))
    _call("pull", name=name, repo_url=repo_url, version=version, destination=os.fspath(dest))
    if version is not None and (exact := destination / f"{name}-{version}.tgz").is_file():
        return exact
    # Without a version (or with a range) the file name is only known after the fact; Helm
    # overwrites an existing archive, so the newest matching file is the one it wrote.
    written = set(destination.glob(f"{name}-*.tgz"))
    candidates = (written - before) or written
    if not candidates:
        raise HelmError(f"helm pull {name} reported success but wrote no archive in {dest}")
    return max(candidates, key=lambda path: path.stat().st_mtime_ns)


def pull_oci(
    reference: str, version: str | None, dest: StrPath, *, plain_http: bool = False
) -> Path:
    """``helm pull oci://HOST/REPO/CHART --version V -d DEST`` (``--plain-http``).

    Returns the path of the archive written into ``dest`` (``<chart>-<tag>.tgz``).

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; the registry refused or the chart or
            version could not be found.
    """
    destination = Path(dest)
    destination.mkdir(parents=True, exist_ok=True)
    before = set(destination.glob("*.tgz"))
    _call(
        "pull_oci",
        reference=reference,
        version=version,
        destination=os.fspath(dest),
        plain_http=plain_http,
    )
    written = set(destination.glob("*.tgz")) - before
    if len(written) != 1:
        raise HelmError(f"helm pull {reference} wrote {len(written)} archives in {dest}")
    return written.pop()


def push(archive: StrPath, remote: str, *, plain_http: bool = False) -> None:
    """``helm push ARCHIVE oci://HOST/REPO`` (``--plain-http``); a ``<archive>.prov`` beside
    the archive goes along as the provenance layer.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or the registry refused the push.
    """
    _call("push", archive=os.fspath(archive), remote=remote, plain_http=plain_http)


def sign(
    archive: StrPath, key: str, keyring: StrPath, passphrase_file: StrPath | None = None
) -> Path:
    """``helm package --sign``'s signing step: clear-sign ``archive`` with the secret key
    ``key`` (a user ID, or a unique part of one) of the binary ``keyring``, unlocked by the
    first line of ``passphrase_file``. Writes and returns ``<archive>.prov``.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; no such key, a locked key, or an
            archive Helm cannot load.
    """
    path = _call(
        "sign",
        archive=os.fspath(archive),
        key=key,
        keyring=os.fspath(keyring),
        passphrase_file=os.fspath(passphrase_file) if passphrase_file else None,
    )
    return Path(path)


def verify(archive: StrPath, keyring: StrPath, provenance: StrPath | None = None) -> dict[str, Any]:
    """``helm verify --keyring KEYRING ARCHIVE``: check the archive against its provenance
    file (default ``<archive>.prov``) and a binary public keyring.

    Returns ``{"file_name", "file_hash", "signed_by": [user IDs]}``.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or the signature or digest does not
            check out.
    """
    result: dict[str, Any] = _call(
        "verify",
        archive=os.fspath(archive),
        keyring=os.fspath(keyring),
        provenance=os.fspath(provenance) if provenance else None,
    )
    return result
