"""Slow clients against a real `catalog-server run`: the review's attack (4 sockets sending
one header every 8 seconds, against `make run`'s two workers) must leave every normal
request answered, and a request that does not arrive in time is answered 408."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing

import pytest


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
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
    yield port
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
