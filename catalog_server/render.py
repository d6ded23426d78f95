"""Install manifests of indexed versions, for the API and the `catalog-server render` command.

Both read the version from the database (never git) and go through :func:`render_version`,
so the CLI writes exactly the files the API returns. The pure rendering lives in
:mod:`catalog_server.manifests.compose` and :mod:`catalog_server.manifests.helm`.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server import queries
from catalog_server.chartvalues import CHART_VALUE_FILES, effective_questions
from catalog_server.loaders.model import INSTALLABLE_TYPES, TEMPLATE_TYPES, template_type
from catalog_server.manifests.compose import compose_manifest
from catalog_server.manifests.helm import helm_manifest
from catalog_server.manifests.model import Manifest, ManifestError
from catalog_server.manifests.schema_questions import SCHEMA_FILE
from catalog_server.manifests.values import entry, values_error
from catalog_server.models import TemplateVersion, VersionFile
from catalog_server.releases import MAX_RELEASE, default_namespace, default_release

__all__ = [
    "manifest_archive",
    "render_version",
    "version_files",
    "served_questions",
]

# Helm release names are DNS labels of at most 53 characters, namespaces of at most 63;
# compose project names are a subset of that here, so the commands we print are shell-safe.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
MAX_NAMESPACE = 63


def check_label(what: str, value: str, limit: int) -> None:
    """Raise ValueError unless ``value`` is a lower-case DNS label of at most ``limit``."""
    if not isinstance(value, str) or len(value) > limit or not _LABEL.match(value):
        raise ValueError(
            f"{what} must be lower-case letters, digits and '-', starting and ending with a "
            f"letter or digit, at most {limit} characters"
        )


def version_files(session: Session, version: TemplateVersion) -> dict[str, bytes | None]:
    """Every file of ``version`` with its content, in one query."""
    rows = session.execute(
        select(VersionFile.path, VersionFile.content).where(VersionFile.version_id == version.id)
    )
    return {path: content for path, content in rows}


QUESTION_FILES = ("questions.yaml", "questions.yml")  # Rancher reads questions.yaml first


def served_questions(
    session: Session, v: TemplateVersion
) -> tuple[list[dict[str, Any]], str | None]:
    """A version's questions and the file they come from: its own (``rancher-compose.yml``,
    ``questions.yaml|yml``), else, for a chart, those derived from its
    ``values.schema.json``; ([], None) when it asks none."""
    paths = {f.path for f in v.files}
    if v.template.kind != "helm":
        return v.questions or [], "rancher-compose.yml" if v.questions else None
    if v.questions:
        return v.questions, next((p for p in QUESTION_FILES if p in paths), None)
    if SCHEMA_FILE not in paths:
        return [], None
    asked = effective_questions(queries.version_contents(session, v, CHART_VALUE_FILES), [])
    return asked.questions, asked.source


def render_version(
    session: Session,
    catalog: str,
    template: str,
    version: str,
    answers: Mapping[str, Any],
    *,
    release: str | None = None,
    namespace: str | None = None,
    target: str | None = None,
    server_url: str,
    values: str | Mapping[str, Any] | None = None,
) -> Manifest:
    """The install manifest of an indexed version.

    ``values`` is a raw values document (YAML or JSON text, or a mapping) for a Helm chart;
    compose templates take none. ``release`` defaults to the chart's
    ``catalog.cattle.io/release-name`` annotation, else the chart or template name;
    ``namespace`` to the chart's ``catalog.cattle.io/namespace`` annotation, else
    ``default``. ``target`` (compose templates: ``compose``, the default, or ``rancher``;
    see :func:`compose_manifest`) is refused for charts. ``server_url`` is where this
    service is reached (for ``helm repo add``).

    Raises TemplateNotFound; ValueError for a bad release, namespace or target;
    ManifestError when the answers or the template fail, and ``not_installable`` for a
    template that is neither a stack nor a chart (see :class:`ManifestError`).
    """
    t = queries.get_template(session, catalog, template, with_versions=False)
    v = queries.get_version(session, catalog, template, version)
    kind = template_type(t.kind, t.base)
    if kind not in INSTALLABLE_TYPES:
        raise ManifestError(
            "not_installable",
            f"{template} is {TEMPLATE_TYPES[kind]}: there is no install manifest to render",
            {"type": kind},
        )
    if target is not None and t.kind == "helm":
        raise ValueError("target applies to compose templates; a chart installs with Helm")
    chart = (v.meta or {}).get("chart") or {}
    release = release or default_release(template.rpartition("*")[2], chart)
    check_label("release", release, MAX_RELEASE)
    files = version_files(session, v)
    if t.kind != "helm":
        if values is not None:
            raise values_error(
                "values apply to Helm charts only; compose templates take answers",
                [entry("compose templates take answers, not a values document")],
            )
        return compose_manifest(
            files, v.questions or [], answers, release=release, target=target or "compose"
        )
    namespace = namespace or default_namespace(chart)
    check_label("namespace", namespace, MAX_NAMESPACE)
    return helm_manifest(
        files,
        v.questions or [],
        answers,
        chart_name=str(chart.get("name") or template.rpartition("*")[2]),
        version=str(chart.get("version") or v.version),
        created=v.created,
        release=release,
        namespace=namespace,
        repo_name=catalog,
        repo_url=f"{server_url.rstrip('/')}/helm/{catalog}",
        values=values,
    )


def manifest_archive(manifest: Manifest, mtime: int = 0) -> bytes:
    """A .tar.gz of the manifest's files: sorted, mode 0644, owner 0, times ``mtime``.

    The same manifest gives the same bytes (no gzip time or name).
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(manifest.files, key=lambda f: f.path):
            data = f.content.encode("utf-8")
            info = tarfile.TarInfo(f.path)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_manifest(manifest: Manifest, out: Path) -> list[Path]:
    """Write the manifest's files under ``out``; raise ValueError, before writing that file,
    for a path that would leave it."""
    root = out.resolve()
    written = []
    for f in manifest.files:
        target = (root / f.path).resolve()
        if root not in target.parents:
            raise ValueError(f"refusing to write {f.path!r} outside {out}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8", newline="")
        written.append(target)
    return written
