"""What makes hot reads cheap: the served state as one token, and answers kept by ETag.

Every read answer depends only on the indexed state of the catalogs (each catalog's
revision and generation) and the URL. `ServedState` reads that state from the database at
most every `CATALOG_STATE_TTL` seconds (default 1), so a reader sees a sync's result within
that time; `ResponseCache` keeps finished answers (and their gzip form) by ETag, so a repeated
request costs a dictionary lookup. Both live per app, in process: nothing to share, nothing
to invalidate, since a new state makes new ETags.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request

from catalog_server.db import db
from catalog_server.queries import catalog_state

GZIP_MIN_BYTES = 1400  # smaller answers fit in a packet anyway
COMPRESSIBLE = ("application/json", "application/yaml", "application/x-yaml", "text/")
# Headers that belong to one transfer, not to the answer: never kept with it.
TRANSFER_HEADERS = {"content-length", "content-type", "content-encoding", "etag", "vary", "date"}


class ServedState:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._catalogs: dict[str, tuple[str | None, int]] = {}
        self._token = ""

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < self.ttl:
            return
        rows = catalog_state(db.session)
        with self._lock:
            self._catalogs = {row[0]: (row[1], row[2]) for row in rows}
            self._token = hashlib.sha256(repr(rows).encode()).hexdigest()[:24]
            self._read_at = now

    def token(self) -> str:
        """One string that changes whenever any catalog's served content does."""
        self._refresh()
        return self._token

    def catalog(self, name: str) -> tuple[str | None, int] | None:
        """(revision, generation) of one catalog, or None when there is no such catalog."""
        self._refresh()
        return self._catalogs.get(name)


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]  # e.g. the sandbox CSP of a raw file
    gzipped: bytes | None  # the gzip form, when it pays


class ResponseCache:
    """A bounded least-recently-used map of ETag -> finished answer."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, etag: str) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(etag)
            if answer is not None:
                self._entries.move_to_end(etag)
            return answer

    def put(self, etag: str, response: Response) -> CachedAnswer:
        body, content_type = response.get_data(), response.content_type or ""
        gzipped = None
        if len(body) >= GZIP_MIN_BYTES and content_type.startswith(COMPRESSIBLE):
            gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        headers = tuple(
            (k, v) for k, v in response.headers.items() if k.lower() not in TRANSFER_HEADERS
        )
        answer = CachedAnswer(body, content_type, headers, gzipped)
        size = len(body) + len(gzipped or b"")
        if size > self.max_bytes // 8:
            return answer  # too large to keep; served, not cached
        with self._lock:
            old = self._entries.pop(etag, None)
            if old is not None:
                self._bytes -= len(old.body) + len(old.gzipped or b"")
            self._entries[etag] = answer
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body) + len(dropped.gzipped or b"")
        return answer


def init_cache(app: Flask, ttl: float) -> None:
    app.extensions["served_state"] = ServedState(ttl)
    app.extensions["response_cache"] = ResponseCache()


def served_state() -> ServedState:
    return current_app.extensions["served_state"]


def response_cache() -> ResponseCache:
    return current_app.extensions["response_cache"]


def _send(answer: CachedAnswer, etag: str) -> Response:
    """The answer in the form the client takes: gzip (its own ETag) when it says it can."""
    gz = answer.gzipped is not None and "gzip" in request.accept_encodings
    response = Response(answer.gzipped if gz else answer.body, content_type=answer.content_type)
    response.headers.extend(answer.headers)
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    if answer.gzipped is not None:
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(f"{etag}-gz" if gz else etag)
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


def answer_from_cache(etag: str) -> Response | None:
    """304 when the client holds this ETag (either form), the kept answer when there is
    one, else None (the view runs and `keep` stores its answer)."""
    g.etag = etag
    if etag in request.if_none_match or f"{etag}-gz" in request.if_none_match:
        response = Response(status=304)
        response.set_etag(f"{etag}-gz" if f"{etag}-gz" in request.if_none_match else etag)
        return response
    answer = response_cache().get(etag)
    if answer is None:
        return None
    g.from_cache = True
    return _send(answer, etag)


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
    return _send(response_cache().put(etag, response), etag)
