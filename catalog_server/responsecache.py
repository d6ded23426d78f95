"""What makes hot reads cheap: the served state as one token, and answers kept by ETag.

Every read answer depends only on the indexed state of the catalogs (each catalog's
revision and generation) and the URL. `ServedState` reads that state from the database at
most every `CATALOG_STATE_TTL` seconds (default 0.25), so a reader sees a sync's result within
that time (and the stored web site's state the same way, for the site's pages). On SQLite
it also reads it again as soon as another connection has committed (`CommitSignal`: a few
microseconds per request), so a sync on the same database shows at the next request;
`ResponseCache` keeps finished answers (and their gzip form) by ETag, so a repeated
request costs a dictionary lookup. Both live per app, in process: nothing to share, nothing
to invalidate, since a new state makes new ETags.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request
from werkzeug.http import parse_accept_header, parse_etags

from catalog_server.db import db
from catalog_server.queries import catalog_state
from catalog_server.sitepages import site_state

GZIP_MIN_BYTES = 1400  # smaller answers fit in a packet anyway
COMPRESSIBLE = ("application/json", "application/yaml", "application/x-yaml", "text/")
# Headers that belong to one transfer, not to the answer: never kept with it.
TRANSFER_HEADERS = {"content-length", "content-type", "content-encoding", "etag", "vary", "date"}


class CommitSignal:
    """Whether any other connection has committed to a SQLite database since a given look:
    ``PRAGMA data_version`` on a read-only connection of its own (one per process), which
    changes with every such commit and costs a few microseconds to ask."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @classmethod
    def for_url(cls, url: str) -> CommitSignal | None:
        """The signal of a SQLite database file; None for any other database."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return cls(parsed.database)

    def version(self) -> int | None:
        """A number that changes whenever another connection commits; None when the
        database cannot be asked (not created yet, unreadable): then nothing is known."""
        with self._lock:
            try:
                if self._conn is None or self._pid != os.getpid():  # never across a fork
                    uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
                    self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                    self._pid = os.getpid()
                return self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                self._conn = None
                return None


# What one catalog's served content depends on: revision, generation, and which catalog
# row (its id and time of indexing) serves them.
CatalogState = tuple[str | None, int, tuple[Any, ...]]


class ServedState:
    def __init__(self, ttl: float, signal: CommitSignal | None = None):
        self.ttl = ttl
        self.signal = signal
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._read_version: int | None = None
        self._catalogs: dict[str, CatalogState] = {}
        self._token = ""
        self._site_read_at = float("-inf")
        self._site_version: int | None = None
        self._site: tuple[str, bool] = ("", False)

    def _version(self) -> int | None:
        return self.signal.version() if self.signal is not None else None

    def _holds(self, read_at: float, read_version: int | None) -> bool:
        """Whether a read made then still stands: within the TTL, and no commit since
        (where the database can tell)."""
        if time.monotonic() - read_at >= self.ttl:
            return False
        if self.signal is None or read_version is None:  # the TTL alone
            return True
        return self._version() == read_version

    def _refresh(self) -> None:
        if self._holds(self._read_at, self._read_version):
            return
        # The counter before the read: a commit made during it is seen at the next request.
        now, version = time.monotonic(), self._version()
        rows = catalog_state(db.session)
        with self._lock:
            self._catalogs = {row[0]: (row[1], row[2], (row[-2], row[-1])) for row in rows}
            self._token = hashlib.sha256(repr(rows).encode()).hexdigest()[:24]
            self._read_at, self._read_version = now, version

    def fresh_token(self) -> str | None:
        """The token while the last read holds, else None (no query of the state here)."""
        if self._holds(self._read_at, self._read_version):
            return self._token
        return None

    def fresh_catalog(self, name: str) -> CatalogState | None:
        if self._holds(self._read_at, self._read_version):
            return self._catalogs.get(name)
        return None

    def token(self) -> str:
        """One string that changes whenever any catalog's served content does."""
        self._refresh()
        return self._token

    def catalog(self, name: str) -> CatalogState | None:
        """(revision, generation, (id, time of indexing)) of one catalog, or None when there
        is no such catalog."""
        self._refresh()
        return self._catalogs.get(name)

    def site(self) -> tuple[str, bool]:
        """(token, built): a string that changes whenever the stored web site's pages do,
        and whether the site has been built at all."""
        if not self._holds(self._site_read_at, self._site_version):
            now, version = time.monotonic(), self._version()
            rows = site_state(db.session)
            with self._lock:
                self._site = (hashlib.sha256(repr(rows).encode()).hexdigest()[:24], bool(rows))
                self._site_read_at, self._site_version = now, version
        return self._site


