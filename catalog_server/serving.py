"""A gunicorn worker that slow clients cannot starve.

gunicorn's threaded worker hands a connection to a thread as soon as the client sends its
first byte; the thread then blocks until the whole request has arrived. A client that
sends one header every few seconds holds a thread for as long as it likes, and a handful
of them hold every thread (the review took a `make run` server down with 4 sockets).

:class:`BufferedThreadWorker` reads each request in gunicorn's event loop instead, without
blocking, and gives it to a thread only once it is complete: headers and body. Until
then a connection costs a buffer, not a thread, and it must keep to two deadlines:

- its headers within ``CATALOG_HEADER_TIMEOUT`` seconds (10) of its first byte, or of the
  connection (a kept-alive connection that sends nothing is closed after gunicorn's
  ``keepalive`` seconds, as before);
- its body within ``CATALOG_BODY_TIMEOUT`` seconds (30) of its headers.

Past either, the connection is answered ``408 Request Timeout`` and closed. Writing an
answer to a client that does not read it is bounded the same way (the body timeout, on
the socket). A body larger than ``MAX_BUFFERED_BODY`` is not buffered: the request goes
to a thread at once, where the application refuses it (413) without reading it.

The rest is gunicorn's ``gthread`` worker as it is (gunicorn 27: the worker builds on its
``TConn``, ``enqueue_req`` and the parser's ``take_buffered``, hence the pinned range). In
production a buffering reverse proxy (nginx, a cloud load balancer) in front is still the
first line: see the deployment docs.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD = 64 * 1024  # bytes of request line and headers (gunicorn refuses larger ones)
MAX_BUFFERED_BODY = 2 * 1024 * 1024  # the application accepts 1 MiB
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue", re.I | re.M)
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 35\r\n\r\nthe request did not arrive in time\n"
)


def request_state(data: bytes) -> tuple[bool, int | None]:
    """(complete, where the body starts) for the bytes of one request received so far.

    Complete means: headers and their whole body are here, or the request is one a
    thread should see at once (headers too large, a body too large to buffer, bytes that
    are not HTTP), so that gunicorn or the application answers it.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEAD, None
    body = end + 4
    head = data[:end]
    if _CHUNKED.search(head):
        return _chunks_complete(data, body), body
    match = _CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    if length > MAX_BUFFERED_BODY:
        return True, body
    return len(data) - body >= length, body


def _chunks_complete(data: bytes, start: int) -> bool:
    """True when a chunked body starting at ``start`` has arrived, up to its last chunk
    and trailers, or has grown past MAX_BUFFERED_BODY (a thread then refuses it)."""
    pos = start
    while pos - start <= MAX_BUFFERED_BODY:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return False
        try:
            size = int(data[pos:line_end].split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            return True  # malformed: gunicorn answers 400
        if size == 0:  # the last chunk, then trailers up to an empty line
            return data.find(b"\r\n\r\n", line_end) >= 0
        pos = line_end + 2 + size + 2
        if pos > len(data):
            return pos - start > MAX_BUFFERED_BODY
    return True


class BufferedThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, with each request read whole before a thread takes it."""

    header_timeout = 10.0
    body_timeout = 30.0

    def init_process(self):
        from catalog_server.config import Settings

        settings = Settings.from_env()
        self.header_timeout, self.body_timeout = settings.header_timeout, settings.body_timeout
        self.reading: dict[int, TConn] = {}  # fd -> connection still sending its request
        super().init_process()

    # Every way into a thread goes through enqueue_req: a new connection, a kept-alive one
    # that became readable, one whose wait for data was deferred, and bytes read ahead.
    def enqueue_req(self, conn):
        if self.cfg.is_ssl or getattr(conn, "complete", False):
            conn.complete = False
            super().enqueue_req(conn)
            return
        self._start_reading(conn)

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self._start_reading(conn)

    def _start_reading(self, conn) -> None:
        conn.sock.setblocking(False)
        held = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.request_bytes = bytearray(held)
        conn.body_start = None
        conn.continued = False
        now = time.monotonic()
        conn.deadline = now + (self.header_timeout if held else max(self.cfg.keepalive, 1))
        self.reading[conn.sock.fileno()] = conn
        if held and self._check(conn):
            return
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, sock) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn, answer=False)
            return
        if not conn.request_bytes:
            conn.deadline = time.monotonic() + self.header_timeout
        conn.request_bytes += data
        if self._check(conn):
            self.poller.unregister(sock)

    def _check(self, conn) -> bool:
        """Hand the request to a thread when it is complete; True when it was."""
        complete, body_start = request_state(bytes(conn.request_bytes))
        if body_start is not None and conn.body_start is None:
            conn.body_start = body_start
            conn.deadline = time.monotonic() + self.body_timeout
            head = bytes(conn.request_bytes[:body_start])
            if not complete and _EXPECT_CONTINUE.search(head) and not conn.continued:
                conn.continued = True
                with contextlib.suppress(OSError):
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not complete:
            return False
        del self.reading[conn.sock.fileno()]
        conn.complete = True
        conn.data_ready = True
        super().enqueue_req(conn)
        return True

    def handle(self, conn):
        """In a thread: give the parser the buffered request, then serve it as usual."""
        data = getattr(conn, "request_bytes", None)
        if data is not None:
            conn.request_bytes = None
            conn.complete = False
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(data))
        return super().handle(conn)

    def handle_request(self, req, conn):
        # The answer goes to a client that must read it: at most body_timeout per send.
        conn.sock.settimeout(self.body_timeout)
        return super().handle_request(req, conn)

    def _drop(self, conn, answer: bool) -> None:
        self.reading.pop(conn.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(_TIMEOUT_ANSWER)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading.values() if c.deadline <= now]:
            self._drop(conn, answer=bool(conn.request_bytes))
