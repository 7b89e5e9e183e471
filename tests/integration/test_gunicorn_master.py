"""The gunicorn master survives its workers dying, however close together they die.

gunicorn reaps workers inside its SIGCHLD handler and calls `child_exit` from there; a
hook that raises (or is re-entered half-way through a lazy import) ends the arbiter's
main loop, and then no one starts workers again. These tests run the project's real
`gunicorn.conf.py`: its hooks are guarded and import nothing lazily, fresh masters
survive both workers being SIGKILLed 0-100 ms apart, and under load every 202 given
before the kills is stored and published.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from tests.conftest import JWT_SECRET, make_token, sample_flow
from tests.support.gunicorn import ROOT, GunicornServer, wait_for
from tests.support.kafka import consume_all

pytestmark = pytest.mark.usefixtures("emptied_after")

CONF = ROOT / "gunicorn.conf.py"
KILL_GAPS_MS = (0, 1, 3, 5, 10, 20, 35, 50, 75, 100)


def probe_conf(tmp_path, body: str) -> dict:
    """Load gunicorn.conf.py in a fresh interpreter (it sets process-wide metrics and
    environment defaults), run `body` against its settings `conf`, return `result`."""
    script = (
        "import json, logging, runpy, sys\n"
        f"conf = runpy.run_path({str(CONF)!r})\n"
        "result = {}\n" + textwrap.dedent(body) + "\nprint(json.dumps(result))\n"
    )
    env = {**os.environ, "INGRESS_ENV": "production",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_defined_hook_is_guarded(tmp_path):
    result = probe_conf(tmp_path, """
        from gunicorn.config import KNOWN_SETTINGS
        hooks = {s.name for s in KNOWN_SETTINGS if s.section == "Server Hooks"}
        result["defined"] = sorted(h for h in hooks if h in conf)
        result["unguarded"] = sorted(h for h in hooks if h in conf
                                     and not hasattr(conf[h], "__wrapped__"))
    """)
    assert {"on_starting", "child_exit", "on_exit", "post_worker_init", "worker_exit"} <= set(
        result["defined"]
    )
    assert result["unguarded"] == []


def test_no_hook_imports_lazily():
    """An import inside a hook can be re-entered by the SIGCHLD handler mid-way."""
    tree = ast.parse(CONF.read_text())
    lazy = [
        (node.name, inner.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    assert lazy == []


def test_a_failing_hook_is_one_log_line_not_an_exception(tmp_path):
    result = probe_conf(tmp_path, """
        import os
        lines = []
        class Collect(logging.Handler):
            def emit(self, record):
                lines.append(record.getMessage())
        logging.getLogger("gunicorn.error").addHandler(Collect())
        class Exploding:  # every attribute read fails: the hook body raises
            def __getattr__(self, name):
                raise RuntimeError(f"no {name} here")
        conf["child_exit"](object(), Exploding())
        conf["post_worker_init"](Exploding())
        conf["worker_exit"](object(), Exploding())
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        conf["on_starting"](object())
        conf["on_exit"](object())
        result["lines"] = lines
    """)
    lines = result["lines"]
    assert [line.split(" failed:")[0] for line in lines] == [
        "gunicorn hook child_exit", "gunicorn hook post_worker_init",
        "gunicorn hook worker_exit", "gunicorn hook on_starting", "gunicorn hook on_exit",
    ]
    assert all("\n" not in line for line in lines)
    assert "RuntimeError: no pid here" in lines[0]


def server_env(postgres_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": JWT_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "API_WORKERS": "2",
        "API_THREADS": "4",
        **extra,
    }


def kill_workers(server: GunicornServer, gap_ms: float) -> list[int]:
    victims = server.worker_pids()
    assert len(victims) == 2
    os.kill(victims[0], signal.SIGKILL)
    time.sleep(gap_ms / 1000)
    os.kill(victims[1], signal.SIGKILL)
    return victims


def assert_recovered(server: GunicornServer, victims: list[int], within: float = 5.0) -> None:
    def replaced() -> bool:
        pids = server.worker_pids()
        return len(pids) == 2 and not set(pids) & set(victims) and server.live(timeout=1)

    assert wait_for(replaced, within, interval=0.05), server.log_text()[-3000:]
    assert server.alive(), server.log_text()[-3000:]
    assert "Unhandled exception in main loop" not in server.log_text()


@pytest.mark.slow
def test_fresh_masters_survive_both_workers_killed_close_together(
    postgres_url, redis_url, tmp_path
):
    for gap_ms in KILL_GAPS_MS:
        with GunicornServer(server_env(postgres_url, redis_url), tmp_path) as server:
            server.wait_healthy(workers=2)
            victims = kill_workers(server, gap_ms)
            assert_recovered(server, victims)
            # and a second time, now that the master has reaped once
            assert_recovered(server, kill_workers(server, gap_ms))


@pytest.mark.kafka
@pytest.mark.slow
def test_workers_killed_under_load_lose_no_accepted_run(
    postgres_url, redis_url, kafka_broker, kafka_topics, pg, tmp_path
):
    """Clients retry a dropped request with its Idempotency-Key, as a good client does."""
    env = server_env(
        postgres_url, redis_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC_FLOW_RUNS=kafka_topics[0],
        OUTBOX_DELIVERY_TIMEOUT_SECONDS="5",
    )
    tenant = f"kills-{uuid.uuid4().hex[:8]}"
    token = make_token(tenant, "alice", expires_in=3600)
    accepted: dict[str, str] = {}  # idempotency key -> run_id
    other: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int, port: int) -> None:
        conn = None
        i = 0
        while not stop.is_set():
            key = f"kill-{n}-{i}"
            body = json.dumps({"flow_definition": sample_flow(), "input": {"n": n, "i": i}})
            for _attempt in range(200):  # the same key until it is answered
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("POST", "/v1/runs", body=body, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Idempotency-Key": key,
                    })
                    response = conn.getresponse()
                    payload = response.read()
                    with lock:
                        if response.status == 202:
                            accepted[key] = json.loads(payload)["run_id"]
                        else:
                            other.append((response.status, payload))
                    break
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
            i += 1
        if conn is not None:
            conn.close()

    with GunicornServer(env, tmp_path) as server:
        server.wait_healthy(workers=2)
        threads = [
            threading.Thread(target=client, args=(n, server.port), daemon=True) for n in range(8)
        ]
        for thread in threads:
            thread.start()
        assert wait_for(lambda: len(accepted) >= 150, 60)
        victims = kill_workers(server, gap_ms=5)
        before = len(accepted)
        assert_recovered(server, victims)
        assert wait_for(lambda: len(accepted) >= before + 150, 60), server.log_text()[-3000:]
        stop.set()
        for thread in threads:
            thread.join(60)

        assert other == []  # every request was answered 202 in the end
        rows = pg.execute(
            "SELECT r.request_id, r.run_id FROM flow_runs_audit r WHERE r.tenant_id = %s",
            (tenant,),
        ).fetchall()
        assert {r["request_id"]: r["run_id"] for r in rows} == accepted  # none lost, none extra

        def drained() -> bool:
            return pg.execute(
                "SELECT count(*) AS n FROM outbox_messages m JOIN flow_runs_audit r "
                "ON m.key = r.run_id WHERE r.tenant_id = %s AND m.published_at IS NULL",
                (tenant,),
            ).fetchone()["n"] == 0

        assert wait_for(drained, 60, interval=0.5), server.log_text()[-3000:]

    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], timeout=60, idle=3.0)
    published = {json.loads(m.value())["run_id"] for m in messages}
    assert set(accepted.values()) <= published
