"""The Helm chart repository of each catalog, under /helm/<catalog>/.

- ``index.yaml``: one entry per Helm chart version that could be packaged (its digest was
  recorded at indexing), ``urls`` relative (``charts/<name>-<version>.tgz``), ``created`` the
  version's time and ``generated`` the indexed commit's time, so the text changes only when
  the catalog does. Compose templates are not in it.
- ``charts/<name>-<version>.tgz``: the archive rebuilt from the stored files with
  :func:`catalog_server.helmrepo.chart_archive`, byte for byte what the digest was taken of.
- ``charts/<name>-<version>.tgz.prov`` and ``public-key.asc``: when the catalog is signed
  (:mod:`catalog_server.signing`), the archive's provenance file as the sync made it, and
  the signing key's public half (ASCII-armored); 404 otherwise.

Both answer with an ETag made of the catalog's revision and generation and the path, and
304 to a matching If-None-Match. The rendered index is kept in process per catalog
generation: it is the hot endpoint, and a sync bumps the generation. It is written entry
by entry, as the rows are read, straight into the answer the cache keeps (its bytes and
their gzip form; a large one in shared memory files, see :mod:`catalog_server.responsecache`),
never as one string: the index of 50,000 chart versions is 40 MB of text.

A large index is built once per server, not once per worker process (one of 50,000 chart
versions takes seconds): the first worker to need it writes it to the cache folder
(``CATALOG_CACHE_DIR/helm-index``: the text, its gzip form and the archive names, the
names last, as the sign that the rest is there), and the others, waiting on a lock file
meanwhile, send those files; the page cache holds them once for every worker. A worker's
build also deletes the catalog's files of other states left untouched for ten minutes, and
any file left unread for a week (a removed catalog's). Where the folder cannot be written or
locked, each worker builds its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select

from catalog_server.api.views import sandboxed
from catalog_server.db import db
from catalog_server.helmrepo import ChartNotPackable, IndexEntries, rfc3339
from catalog_server.helmrepo.stored import served_charts, stored_archive
from catalog_server.loaders.folder import ICON_EXTENSIONS
from catalog_server.memory import release_free_memory
from catalog_server.models import Catalog, ChartDraft, DraftArchive, TemplateVersion
from catalog_server.problems import TemplateNotFound
from catalog_server.queries import template_icon
from catalog_server.responsecache import (
    AnswerWriter,
    CachedAnswer,
    CatalogState,
    SharedBody,
    answer_from_cache,
    helm_etag,
    keep,
    send_kept,
    served_state,
)
from catalog_server.signing import catalog_key, provenance

helm = Blueprint("helm", __name__, url_prefix="/helm")


INDEX_TYPE = "application/x-yaml; charset=utf-8"


@dataclass(frozen=True)
class RepoIndex:
    answer: CachedAnswer  # index.yaml, as the answer cache keeps it (and its gzip form)
    charts: dict[str, tuple[int, str]]  # archive file name -> (TemplateVersion.id, chart name)
    draft: bool = False  # a draft's: its archives are looked up in the draft


_cache_lock = threading.Lock()


def _cache() -> dict[tuple[Any, ...], RepoIndex]:
    """This app's cache: apps on different databases may share catalog names and commits."""
    return current_app.extensions.setdefault("helm_repo_index_cache", {})


def _build_lock(catalog: str) -> threading.Lock:
    """One build of a catalog's index at a time in this app: requests that come while it
    is built wait for it instead of each building their own, each holding a build's
    memory (after a sync, every Helm client asks for the new index at about once)."""
    locks = current_app.extensions.setdefault("helm_repo_index_builds", {})
    with _cache_lock:
        return locks.setdefault(catalog, threading.Lock())


def _state(catalog: str) -> CatalogState:
    found = served_state().catalog(catalog)
    if found is None:
        raise TemplateNotFound(f"catalog {catalog!r} not found")
    return found


@helm.before_request
def _etag():
    catalog = (request.view_args or {}).get("catalog")
    if not isinstance(catalog, str):
        return None
    g.helm_state = _state(catalog)
    return answer_from_cache(helm_etag(catalog, g.helm_state, request.path))


helm.after_request(keep)


def _generated(catalog: Catalog, latest: datetime | None) -> str:
    """The commit's time; for a plain folder the newest version's time; else the epoch."""
    when = catalog.commit_time or latest or datetime(1970, 1, 1, tzinfo=UTC)
    return rfc3339(when.timestamp())


