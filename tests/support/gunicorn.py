"""The real serving path for tests: `gunicorn -c gunicorn.conf.py wsgi:app` in a process group.

    with GunicornServer(env_overrides, tmp_path) as server:
        server.wait_healthy()
        ... server.port, server.worker_pids(), server.log_text() ...

The server is always stopped (SIGTERM, then SIGKILL of its process group) on exit.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import key_prefix
from tests.support.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class GunicornServer:
    """gunicorn with the project's gunicorn.conf.py, on a free loopback port (or another
    serving `command` that reads API_HOST/API_PORT, e.g. `ingress serve --server granian`)."""

    def __init__(
        self, env: dict[str, str], workdir: Path, command: list[str] | None = None
    ) -> None:
        self.command = command or [
            sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"
        ]
        self.port = free_port()
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
            "INGRESS_INSTANCE_PATH": str(workdir / "instance"),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{self.port}"),
            "CACHE_KEY_PREFIX": key_prefix(),  # this run's keys, deleted at its end
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> GunicornServer:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def live(self, timeout: float = 2.0) -> bool:
        """True when /health/live answers 200."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", "/health/live")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
        return sorted(int(pid) for pid in out.split())

    def wait_healthy(self, timeout: float = 30, workers: int | None = None) -> None:
        """Wait for /health/live (and, if given, that many workers) or fail with the log."""
        def ready() -> bool:
            if not self.alive() or not self.live():
                return False
            return workers is None or len(self.worker_pids()) == workers

        assert wait_for(ready, timeout), self.log_text()[-3000:]

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:  # stopped already
            pass
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        finally:
            # Workers whose master died are orphans in the same process group.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self._log is not None:
                self._log.close()

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
