"""The Helm charts of every catalog as an OCI registry, pull side only: ``/v2/``.

Repository ``<catalog>/<chart>`` holds one manifest per chart version that the catalog's
chart repository (``/helm/<catalog>/index.yaml``) lists, tagged with the version (``+``
written ``_``, as Helm does), so ``helm pull oci://HOST/<catalog>/<chart> --version V`` and
``helm install oci://...`` work. The chart layer is the very archive ``/helm/<catalog>/charts/``
serves (same digest); a signed catalog adds the provenance layer (``helm pull --verify``).
See :mod:`catalog_server.oci` for the manifest and config.

Endpoints, as the OCI distribution spec's pull category defines them: ``GET /v2/``;
``GET``/``HEAD`` ``/v2/<name>/manifests/<tag-or-digest>`` and ``/v2/<name>/blobs/<digest>``
(ranges on blobs); ``GET /v2/<name>/tags/list`` and ``GET /v2/_catalog`` (``n``/``last``
paging with a ``Link`` header). Every answer carries ``Docker-Distribution-API-Version``;
content answers carry ``Docker-Content-Digest`` and an ETag that is the digest itself, so a
revalidation costs no rebuild. Errors use the spec's shape
(``{"errors": [{"code", "message", "detail"}]}``). Pushing and deleting answer 405
``UNSUPPORTED``: git is the only way to publish.

Reads are public, as the rest of the server's reads are: there are no private catalogs.

What a repository serves is built once per catalog generation and kept in process (at most
``MAX_REPOSITORIES`` repositories); chart archives go through the app's answer cache.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from catalog_server.api.helm import repo_index
from catalog_server.chartmeta import ChartMetadataError, chart_metadata, go_json
from catalog_server.db import db
from catalog_server.helmignore import HELMIGNORE, HelmIgnore
from catalog_server.helmrepo import ChartNotPackable, chart_digest
from catalog_server.helmrepo.stored import stored_archive
from catalog_server.models import Catalog, ChartProvenance, TemplateVersion, VersionFile
from catalog_server.oci import (
    CHART_LAYER,
    MANIFEST,
    PROVENANCE_LAYER,
    chart_annotations,
    digest_of,
    image_manifest,
    is_digest,
    is_repository_name,
    tag_for,
)
from catalog_server.responsecache import response_cache, served_state

oci = Blueprint("oci", __name__, url_prefix="/v2")


@oci.url_value_preprocessor
def _preview_names(endpoint, values) -> None:
    # A preview (catalog_server.previews) is pulled as `<catalog>__<id>/<chart>`: an OCI
    # name holds no "~", and no catalog name holds "__".
    if values and isinstance(values.get("catalog"), str):
        values["catalog"] = values["catalog"].replace("__", "~", 1)


API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
MAX_PAGE = 1000  # tags or repositories in one answer, whatever `n` asks for
MAX_REPOSITORIES = 256  # repositories kept built per process
BLOB = "application/octet-stream"
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


class RegistryError(Exception):
    """An error answered in the distribution spec's shape."""

    def __init__(self, status: int, code: str, message: str, detail=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail
        self.headers = dict(headers or {})


def _error_response(error: RegistryError) -> Response:
    entry = {"code": error.code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    response = Response(json.dumps({"errors": [entry]}), error.status, mimetype="application/json")
    response.headers.update(error.headers)
    return response


@oci.errorhandler(RegistryError)
def _registry_error(exc: RegistryError) -> Response:
    return _error_response(exc)


@oci.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    # Werkzeug's own answers inside /v2 (an unsatisfiable range, say), in the spec's shape
    # with their headers (Content-Range) kept.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    code = "UNSUPPORTED" if exc.code in (405, 416) else "NAME_UNKNOWN"
    return _error_response(
        RegistryError(exc.code or 500, code, exc.description or "", None, headers)
    )


@oci.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault(*API_VERSION)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _unsupported() -> RegistryError:
    return RegistryError(
        405,
        "UNSUPPORTED",
        "this registry is read-only: charts are published by committing them to the "
        "catalog's git repository",
        headers={"Allow": "GET, HEAD"},
    )


@dataclass(frozen=True)
class Artifact:
    """One chart version as OCI content."""

    version: str
    tag: str
    version_id: int
    chart: str
    manifest: bytes
    config: bytes
    archive_digest: str  # "sha256:..."
    archive_size: int
    provenance: bytes | None

    @property
    def manifest_digest(self) -> str:
        return digest_of(self.manifest)


@dataclass
class Repository:
    name: str  # "<catalog>/<chart>"
    tags: dict[str, Artifact] = field(default_factory=dict)
    manifests: dict[str, Artifact] = field(default_factory=dict)
    blobs: dict[str, tuple[str, Artifact]] = field(default_factory=dict)  # digest -> (kind, a)

    def add(self, artifact: Artifact) -> None:
        self.tags[artifact.tag] = artifact
        self.manifests[artifact.manifest_digest] = artifact
        self.blobs[digest_of(artifact.config)] = ("config", artifact)
        self.blobs[artifact.archive_digest] = ("chart", artifact)
        if artifact.provenance is not None:
            self.blobs[digest_of(artifact.provenance)] = ("provenance", artifact)


_lock = threading.Lock()


def _cache() -> OrderedDict:
    return current_app.extensions.setdefault("oci_repositories", OrderedDict())


def _chart_versions(catalog: str) -> dict[str, list[tuple[str, int]]]:
    """chart name -> [(version, TemplateVersion.id)] as the catalog's index.yaml lists them."""
    charts: dict[str, list[tuple[str, int]]] = {}
    for filename, (version_id, name) in repo_index(catalog).charts.items():
        version = filename[len(name) + 1 : -len(".tgz")]
        charts.setdefault(name, []).append((version, version_id))
    return charts


def _files(version_ids: list[int]) -> dict[int, dict[str, bytes]]:
    """The files Helm's loader reads the metadata from, by version."""
    rows = db.session.execute(
        select(VersionFile.version_id, VersionFile.path, VersionFile.content).where(
            VersionFile.version_id.in_(version_ids),
            VersionFile.path.in_(("Chart.yaml", "requirements.yaml", HELMIGNORE)),
        )
    )
    out: dict[int, dict[str, bytes]] = {}
    for version_id, path, content in rows:
        if content is not None:
            out.setdefault(version_id, {})[path] = content
    return out


def _requirements(files: dict[str, bytes]) -> bytes | None:
    """requirements.yaml when it is in the archive (a .helmignore may leave it out)."""
    data = files.get("requirements.yaml")
    if data is None or HELMIGNORE not in files:
        return data
    try:
        excluded = HelmIgnore(files[HELMIGNORE].decode("utf-8")).excludes("requirements.yaml")
    except (UnicodeDecodeError, ValueError):
        return data  # the archive could not have been built; the version is not listed
    return None if excluded else data


def _build(catalog: str, chart: str, versions: list[tuple[str, int]]) -> Repository:
    ids = [version_id for _, version_id in versions]
    rows = {
        row.id: row
        for row in db.session.scalars(select(TemplateVersion).where(TemplateVersion.id.in_(ids)))
    }
    files = _files(ids)
    key = db.session.scalar(select(Catalog.signing_key).where(Catalog.name == catalog))
    provenance = {}
    if key is not None:
        digests = [row.chart_digest for row in rows.values()]
        provenance = dict(
            db.session.execute(
                select(ChartProvenance.digest, ChartProvenance.provenance).where(
                    ChartProvenance.fingerprint == key, ChartProvenance.digest.in_(digests)
                )
            ).all()
        )
    repository = Repository(f"{catalog}/{chart}")
    for version, version_id in versions:
        row, found = rows.get(version_id), files.get(version_id, {})
        tag = tag_for(version)
        if row is None or tag is None or "Chart.yaml" not in found:
            continue
        try:
            metadata = chart_metadata(found["Chart.yaml"], _requirements(found))
            size = row.chart_size
            if size is None:  # indexed before sizes were recorded
                size = len(stored_archive(db.session, row, chart))
        except (ChartMetadataError, ChartNotPackable) as exc:
            current_app.logger.warning("oci %s/%s %s left out: %s", catalog, chart, version, exc)
            continue
        config = go_json(metadata)
        prov = provenance.get(row.chart_digest)
        prov_bytes = prov.encode("utf-8") if prov is not None else None
        layers = [(CHART_LAYER, f"sha256:{row.chart_digest}", size)]
        if prov_bytes is not None:
            layers.append((PROVENANCE_LAYER, digest_of(prov_bytes), len(prov_bytes)))
        created = row.created or datetime(1970, 1, 1, tzinfo=UTC)
        manifest = image_manifest(config, layers, chart_annotations(metadata, created))
        repository.add(
            Artifact(
                version,
                tag,
                version_id,
                chart,
                manifest,
                config,
                f"sha256:{row.chart_digest}",
                size,
                prov_bytes,
            )
        )
    return repository


def _repository(catalog: str, chart: str) -> Repository:
    """The repository ``catalog/chart`` at the catalog's current generation.
    Raises RegistryError NAME_UNKNOWN."""
    state = served_state().catalog(catalog)
    unknown = RegistryError(
        404,
        "NAME_UNKNOWN",
        f"repository {catalog}/{chart} is not known",
        {"name": f"{catalog}/{chart}"},
    )
    if state is None:
        raise unknown
    key = (catalog, *state, chart)
    cache = _cache()
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    versions = _chart_versions(catalog).get(chart)
    if not versions:
        raise unknown
    built = _build(catalog, chart, versions)
    with _lock:
        for stale in [k for k in cache if k[0] == catalog and k[1:3] != state]:
            del cache[stale]
        cache[key] = built
        while len(cache) > MAX_REPOSITORIES:
            cache.popitem(last=False)
    return built


def _send(
    data: bytes | None,
    size: int,
    digest: str,
    media_type: str,
    *,
    immutable: bool,
    ranges: bool = False,
) -> Response:
    """A content answer: digest header, the digest as ETag, 304 and (blobs) ranges; a HEAD
    answer says the length without a body (``data`` None means HEAD)."""
    response = Response(status=200, content_type=media_type)
    response.headers["Docker-Content-Digest"] = digest
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if immutable else "no-cache"
    )
    response.set_etag(digest)
    if ranges:
        response.headers["Accept-Ranges"] = "bytes"
    if data is None:
        response.headers["Content-Length"] = str(size)
        return response.make_conditional(request)
    response.set_data(data)
    return response.make_conditional(
        request, accept_ranges=ranges, complete_length=len(data) if ranges else None
    )


@oci.route("/", methods=["GET", *WRITE_METHODS])
def ping():
    """The spec's version check: 200 means this is a registry."""
    if request.method not in ("GET", "HEAD"):
        raise _unsupported()
    return Response("{}", mimetype="application/json")


@oci.get("/<catalog>/<chart>/manifests/<reference>")
def manifest(catalog: str, chart: str, reference: str):
    repository = _repository(catalog, chart)
    if ":" in reference:
        if not is_digest(reference):
            raise RegistryError(400, "DIGEST_INVALID", f"{reference!r} is not a sha256 digest")
        artifact = repository.manifests.get(reference)
    else:
        artifact = repository.tags.get(reference)
    if artifact is None:
        raise RegistryError(
            404,
            "MANIFEST_UNKNOWN",
            f"{repository.name}: no manifest {reference!r}",
            {"reference": reference},
        )
    data = None if request.method == "HEAD" else artifact.manifest
    return _send(
        data, len(artifact.manifest), artifact.manifest_digest, MANIFEST, immutable=":" in reference
    )


def _archive(artifact: Artifact) -> bytes:
    """The chart archive, rebuilt as /helm/<catalog>/charts/ serves it, kept by digest."""
    key = f"oci-blob {artifact.archive_digest}"
    kept = response_cache().get(key)
    if kept is not None:
        return kept.body
    version = db.session.get(TemplateVersion, artifact.version_id)
    try:
        data = stored_archive(db.session, version, artifact.chart) if version else None
    except ChartNotPackable:
        data = None
    if data is None or f"sha256:{chart_digest(data)}" != artifact.archive_digest:
        current_app.logger.error("oci: the archive of %s is not its recorded digest", key)
        raise RegistryError(404, "BLOB_UNKNOWN", f"blob {artifact.archive_digest} is not available")
    response_cache().put(key, Response(data, content_type=BLOB))
    return data


@oci.get("/<catalog>/<chart>/blobs/<digest>")
def blob(catalog: str, chart: str, digest: str):
    repository = _repository(catalog, chart)
    found = repository.blobs.get(digest)
    if found is None:
        if not is_digest(digest) and not (":" in digest and digest.split(":", 1)[0] != "sha256"):
            raise RegistryError(400, "DIGEST_INVALID", f"{digest!r} is not a sha256 digest")
        raise RegistryError(
            404, "BLOB_UNKNOWN", f"{repository.name}: no blob {digest}", {"digest": digest}
        )
    kind, artifact = found
    head = request.method == "HEAD"
    if kind == "config":
        data, size = artifact.config, len(artifact.config)
    elif kind == "provenance":
        assert artifact.provenance is not None
        data, size = artifact.provenance, len(artifact.provenance)
    else:
        data, size = (None if head else _archive(artifact)), artifact.archive_size
    return _send(None if head else data, size, digest, BLOB, immutable=True, ranges=True)


def _page(items: list[str], path: str) -> tuple[list[str], str | None]:
    """The ``n``/``last`` window of sorted ``items``, and the ``Link`` to the next one."""
    raw_n, last = request.args.get("n"), request.args.get("last")
    start = bisect.bisect_right(items, last) if last is not None else 0
    if raw_n is None:
        window = items[start:]
        return window, None
    if not raw_n.isdigit():
        raise RegistryError(400, "UNSUPPORTED", f"n must be a whole number, not {raw_n!r}")
    n = int(raw_n)
    window = items[start : start + min(n, MAX_PAGE)]
    if n == 0 or start + len(window) >= len(items):
        return window, None
    query = urlencode({"n": n, "last": window[-1]})
    return window, f'<{path}?{query}>; rel="next"'


def _listing(body: dict, link: str | None) -> Response:
    data = go_json(body)
    response = Response(data, content_type="application/json")
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(digest_of(data))
    if link:
        response.headers["Link"] = link
    return response.make_conditional(request)


@oci.get("/<catalog>/<chart>/tags/list")
def tags(catalog: str, chart: str):
    repository = _repository(catalog, chart)
    window, link = _page(sorted(repository.tags), request.path)
    return _listing({"name": repository.name, "tags": window}, link)


@oci.get("/_catalog")
def repositories():
    names = []
    for catalog in db.session.scalars(select(Catalog.name)):
        if served_state().catalog(catalog) is None:
            continue
        names.extend(f"{catalog}/{chart}" for chart in _chart_versions(catalog))
    window, link = _page(sorted(n for n in names if is_repository_name(n)), request.path)
    return _listing({"repositories": window}, link)


@oci.route("/<path:rest>", methods=["GET", *WRITE_METHODS])
def anything_else(rest: str):
    """Uploads, pushes and deletes are unsupported; any other read names no repository."""
    if request.method not in ("GET", "HEAD"):
        raise _unsupported()
    raise RegistryError(404, "NAME_UNKNOWN", f"no repository or endpoint at /v2/{rest}")
