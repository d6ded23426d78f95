"""Large kept answers (a Helm index) go out as one shared in-memory file, sent by the
server with sendfile(2): the same bytes as the plain answer, to any number of clients."""

from __future__ import annotations

import gc
import gzip
import hashlib
import os
import random
import threading

from flask import Flask, Response
from gunicorn.http.wsgi import FileWrapper

from catalog_server.responsecache import (
    GZIP_MIN_BYTES,
    SHARED_FILE_BYTES,
    AnswerWriter,
    BodyReader,
    ResponseCache,
    SharedBody,
    _send,
)


def _body(environ) -> bytes:
    response = _send(ANSWER, "etag", True, environ)
    parts = response(environ, lambda status, headers: None)
    try:
        return b"".join(parts)
    finally:
        getattr(parts, "close", lambda: None)()


DATA = b"entries:\n" + b"".join(
    b"  chart-%06d: %s\n" % (i, hashlib.sha256(b"%d" % i).hexdigest().encode())
    for i in range(20_000)
)
app = Flask(__name__)
with app.test_request_context():
    ANSWER = ResponseCache().put("etag", Response(DATA, content_type="application/yaml"))


def test_a_large_answer_is_kept_as_files_too():
    assert len(DATA) > SHARED_FILE_BYTES
    assert ANSWER.body_file is not None and ANSWER.gzipped_file is not None
    assert ANSWER.body_file.size == len(DATA)


def test_the_file_wrapper_sends_the_same_bytes_as_plain_bytes():
    with app.test_request_context():
        plain = _body({"REQUEST_METHOD": "GET"})
        wrapped = _body({"REQUEST_METHOD": "GET", "wsgi.file_wrapper": FileWrapper})
    assert gzip.decompress(plain) == DATA
    assert wrapped == plain


def test_many_readers_at_once_read_whole_answers():
    shared = SharedBody(DATA)
    results = []

    def read():
        reader = BodyReader(shared)
        chunks = []
        while chunk := reader.read(4096):
            chunks.append(chunk)
        reader.close()
        results.append(b"".join(chunks))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [DATA] * 8
    # Nothing moved the file's own position: a server's sendfile starts at 0.
    assert os.lseek(shared.fd, 0, os.SEEK_CUR) == 0


def test_the_file_is_closed_when_nothing_holds_it():
    shared = SharedBody(b"x" * 10)
    fd = shared.fd
    del shared
    gc.collect()
    try:
        os.fstat(fd)
    except OSError:
        return
    raise AssertionError("the memory file is still open")


def test_an_answer_too_large_for_the_heap_budget_is_kept_as_a_file():
    cache = ResponseCache(max_bytes=64 * 1024, max_file_bytes=16 * 1024 * 1024)
    with app.test_request_context():
        kept = cache.put("big", Response(DATA, content_type="application/yaml"))
        assert cache.get("big") is kept
        assert kept.body == b"" and kept.body_file is not None  # out of the heap
        assert BodyReader(kept.body_file).read() == DATA
        # Over half the file budget: served, not kept.
        small = ResponseCache(max_bytes=64 * 1024, max_file_bytes=len(DATA))
        small.put("big", Response(DATA, content_type="application/yaml"))
        assert small.get("big") is None


def _bytes(kept: bytes | None, shared: SharedBody | None) -> bytes | None:
    return BodyReader(shared).read() if shared is not None else kept


def test_an_answer_written_in_pieces_is_the_answer_written_whole():
    rng = random.Random(3)
    writer = AnswerWriter("application/x-yaml; charset=utf-8")
    at = 0
    while at < len(DATA):
        size = rng.choice([1, 17, 900, 70_000, 300_000])
        writer.write(DATA[at : at + size])
        at += size
    answer = writer.finish()
    assert answer.body == b"" and answer.body_file is not None
    assert _bytes(answer.body, answer.body_file) == DATA
    assert gzip.decompress(_bytes(answer.gzipped, answer.gzipped_file)) == DATA
    # The same bytes a view's whole answer is kept as.
    with app.test_request_context():
        whole = ResponseCache().put("e", Response(DATA, content_type=answer.content_type))
    assert _bytes(whole.body, whole.body_file) == DATA
    assert _bytes(whole.gzipped, whole.gzipped_file) == _bytes(answer.gzipped, answer.gzipped_file)


def test_small_answers_stay_bytes_and_only_text_worth_it_is_gzipped():
    def written(content_type: str, data: bytes):
        writer = AnswerWriter(content_type)
        writer.write(data[:10])
        writer.write(data[10:])
        return writer.finish()

    tiny = written("application/json", b'{"items": []}' + b" " * 100)
    assert tiny.body.startswith(b'{"items"') and tiny.gzipped is None
    assert tiny.body_file is None and tiny.gzipped_file is None
    text = written("text/html; charset=utf-8", b"<p>" * GZIP_MIN_BYTES)
    assert text.body == b"<p>" * GZIP_MIN_BYTES and text.body_file is None
    assert gzip.decompress(text.gzipped) == text.body
    image = written("image/png", bytes(range(256)) * 20)
    assert image.body == bytes(range(256)) * 20 and image.gzipped is None