# Answers at least this large (a Helm index) are also kept in an anonymous memory file,
# which a server that can (gunicorn) sends with sendfile(2): no copy per request.
SHARED_FILE_BYTES = 128 * 1024


_COPY_BYTES = 1024 * 1024


class SharedBody:
    """Bytes in an anonymous in-memory file (Linux memfd), closed when no answer being
    sent holds it any more. Only read at explicit offsets (pread, sendfile), so any
    number of threads may send it at once: its file position never moves."""

    def __init__(self, data: bytes | bytearray = b""):
        self.size = 0
        self.fd = os.memfd_create("catalog-answer", os.MFD_CLOEXEC)
        self.append(data)

    @classmethod
    def of_file(cls, path: str | os.PathLike) -> SharedBody:
        """A file's bytes as they are, read-only (a file that other processes send too).
        Raises OSError."""
        body = cls.__new__(cls)
        body.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        body.size = os.fstat(body.fd).st_size
        return body

    def copy_to(self, path: str | os.PathLike) -> None:
        """Write the bytes to a new file at ``path``."""
        with open(path, "wb") as out:
            for start in range(0, self.size, _COPY_BYTES):
                out.write(os.pread(self.fd, min(_COPY_BYTES, self.size - start), start))

    def append(self, data: bytes | bytearray) -> None:
        """Add bytes at the end: only while the answer is being written, before anything
        reads it. Written at explicit offsets too, so a server's sendfile starts at 0."""
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, self.size)
            self.size += written
            view = view[written:]

    def __del__(self, _close=os.close):  # os may be gone when the interpreter exits
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            _close(fd)


class BodyReader:
    """One answer's read of a SharedBody: what a WSGI file wrapper takes. ``fileno`` lets
    the server send the file itself; ``read`` serves any other server. Closing it leaves
    the shared file open for the other answers."""

    def __init__(self, body: SharedBody):
        self._body, self._pos = body, 0

    def fileno(self) -> int:
        return self._body.fd

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._body.size - self._pos
        data = os.pread(self._body.fd, size, self._pos)
        self._pos += len(data)
        return data

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]  # e.g. the sandbox CSP of a raw file
    gzipped: bytes | None  # the gzip form, when it pays
    body_file: SharedBody | None = None  # large answers: the same bytes as files
    gzipped_file: SharedBody | None = None


def _shared(data: bytes | bytearray) -> SharedBody | None:
    if not hasattr(os, "memfd_create"):
        return None
    try:
        return SharedBody(data)
    except OSError:  # no memfd here (a restricted sandbox): plain bytes it is
        return None


