"""The one door to the Helm v4 SDK (PyPI ``helm-python-sdk``, import ``helm_python``).

The SDK binds Helm v4's Go code through a bundled C library (``libhelm_c``, ~85 MB, a
manylinux x86_64 wheel among others), so Helm's own linter, renderer and repository client
run in process without a ``helm`` binary. It is a default dependency where PyPI has its wheel
(see pyproject.toml's marker); elsewhere it is missing unless built from its sdist
(``pip install 'catalog-server[helm]'``, needs Go). It is young (alpha, 0.2.x): nothing else
in the service imports it, and everything here works, or fails with :class:`HelmSDKMissing`,
whether it is installed or not.

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

import contextlib
import functools
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from catalog_server.problems import CatalogError

__all__ = [
    "HelmError",
    "HelmSDKMissing",
    "available",
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


@functools.cache
def _import() -> tuple[ModuleType | None, str]:
    """Import the SDK once; return it, or None and why not."""
    try:
        import helm_python
    except ImportError as exc:
        return None, str(exc)
    except Exception as exc:  # the native library failed to load
        # helm_python loads libhelm_c at import and raises its HelmLibraryError when the
        # library is missing or built for another platform; that is "missing" to us.
        return None, f"{type(exc).__name__}: {exc}"
    return helm_python, ""


def available() -> bool:
    """True when the Helm SDK imports and its native library loads."""
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


def _sdk() -> ModuleType:
    module, _ = _import()
    if module is None:
        raise HelmSDKMissing(missing_message())
    return module


_SILENCE_LOCK = threading.Lock()
_silenced = {"depth": 0, "saved": -1}


@contextlib.contextmanager
def _go_log_silenced():
    """Helm's Go logger writes warnings straight to file descriptor 2, under our own
    output (lint and render report what matters in their results): send it elsewhere.

    Safe from several threads at once: the first caller in redirects, the last one out
    restores (file descriptor 2 is one for the whole process)."""
    with _SILENCE_LOCK:
        if _silenced["depth"] == 0:
            sys.stderr.flush()
            _silenced["saved"] = os.dup(2)
            with open(os.devnull, "wb") as sink:
                os.dup2(sink.fileno(), 2)
        _silenced["depth"] += 1
    try:
        yield
    finally:
        with _SILENCE_LOCK:
            _silenced["depth"] -= 1
            if _silenced["depth"] == 0:
                os.dup2(_silenced["saved"], 2)
                os.close(_silenced["saved"])


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into the SDK, turning its exceptions into ours."""
    sdk = _sdk()
    try:
        with _go_log_silenced():
            return func(*args, **kwargs)
    except sdk.HelmError as exc:
        raise HelmError(str(exc)) from exc


def lint(path: StrPath) -> list[dict[str, str]]:
    """``helm lint`` a chart folder or ``.tgz``: every finding, none raised.

    Returns ``[{"severity": "error"|"warning"|"info", "path": ..., "message": ...}]``;
    ``path`` is relative to the chart (``Chart.yaml``, ``templates/``), empty when Helm
    could not read the chart at all (its message then says why).

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or Helm rejected the arguments.
    """
    sdk = _sdk()
    report = _call(sdk.lint, os.fspath(path))
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
    """
    sdk = _sdk()
    if isinstance(chart, bytes | bytearray):
        loaded = _call(sdk.Chart.load_archive, bytes(chart))
    else:
        loaded = _call(sdk.Chart.load, os.fspath(chart))
    with loaded:
        manifests: dict[str, str] = _call(
            loaded.render, values, name=release, namespace=namespace, is_install=True
        )
    return manifests


def repo_index_generate(directory: StrPath, url: str) -> Path:
    """``helm repo index --url URL DIR``: index every ``*.tgz`` in ``directory``.

    Writes ``directory/index.yaml`` (URLs are ``url/<archive>``) and returns its path.

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent, or Helm could not read the folder
            or one of its archives.
    """
    sdk = _sdk()
    _call(sdk.repo_index_generate, os.fspath(directory), base_url=url)
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
    sdk = _sdk()
    index: dict[str, Any] = _call(sdk.repo_index, url)
    return index


def pull(name: str, repo_url: str, version: str | None, dest: StrPath) -> Path:
    """``helm pull NAME --repo URL --version V -d DEST``: download a chart archive.

    ``version`` None means the newest stable version. ``dest`` is created if need be.
    Returns the path of the archive written into it (``<name>-<version>.tgz``).

    Raises:
        HelmSDKMissing, HelmError: the SDK is absent; the repository or version could not
            be found, or the download failed.
    """
    sdk = _sdk()
    destination = Path(dest)
    destination.mkdir(parents=True, exist_ok=True)  # Helm would fail on a missing folder
    before = set(destination.glob("*.tgz"))
    _call(sdk.pull, name, repo_url=repo_url, version=version, destination=os.fspath(dest))
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
    sdk = _sdk()
    destination = Path(dest)
    destination.mkdir(parents=True, exist_ok=True)
    before = set(destination.glob("*.tgz"))
    _call(sdk.pull, reference, version=version, destination=os.fspath(dest), plain_http=plain_http)
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
    sdk = _sdk()
    _call(sdk.push, os.fspath(archive), remote, plain_http=plain_http)


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
    sdk = _sdk()
    path = _call(
        sdk.sign,
        os.fspath(archive),
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
    sdk = _sdk()
    result: dict[str, Any] = _call(
        sdk.verify,
        os.fspath(archive),
        os.fspath(keyring),
        provenance_file=os.fspath(provenance) if provenance else None,
    )
    return result