def build_index(catalog_name: str) -> RepoIndex:
    """The catalog's index.yaml and its archive names: its draft's while it has one (a
    sync publishing ahead, :mod:`catalog_server.indexer.early`), else built from the rows.
    Raises TemplateNotFound."""
    catalog = db.session.scalar(select(Catalog).where(Catalog.name == catalog_name))
    if catalog is None:
        raise TemplateNotFound(f"catalog {catalog_name!r} not found")
    draft = db.session.get(ChartDraft, catalog.id)
    if draft is not None:
        writer = AnswerWriter(INDEX_TYPE)
        writer.write(draft.index)
        return RepoIndex(writer.finish(), {}, draft=True)
    # Each entry is written to its text as its row is read, and the index goes from those
    # texts straight into the answer's files (plain and gzip): never one string for the
    # whole index.
    entries = IndexEntries()
    charts: dict[str, tuple[int, str]] = {}
    latest = None
    for chart in served_charts(db.session, catalog.id):
        if chart.filename in charts:
            current_app.logger.warning(
                "helm repo %s: %s is given by two templates; %s is left out",
                catalog_name, chart.filename, chart.slug,
            )  # fmt: skip
            continue
        entries.add_text(chart.name, chart.version, chart.text)
        charts[chart.filename] = (chart.version_id, chart.name)
        created = chart.created or datetime(1970, 1, 1, tzinfo=UTC)
        latest = max(latest, created) if latest else created
    writer = AnswerWriter(INDEX_TYPE)
    for chunk in entries.chunks(_generated(catalog, latest)):
        writer.write(chunk.encode())
    return RepoIndex(writer.finish(), charts)


def repo_index(catalog: str) -> RepoIndex:
    """The cached index of ``catalog`` at its current generation."""
    key = (catalog, *(g.get("helm_state") or _state(catalog)))
    cache = _cache()
    with _cache_lock:
        found = cache.get(key)
    if found is not None:
        return found
    with _build_lock(catalog):
        with _cache_lock:
            found = cache.get(key)  # built while this request waited
        if found is not None:
            return found
        built = _shared_or_built(catalog, key)
        release_free_memory()  # what the build read and wrote: megabytes for a large catalog
        with _cache_lock:
            for stale in [k for k in cache if k[0] == catalog]:
                del cache[stale]
            cache[key] = built
    return built


# The cache folder's subfolder for indexes shared by the workers of a server.
SHARED_FOLDER = "helm-index"
# Files of another state of the same catalog, untouched this long, are no longer read.
STALE_SECONDS = 600
# Files of any catalog, unread this long (a removed catalog's), are deleted.
ABANDONED_SECONDS = 7 * 24 * 3600


def _shared_stem(catalog: str, key: tuple[Any, ...]) -> str | None:
    """Where the files of this index go (a path without its suffixes): one name per
    database and catalog, then per served state (which includes the catalog row's id and
    time of indexing); None when the folder cannot be made."""
    folder = current_app.extensions["catalog_settings"].cache_dir / SHARED_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    owner = hashlib.sha256(f"{db.engine.url}\0{catalog}".encode()).hexdigest()[:16]
    state = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    return str(folder / f"{owner}-{state}")


def _shared_or_built(catalog: str, key: tuple[Any, ...]) -> RepoIndex:
    """The index another worker of this server wrote for this state, else built here
    (and written for the others when it is large)."""
    stem = _shared_stem(catalog, key)
    if stem is None:
        return build_index(catalog)
    try:
        lock = open(f"{stem}.lock", "ab")  # noqa: SIM115 (closed below: that unlocks)
    except OSError:
        return build_index(catalog)
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker building it: wait for it
        except OSError:  # a file system without locks: each worker builds its own
            return build_index(catalog)
        found = _read_shared(stem)
        if found is not None:
            return found
        built = build_index(catalog)
        _clean(stem)
        if built.draft or built.answer.body_file is None:  # cheap to build again
            return built
        try:
            _write_shared(stem, built)
        except OSError as exc:
            current_app.logger.warning("helm repo %s: index not shared: %s", catalog, exc)
            return built
        return _read_shared(stem) or built  # the files, not this process's own copy


def _read_shared(stem: str) -> RepoIndex | None:
    """The index in these files, when all of them are there, whole (the sizes written
    with the archive names); None otherwise."""
    packed = None
    try:
        with open(f"{stem}.json", "rb") as fh:
            names = json.load(fh)
        body = SharedBody.of_file(f"{stem}.yaml")
        if names["gzip"] is not None:
            packed = SharedBody.of_file(f"{stem}.yaml.gz")
        if [body.size, packed and packed.size] != [names["size"], names["gzip"]]:
            return None  # cut short (a crash before the data reached the disk)
        charts = {filename: (int(v[0]), str(v[1])) for filename, v in names["charts"].items()}
        os.utime(f"{stem}.json")  # read: not abandoned
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    answer = CachedAnswer(b"", INDEX_TYPE, (), None if packed is None else b"", body, packed)
    return RepoIndex(answer, charts)


