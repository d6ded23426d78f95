"""Clients against a real `catalog-server run`: the review's attack (4 sockets sending one
header every 8 seconds, against `make run`'s two workers) must leave every normal request
answered, a request that does not arrive in time is answered 408, and kept-alive
connections are spread over the workers."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass

import pytest


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    port: int
    pid: int  # gunicorn's arbiter: its children are the workers


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    """`catalog-server run` with `make run`'s two workers, on a free port."""
    tmp_path = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = {
        **os.environ,
        "CATALOG_INSTANCE_DIR": str(tmp_path / "instance"),
        "CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
        "CATALOG_HEADER_TIMEOUT": "12",
        "CATALOG_BODY_TIMEOUT": "4",
    }
    cli = [sys.executable, "-m", "catalog_server.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*cli, "run", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/api/v1/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("catalog-server run did not start")
    yield Served(port, process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def server(served) -> int:
    return served.port


def slow_client(port: int, stop: threading.Event, answers: list[bytes]) -> None:
    """Send a request line, then one header every 8 seconds, never the blank line."""
    with closing(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(b"GET /api/v1/healthz HTTP/1.1\r\nHost: localhost\r\n")
        sock.settimeout(0.5)
        sent = 0
        while not stop.is_set():
            try:
                data = sock.recv(1024)
                answers.append(data)
                return
            except TimeoutError:
                pass
            sent += 1
            if sent % 16 == 0:  # every 8 s
                sock.sendall(b"X-Slow: %d\r\n" % sent)


def test_four_slow_clients_do_not_starve_normal_requests(server):
    """Normal requests are answered while the slow clients send; then each slow client is
    answered 408, since its headers are not in within the deadline (12 s here) of its first
    byte, though it sent a header every 8 s."""
    stop = threading.Event()
    answers: list[bytes] = []
    attackers = [
        threading.Thread(target=slow_client, args=(server, stop, answers), daemon=True)
        for _ in range(4)
    ]
    for attacker in attackers:
        attacker.start()
    time.sleep(1)  # every attacker is connected and sending
    served = []
    try:
        for _ in range(9):
            with urllib.request.urlopen(
                f"http://127.0.0.1:{server}/api/v1/healthz", timeout=10
            ) as response:
                served.append(response.status)
            time.sleep(1)
        assert answers == []  # still sending: neither served nor cut off yet
        for attacker in attackers:
            attacker.join(timeout=30)
    finally:
        stop.set()
    assert served == [200] * 9
    assert len(answers) == 4 and all(a.startswith(b"HTTP/1.1 408") for a in answers), answers


def test_a_body_that_takes_too_long_is_answered_408(server):
    with closing(socket.create_connection(("127.0.0.1", server))) as sock:
        sock.sendall(
            b"POST /api/v1/templates/x/y/versions/1/manifest HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.settimeout(30)
        assert sock.recv(1024).startswith(b"HTTP/1.1 408")


def test_a_request_sent_in_pieces_in_time_is_served(server):
    with closing(socket.create_connection(("127.0.0.1", server))) as sock:
        body = b'{"answers": {}}'
        request = (
            b"POST /api/v1/templates/x/y/versions/1/manifest HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        ) % (len(body), body)
        for i in range(0, len(request), 7):
            sock.sendall(request[i : i + 7])
            time.sleep(0.01)
        sock.settimeout(30)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]  # no such template: the app answered


def _workers(arbiter: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == arbiter:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _holder(workers: list[int], server_port: int, client_port: int) -> int | None:
    """The worker whose socket is the server's end of the connection from client_port."""
    inodes = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.read().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(f"socket:[{fields[9]}]")
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def test_kept_alive_connections_are_spread_over_the_workers(served):
    """Two clients that keep their connections open get one worker each. Without the
    spreading, the first worker to wake takes both half the time, and serves both with one
    interpreter while the other worker idles."""
    workers = _workers(served.pid)
    assert len(workers) == 2
    split = 0
    for _ in range(20):
        conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=10) for _ in "ab"]
        try:
            holders = []
            for (
                conn
            ) in conns:  # one after the other: the first is open and kept when the second comes
                conn.request("GET", "/api/v1/healthz")
                response = conn.getresponse()
                response.read()
                assert response.status == 200 and not response.will_close
                holders.append(_holder(workers, served.port, conn.sock.getsockname()[1]))
        finally:
            for conn in conns:
                conn.close()
        assert None not in holders and set(holders) <= set(workers)
        split += holders[0] != holders[1]
        time.sleep(0.05)  # the workers see both connections closed
    # Without the spreading, a split is a coin toss: 16 or more of 20 has a chance of 0.6%.
    assert split >= 16, f"only {split} of 20 connection pairs were split over the two workers"
