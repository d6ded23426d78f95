"""The Helm SDK in a child process, under limits it cannot escape.

The SDK is Go code loaded through ctypes: once a call is inside it, nothing on the Python
side can interrupt it or bound what it allocates, and a chart's templates decide how much
it computes (``range until 2000000000``). So the service never loads the SDK itself. A
worker process (``python -m catalog_server.helmworker``) loads it, then lowers its own
address-space limit (RLIMIT_AS) to what the SDK reserved at start plus a memory budget,
and serves calls one at a time over its stdin and stdout: a 4-byte length, then JSON, both
ways (JSON, not pickle: the worker handles hostile charts, and its answers are data).

The parent's side is :class:`WorkerPool`: it keeps up to ``size`` workers per process and
reuses them, so many renders in a row cost one process start (about 0.3 s) between them,
not one each. A call that outlives the timeout has its worker killed; a worker that dies
(Go's "out of memory" when it reaches the limit, anything else) is replaced by a new one
on the next call; an answer larger than the output limit is refused. Each of these is a
:class:`LimitExceeded` (or :class:`WorkerError`) naming the limit, never a hung or
swollen server. A worker exits when its parent goes away (its stdin closes, or a watchdog
sees it re-parented); after ``MAX_CALLS`` calls it is replaced, to start clean, and after
``IDLE_SECONDS`` unused it is stopped.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import resource
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_CALLS = 500  # calls a worker serves before it is replaced
IDLE_SECONDS = 300  # an idle worker is stopped after this long (about 120 MB resident)
MAX_REQUEST = 64 * 1024 * 1024  # bytes of one request (a chart archive, base64)
_HEADER = struct.Struct(">I")


class WorkerError(Exception):
    """The worker could not do the call: it could not start, or it died."""


class LimitExceeded(WorkerError):
    """The call went over a limit (time, memory, output); the message names it."""


class CallFailed(Exception):
    """The SDK reported an error (``kind``: "helm", or "missing" when it cannot load)."""

    def __init__(self, message: str, kind: str = "helm"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    """What one Helm call may take: seconds, MiB of memory beyond what the SDK reserves at
    start (Go reserves about 1.5 GiB of address space it does not use), bytes of output."""

    timeout: float = 20.0
    memory_mb: int = 512
    output_bytes: int = 16 * 1024 * 1024


# --- the parent's side -------------------------------------------------------------------


def _send(fd: int, message: dict[str, Any] | bytes) -> None:
    data = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, limit: int, deadline: float | None) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > limit:
        raise OverflowError(size)
    return json.loads(_read_exactly(fd, size, deadline))


class _Worker:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.calls = 0
        self.idle_since = time.monotonic()
        # The worker's stderr, where Go writes its last words; kept as long as the worker.
        self.log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "catalog_server.helmworker",
                str(limits.memory_mb),
                str(limits.output_bytes),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            close_fds=True,
        )
        try:
            ready = _receive(self.process.stdout.fileno(), 1 << 20, time.monotonic() + 60)
        except (EOFError, TimeoutError, OverflowError, ValueError):
            self.process.kill()
            self.process.wait()
            words = self.last_words()
            self.kill()
            raise WorkerError(f"the Helm worker did not start: {words}") from None
        if "error" in ready:
            self.kill()
            raise CallFailed(ready["error"], ready.get("kind", "missing"))

    def last_words(self) -> str:
        """What the worker said before it stopped: Go's "fatal error" lines come first,
        then a goroutine dump that is left out."""
        self.log.seek(0)
        head = self.log.read(16384).decode("utf-8", "replace")
        said = [
            line
            for line in head.splitlines()
            if line.startswith(("fatal error", "runtime:", "panic:", "Traceback", "Error"))
        ]
        return "; ".join(said)[:1000] or head.strip()[:1000]

    def call(self, op: str, args: dict[str, Any]) -> Any:
        self.calls += 1
        self.log.truncate(0)
        limits = self.limits
        try:
            _send(self.process.stdin.fileno(), {"op": op, "args": args})
            answer = _receive(
                self.process.stdout.fileno(),
                2 * limits.output_bytes + (1 << 20),  # JSON escapes; errors are short
                time.monotonic() + limits.timeout,
            )
        except TimeoutError:
            self.kill()
            raise LimitExceeded(
                f"Helm took longer than {limits.timeout:g} s (CATALOG_HELM_TIMEOUT); stopped"
            ) from None
        except OverflowError:
            self.kill()
            raise LimitExceeded(self._output_message()) from None
        except (EOFError, BrokenPipeError, ValueError):
            self.process.wait()
            words = self.last_words()
            self.kill()
            if "out of memory" in words or "cannot allocate memory" in words:
                raise LimitExceeded(self._memory_message()) from None
            raise WorkerError(f"the Helm worker stopped: {words or 'no message'}") from None
        if "error" in answer:
            if answer.get("kind") == "output":
                raise LimitExceeded(self._output_message())
            if answer.get("kind") == "memory":
                raise LimitExceeded(self._memory_message())
            raise CallFailed(answer["error"], answer.get("kind", "helm"))
        return answer["ok"]

    def _memory_message(self) -> str:
        return (
            f"Helm ran out of memory (limit {self.limits.memory_mb} MiB, "
            "CATALOG_HELM_MEMORY_MB); stopped"
        )

    def _output_message(self) -> str:
        return (
            f"Helm's output is larger than {self.limits.output_bytes // (1024 * 1024)} MiB "
            "(CATALOG_HELM_OUTPUT_MB)"
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()
        self.log.close()

    def close(self) -> None:
        """Ask the worker to stop (its stdin closes) and wait a little for it."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class WorkerPool:
    """Up to ``size`` reusable workers for one process; threads share them."""

    def __init__(self, limits: Limits, size: int = 2):
        self.limits, self.size = limits, size
        self.pid = os.getpid()
        self._idle: list[_Worker] = []
        self._count = 0
        self.started = 0  # workers started over the pool's life
        self._cond = threading.Condition()
        self._reaper: threading.Thread | None = None
        atexit.register(self.close)

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._count -= 1
                    worker.kill()
                if self._count < self.size:
                    self._count += 1
                    self.started += 1
                    break
                self._cond.wait()
        try:
            return _Worker(self.limits)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, keep: bool) -> None:
        with self._cond:
            if keep and worker.alive and worker.calls < MAX_CALLS:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                if self._reaper is None:
                    self._reaper = threading.Thread(target=self._reap, daemon=True)
                    self._reaper.start()
            else:
                self._count -= 1
                threading.Thread(target=worker.close, daemon=True).start()
            self._cond.notify()

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """Run ``op`` in a worker. Raises CallFailed (the SDK's error), LimitExceeded,
        WorkerError."""
        worker = self._acquire()
        keep = False
        try:
            result = worker.call(op, args)
            keep = True
            return result
        except CallFailed:
            keep = True
            raise
        finally:
            self._release(worker, keep)

    def _reap(self) -> None:
        """Stop workers left idle for IDLE_SECONDS (runs in a daemon thread)."""
        while True:
            time.sleep(min(30, IDLE_SECONDS))
            cutoff = time.monotonic() - IDLE_SECONDS
            with self._cond:
                stale = [w for w in self._idle if w.idle_since < cutoff]
                self._idle = [w for w in self._idle if w not in stale]
                self._count -= len(stale)
                self._cond.notify_all()
            for worker in stale:
                worker.close()

    def close(self) -> None:
        if os.getpid() != self.pid:
            return  # a forked child: these workers belong to the parent
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- the worker's side -------------------------------------------------------------------


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone, even in the middle of a Go call."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(3)