def _write_shared(stem: str, built: RepoIndex) -> None:
    """The index's files, each written whole under a temporary name, then renamed; the
    archive names (with the files' sizes) last."""
    answer = built.answer
    size = answer.body_file.size if answer.body_file is not None else len(answer.body)
    parts = [(".yaml", answer.body_file, answer.body)]
    packed = None
    if answer.gzipped is not None:
        parts.append((".yaml.gz", answer.gzipped_file, answer.gzipped))
        packed = answer.gzipped_file.size if answer.gzipped_file else len(answer.gzipped)
    names = {"size": size, "gzip": packed, "charts": built.charts}
    parts.append((".json", None, json.dumps(names).encode()))
    for suffix, shared, data in parts:
        temporary = f"{stem}{suffix}.{os.getpid()}.tmp"
        try:
            if shared is not None:
                shared.copy_to(temporary)
            else:
                with open(temporary, "wb") as out:
                    out.write(data)
            os.replace(temporary, f"{stem}{suffix}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _clean(stem: str) -> None:
    """Delete the catalog's files of other states untouched for STALE_SECONDS (a worker
    still on the state before a sync may be reading them), and any file untouched for
    ABANDONED_SECONDS (a removed catalog's). Never this state's own."""
    folder, name = os.path.split(stem)
    owner = name.split("-")[0]
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(f"{name}."):
            continue
        try:
            age = now - entry.stat().st_mtime
        except OSError:
            continue
        if age > ABANDONED_SECONDS or (entry.name.startswith(f"{owner}-") and age > STALE_SECONDS):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


@helm.get("/<catalog>/index.yaml")
def index_yaml(catalog: str):
    return send_kept(repo_index(catalog).answer)


@helm.get("/<catalog>/icons/<filename>")
def icon(catalog: str, filename: str):
    """A template's icon, for charts whose Chart.yaml names a catalog file as their icon
    (index.yaml points here: ``icons/<template>.<svg|png|jpg>``)."""
    slug, _, extension = filename.rpartition(".")
    data, media_type = template_icon(db.session, catalog, slug)
    if ICON_EXTENSIONS.get(media_type) != extension:
        raise TemplateNotFound(f"no icon {filename!r} in catalog {catalog!r}")
    return sandboxed(data, media_type)


@helm.get("/<catalog>/artifacthub-repo.yml")
def artifacthub_repo_yml(catalog: str):
    """The catalog's artifacthub-repo.yml as written, so Artifact Hub can list the
    repository; 404 when the catalog has none (or it was malformed: see its problems)."""
    text = db.session.scalar(select(Catalog.artifacthub_repo).where(Catalog.name == catalog))
    if text is None:
        raise TemplateNotFound(f"catalog {catalog!r} has no artifacthub-repo.yml")
    return Response(text, content_type="application/yaml; charset=utf-8")


@helm.get("/<catalog>/charts/<filename>")
def chart(catalog: str, filename: str):
    found = _archive_of(catalog, filename)
    if isinstance(found, bytes):
        data = found
    else:
        v = db.session.get(TemplateVersion, found[0]) if found else None
        if v is None:
            raise TemplateNotFound(f"no chart archive {filename!r} in catalog {catalog!r}")
        try:
            data = stored_archive(db.session, v, found[1])
        except ChartNotPackable as exc:  # the index only lists packable versions
            raise TemplateNotFound(f"{filename}: {exc}") from None
    response = Response(data, content_type="application/gzip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _archive_of(catalog: str, filename: str) -> bytes | tuple[int, str] | None:
    """Where the archive a catalog's index lists as ``filename`` comes from: its bytes (a
    draft's new chart), (TemplateVersion.id, chart name) for an indexed version, or None."""
    index = repo_index(catalog)
    if not index.draft:
        return index.charts.get(filename)
    row = db.session.execute(
        select(DraftArchive.archive, DraftArchive.version_id, DraftArchive.name)
        .join(Catalog, Catalog.id == DraftArchive.catalog_id)
        .where(Catalog.name == catalog, DraftArchive.filename == filename)
    ).first()
    if row is None:
        return None
    return row.archive if row.archive is not None else (row.version_id, row.name)


@helm.get("/<catalog>/charts/<filename>.prov")
def chart_provenance(catalog: str, filename: str):
    found = _archive_of(catalog, filename)
    v = db.session.get(TemplateVersion, found[0]) if isinstance(found, tuple) else None
    key = catalog_key(db.session, catalog)
    text = provenance(db.session, v.chart_digest, key.fingerprint) if v and key else None
    if text is None:
        raise TemplateNotFound(f"no provenance file for {filename!r} in catalog {catalog!r}")
    return Response(text, content_type="text/plain; charset=utf-8")


@helm.get("/<catalog>/public-key.asc")
def public_key(catalog: str):
    key = catalog_key(db.session, catalog)
    if key is None:
        raise TemplateNotFound(f"catalog {catalog!r} does not sign its charts")
    return Response(key.public_key, content_type="application/pgp-keys")
