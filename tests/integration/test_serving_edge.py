"""What a client meets before the app: gunicorn's own errors, and the nginx in front.

gunicorn answers some requests itself (a malformed request line, headers too large);
those answers are JSON like the API's. The documented deployment puts
`deploy/nginx/ingress.conf` in front: slow or stalled clients cost nginx a connection,
not a gunicorn thread, so `/health/live` keeps answering under a slowloris, stalled
clients are closed, and nginx's own errors are JSON too.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI, JWT_SECRET, auth, sample_flow
from tests.support.gunicorn import ROOT, GunicornServer, wait_for
from tests.support.kafka import free_port

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("emptied_after")]

NGINX_CONF = ROOT / "deploy" / "nginx" / "ingress.conf"


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the whole answer (the server closes): status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return len(body) >= int(line.split(":", 1)[1])
    return False


def assert_json_error(status: int, headers: dict, body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    payload = json.loads(body)
    assert set(payload) == {"error", "detail"} and payload["error"], payload
    return payload


@pytest.fixture
def gunicorn(postgres_url, redis_url, tmp_path):
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": JWT_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "API_WORKERS": "1",
        "API_THREADS": "4",
    }
    with GunicornServer(env, tmp_path) as server:
        server.wait_healthy(workers=1)
        yield server


# --------------------------------------------------------------- gunicorn's own errors


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),  # malformed request line
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # request line too long
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", 431),  # too many headers
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400),
    ],
    ids=["bad-request-line", "long-request-line", "long-header", "many-headers", "bad-header-name"],
)
def test_errors_gunicorn_answers_itself_are_json(gunicorn, request_bytes, status):
    assert_json_error(*raw_request(gunicorn.port, request_bytes), expected=status)
    assert gunicorn.live()


# --------------------------------------------------------------- nginx in front


class Nginx:
    """nginx with the repository's server block, pointed at a test gunicorn."""

    def __init__(self, upstream_port: int, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        server_block = NGINX_CONF.read_text()
        assert "server ingress:8000;" in server_block and "listen 8080;" in server_block
        server_block = server_block.replace(
            "server ingress:8000;", f"server 127.0.0.1:{upstream_port};"
        ).replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        (self.dir / "ingress.conf").write_text(server_block)
        temp = self.dir / "tmp"
        (self.dir / "nginx.conf").write_text(f"""
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.dir}/ingress.conf;
}}
""")
        temp.mkdir()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        assert wait_for(up, 10), (self.dir / "error.log").read_text()
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def nginx(gunicorn, tmp_path):
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        message = "nginx is not installed (apt-get install nginx-light)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: a missing service is a failure", pytrace=False)
        pytest.skip(message)
    with Nginx(gunicorn.port, tmp_path) as proxy:
        yield proxy


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_runs_pass_through_the_proxy(nginx):
    body = json.dumps({"flow_definition": sample_flow(), "input": {"via": "nginx"}})
    status, _, payload = request(
        nginx.port, "POST", "/v1/runs", body, {**auth(), "Content-Type": "application/json"}
    )
    assert status == 202, payload
    run_id = json.loads(payload)["run_id"]
    status, _, payload = request(nginx.port, "GET", f"/v1/runs/{run_id}", headers=auth())
    assert status == 200 and json.loads(payload)["input"] == {"via": "nginx"}
    # the app's own errors pass through unchanged
    status, headers, payload = request(nginx.port, "GET", f"/v1/runs/{run_id}")
    assert_json_error(status, headers, payload, 401)


def test_a_slowloris_does_not_starve_the_service(nginx, gunicorn):
    """Twice as many trickling clients as gunicorn has threads: liveness still answers
    at once, and nginx closes the stalled clients after its header timeout."""
    stalled = []
    for _ in range(2 * 4):
        sock = socket.create_connection(("127.0.0.1", nginx.port), timeout=30)
        sock.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\n")
        stalled.append(sock)
    started = time.monotonic()
    try:
        while time.monotonic() - started < 4:
            for sock in stalled:
                sock.sendall(b"X-Trickle: 1\r\n")
            began = time.monotonic()
            status, _, _ = request(nginx.port, "GET", "/health/live", timeout=2)
            assert status == 200
            assert time.monotonic() - began < 1.0
            time.sleep(0.5)
        # client_header_timeout (10 s) counts from the first byte, not per line
        for sock in stalled:
            sock.settimeout(15)
            answer = b""
            try:
                while chunk := sock.recv(4096):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
            assert time.monotonic() - started < 15
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
         b"Content-Type: application/json\r\n\r\n", 413),
    ],
    ids=["bad-request-line", "long-header", "body-too-large"],
)
def test_errors_nginx_answers_itself_are_json(nginx, request_bytes, status):
    assert_json_error(*raw_request(nginx.port, request_bytes), expected=status)


def test_upstream_down_is_a_json_503_with_retry_after(nginx, gunicorn):
    gunicorn.stop()
    status, headers, payload = request(nginx.port, "GET", "/health/live")
    assert_json_error(status, headers, payload, 503)
    assert headers["retry-after"] == "5"