def _handlers(sdk: Any) -> dict[str, Callable[..., Any]]:
    """The calls a worker serves, each a thin wrapper of the SDK with JSON in and out."""

    def render(chart: str, values: dict, release: str, namespace: str, archive: bool) -> Any:
        if archive:
            loaded = sdk.Chart.load_archive(base64.b64decode(chart))
        else:
            loaded = sdk.Chart.load(chart)
        with loaded:
            return loaded.render(values, name=release, namespace=namespace, is_install=True)

    def pull(name: str, repo_url: str, version: str | None, destination: str) -> None:
        sdk.pull(name, repo_url=repo_url, version=version, destination=destination)

    def pull_oci(reference: str, version: str | None, destination: str, plain_http: bool) -> None:
        sdk.pull(reference, version=version, destination=destination, plain_http=plain_http)

    def sign(archive: str, key: str, keyring: str, passphrase_file: str | None) -> str:
        path = sdk.sign(archive, key=key, keyring=keyring, passphrase_file=passphrase_file)
        return os.fspath(path)

    def verify(archive: str, keyring: str, provenance: str | None) -> Any:
        return sdk.verify(archive, keyring, provenance_file=provenance)

    return {
        "ping": lambda: True,
        "render": render,
        "lint": lambda path: sdk.lint(path),
        "repo_index_generate": lambda directory, url: sdk.repo_index_generate(
            directory, base_url=url
        ),
        "repo_index": lambda url: sdk.repo_index(url),
        "pull": pull,
        "pull_oci": pull_oci,
        "push": lambda archive, remote, plain_http: sdk.push(
            archive, remote, plain_http=plain_http
        ),
        "sign": sign,
        "verify": verify,
    }


def _serve(handlers: dict[str, Callable[..., Any]], output_bytes: int, helm_error: type) -> None:
    fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    while True:
        try:
            request = _receive(fd_in, MAX_REQUEST, None)
        except EOFError:
            return
        try:
            result = handlers[request["op"]](**request["args"])
            data = json.dumps({"ok": result}).encode("utf-8")
            if len(data) > output_bytes + 4096:
                data = json.dumps({"error": "the output is over the limit", "kind": "output"})
        except MemoryError:  # Python's side reached the limit: say so, then stop
            _send(fd_out, {"error": "out of memory", "kind": "memory"})
            return
        except helm_error as exc:
            data = json.dumps({"error": str(exc), "kind": "helm"})
        except Exception as exc:  # a bad request: say so, the parent raises it
            data = json.dumps({"error": f"{type(exc).__name__}: {exc}", "kind": "helm"})
        _send(fd_out, data if isinstance(data, bytes) else data.encode("utf-8"))


def main(argv: list[str]) -> None:
    """The worker: load the SDK, limit itself, then serve calls until stdin closes."""
    memory_mb, output_bytes = int(argv[0]), int(argv[1])
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        import helm_python as sdk
    except Exception as exc:  # absent, or its native library does not load
        _send(sys.stdout.fileno(), {"error": f"{type(exc).__name__}: {exc}", "kind": "missing"})
        return
    handlers = _handlers(sdk)
    # From here on the whole process, Go's heap included, lives within the budget.
    limit = _vm_size() + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)  # a limit set around the service holds too
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # hard too: it cannot be raised
    _send(sys.stdout.fileno(), {"ready": True})
    _serve(handlers, output_bytes, sdk.HelmError)


if __name__ == "__main__":
    main(sys.argv[1:])