class _Spool:
    """Bytes being written: in the heap while under SHARED_FILE_BYTES, then in a
    SharedBody (or still in the heap where there is no memfd)."""

    def __init__(self) -> None:
        self.size = 0
        self._heap = bytearray()
        self._file: SharedBody | None = None
        self._heap_only = False

    def write(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        if self._file is not None:
            self._file.append(data)
            return
        self._heap += data
        if len(self._heap) >= SHARED_FILE_BYTES and not self._heap_only:
            self._file = _shared(self._heap)
            if self._file is None:
                self._heap_only = True
            else:
                self._heap = bytearray()

    def result(self) -> tuple[bytes, SharedBody | None]:
        """(bytes, None) for an answer held in the heap, (b"", file) for one in a file."""
        if self._file is not None:
            return b"", self._file
        return bytes(self._heap), None


# What AnswerWriter gathers before it hands bytes on to the files and the compressor.
_WRITE_BYTES = 64 * 1024


class AnswerWriter:
    """An answer written piece by piece, straight into what the cache keeps: the bytes
    (a shared file once they pass SHARED_FILE_BYTES) and their gzip form, compressed as
    they come. So a large answer (a Helm index of 50,000 chart versions is 40 MB) is
    never one string in memory, let alone several (text, bytes, gzip)."""

    def __init__(self, content_type: str, headers: tuple[tuple[str, str], ...] = ()):
        self.content_type, self.headers = content_type, headers
        self._plain, self._gzipped = _Spool(), _Spool()
        self._compressor = (
            zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # a gzip stream
            if content_type.startswith(COMPRESSIBLE)
            else None
        )
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        if not self._pending and len(data) >= _WRITE_BYTES:
            self._hand_on(data)
            return
        self._pending += data
        if len(self._pending) >= _WRITE_BYTES:
            self._hand_on(self._pending)
            self._pending = bytearray()

    def _hand_on(self, data: bytes | bytearray) -> None:
        self._plain.write(data)
        if self._compressor is not None:
            self._gzipped.write(self._compressor.compress(data))

    def finish(self) -> CachedAnswer:
        """The answer as written: the gzip form only for a compressible one of at least
        GZIP_MIN_BYTES."""
        self._hand_on(self._pending)
        self._pending = bytearray()
        body, body_file = self._plain.result()
        gzipped, gzipped_file = None, None
        if self._compressor is not None and self._plain.size >= GZIP_MIN_BYTES:
            self._gzipped.write(self._compressor.flush())
            gzipped, gzipped_file = self._gzipped.result()
        return CachedAnswer(body, self.content_type, self.headers, gzipped, body_file, gzipped_file)


class ResponseCache:
    """A bounded least-recently-used map of ETag -> finished answer.

    ``max_bytes`` bounds the answers held as bytes (one may take an eighth of it);
    ``max_file_bytes`` the large ones held as shared memory files instead (a Helm index of
    50,000 chart versions is 40 MB), which are kept out of the process's own heap."""

    def __init__(
        self,
        max_entries: int = 2048,
        max_bytes: int = 64 * 1024 * 1024,
        max_file_bytes: int = 512 * 1024 * 1024,
    ):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_file_bytes = max_file_bytes
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._bytes = self._file_bytes = 0
        self._lock = threading.Lock()

    def get(self, etag: str) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(etag)
            if answer is not None:
                self._entries.move_to_end(etag)
            return answer

    def put(self, etag: str, response: Response) -> CachedAnswer:
        """Keep a view's finished answer (and its gzip form); returns what is kept."""
        headers = tuple(
            (k, v) for k, v in response.headers.items() if k.lower() not in TRANSFER_HEADERS
        )
        writer = AnswerWriter(response.content_type or "", headers)
        writer.write(response.get_data())
        return self.add(etag, writer.finish())

    def add(self, etag: str, answer: CachedAnswer) -> CachedAnswer:
        """Keep an answer built ahead (with AnswerWriter), within the budgets."""
        size, file_size = _sizes(answer)
        if size > self.max_bytes // 8 or file_size > self.max_file_bytes // 2:
            return answer  # too large to keep; served, not cached
        with self._lock:
            old = self._entries.pop(etag, None)
            if old is not None:
                self._count(old, -1)
            self._entries[etag] = answer
            self._count(answer, 1)
            while (
                len(self._entries) > self.max_entries
                or self._bytes > self.max_bytes
                or self._file_bytes > self.max_file_bytes
            ):
                _, dropped = self._entries.popitem(last=False)
                self._count(dropped, -1)
        return answer

    def _count(self, answer: CachedAnswer, sign: int) -> None:
        size, file_size = _sizes(answer)
        self._bytes += sign * size
        self._file_bytes += sign * file_size


def _sizes(answer: CachedAnswer) -> tuple[int, int]:
    """(bytes held in the heap, bytes held in shared files) of an answer."""
    files = [f.size for f in (answer.body_file, answer.gzipped_file) if f is not None]
    return len(answer.body) + len(answer.gzipped or b""), sum(files)


def init_cache(app: Flask, ttl: float, database_url: str) -> None:
    app.extensions["served_state"] = ServedState(ttl, CommitSignal.for_url(database_url))
    app.extensions["response_cache"] = ResponseCache()
    app.wsgi_app = FastReads(app)  # type: ignore[method-assign]


def served_state() -> ServedState:
    return current_app.extensions["served_state"]


def response_cache() -> ResponseCache:
    return current_app.extensions["response_cache"]


def api_etag(token: str, full_path: str) -> str:
    """The ETag of an /api/v1 read: the served state and the URL, path and query."""
    return hashlib.sha256(f"{token} {full_path}".encode()).hexdigest()[:32]


def helm_etag(catalog: str, state: CatalogState, path: str) -> str:
    """The ETag of a chart repository read: that catalog's state only, and the path."""
    return hashlib.sha256(repr((catalog, state, path)).encode()).hexdigest()[:32]


def _send(answer: CachedAnswer, etag: str, gzip_ok: bool, environ: dict) -> Response:
    """The answer in the form the client takes: gzip (its own ETag) when it says it can.
    A large one goes as its shared file through the server's ``wsgi.file_wrapper``."""
    gz = answer.gzipped is not None and gzip_ok
    shared = answer.gzipped_file if gz else answer.body_file
    wrapper = environ.get("wsgi.file_wrapper")
    if shared is not None and wrapper is not None:
        response = Response(
            wrapper(BodyReader(shared)), content_type=answer.content_type, direct_passthrough=True
        )
        response.content_length = shared.size
    elif shared is not None:  # a server without sendfile: the bytes, read from the file
        response = Response(BodyReader(shared).read(), content_type=answer.content_type)
    else:
        response = Response(answer.gzipped if gz else answer.body, content_type=answer.content_type)
    response.headers.extend(answer.headers)
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    if answer.gzipped is not None:
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(f"{etag}-gz" if gz else etag)
    response.headers.setdefault("Cache-Control", "no-cache")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _not_modified(etag: str, if_none_match) -> Response | None:
    for held in (etag, f"{etag}-gz"):
        if held in if_none_match:
            response = Response(status=304)
            response.set_etag(held)
            return response
    return None


def _count(result: str) -> None:
    from catalog_server.metrics import ANSWER_CACHE

    ANSWER_CACHE.labels(result).inc()


def answer_from_cache(etag: str) -> Response | None:
    """before_request: 304 when the client holds this ETag (either form), the kept answer
    when there is one, else None (the view runs and `keep` stores its answer)."""
    g.etag = etag
    found = _not_modified(etag, request.if_none_match)
    if found is not None:
        _count("revalidated")
        return found
    answer = response_cache().get(etag)
    if answer is None:
        return None
    g.from_cache = True
    _count("hit")
    return _send(answer, etag, accepts_gzip(request.accept_encodings), request.environ)


def accepts_gzip(accept) -> bool:
    """True when the client takes gzip: named (or ``*``) with a quality above 0."""
    return accept["gzip"] > 0


def keep(response: Response) -> Response:
    """after_request: keep a fresh 200 answer under its ETag and send it in the client's form."""
    etag = g.get("etag")
    if (
        etag is None
        or g.get("from_cache")
        or response.status_code != 200
        or request.method not in ("GET", "HEAD")
        or response.direct_passthrough
        or response.is_streamed
    ):
        return response
    _count("miss")
    answer = response_cache().put(etag, response)
    return _send(answer, etag, accepts_gzip(request.accept_encodings), request.environ)


def send_kept(answer: CachedAnswer) -> Response:
    """A view's answer built ahead as a CachedAnswer (a Helm index, written piece by piece
    with AnswerWriter): kept under the request's ETag and sent in the client's form, as
    `keep` does with a view's Response (which then leaves this one alone)."""
    etag = g.etag
    _count("miss")
    response_cache().add(etag, answer)
    g.from_cache = True
    return _send(answer, etag, accepts_gzip(request.accept_encodings), request.environ)


# Reads that must reflect the live process or database: never answered from memory. By
# endpoint (for the API's own check) and path (for `FastReads`, before Flask routes).
UNCACHED_API_ENDPOINTS = {
    "api.healthz": "/api/v1/healthz",
    "api.readyz": "/api/v1/readyz",
    "api.openapi": "/api/v1/openapi.json",
    "api.list_audit": "/api/v1/audit",
}
UNCACHED_API_PATHS = frozenset(UNCACHED_API_ENDPOINTS.values())


class FastReads:
    """WSGI middleware that answers, before Flask runs, the commonest reads of all: a
    revalidation whose ETag still holds (304), and a repeat of a kept answer.

    It only ever answers with what the Flask views produced before for the very same ETag
    (same served state, same URL), and only while the served state is fresh; anything
    else goes on to Flask, which computes the same ETags (`api_etag`, `helm_etag`).
    """

    def __init__(self, app: Flask):
        self.app = app
        self.next = app.wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            started = time.perf_counter()
            response = self._answer(environ)
            if response is not None:
                from catalog_server.metrics import REQUEST_SECONDS

                REQUEST_SECONDS.labels(
                    "(answered from memory)", environ["REQUEST_METHOD"], str(response.status_code)
                ).observe(time.perf_counter() - started)
                return response(environ, start_response)
        return self.next(environ, start_response)

    def _answer(self, environ) -> Response | None:
        path = _wsgi_text(environ.get("PATH_INFO", ""))
        state: ServedState = self.app.extensions["served_state"]
        if path.startswith("/api/v1/") and path not in UNCACHED_API_PATHS:
            if environ.get("HTTP_AUTHORIZATION"):
                return None  # Flask knows which reads an admin token changes
            token = state.fresh_token()
            if token is None:
                return None
            query = _wsgi_text(environ.get("QUERY_STRING", ""))
            etag = api_etag(token, f"{path}?{query}")
        elif path.startswith("/helm/") and path.count("/") >= 3:
            catalog = path.split("/")[2]
            found = state.fresh_catalog(catalog)
            if found is None:
                return None
            etag = helm_etag(catalog, found, path)
        else:
            return None
        found_304 = _not_modified(etag, parse_etags(environ.get("HTTP_IF_NONE_MATCH")))
        if found_304 is not None:
            _count("revalidated")
            return found_304
        answer = self.app.extensions["response_cache"].get(etag)
        if answer is None:
            return None
        _count("hit")
        accepts = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING"))
        return _send(answer, etag, accepts_gzip(accepts), environ)


def _wsgi_text(value: str) -> str:
    # WSGI hands bytes over as latin-1 text; Flask reads them as UTF-8, and so must we.
    return value.encode("latin-1").decode("utf-8", "replace")
