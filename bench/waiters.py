#!/usr/bin/env python
"""Waiters and ordinary requests side by side: 300 parked waiters while wrk drives POST.

    python bench/waiters.py [--waiters 300] [--rounds 3] [--duration 10]
                            [--connections 32] [--workers 2] [--threads 4]

A throwaway database is created and migrated, and Ingress is started exactly as
deployed (gunicorn.conf.py, API_WORKERS=2, API_THREADS=4, default WAIT_MAX_WAITERS).
Then:

each of --rounds rounds (after a warm-up):

1. baseline: wrk drives POST /v1/runs for --duration seconds;
2. --waiters new runs are created and one waiter opened per run, half long polls
   (`GET /v1/runs/{id}?wait=60`), half event streams (`GET /v1/runs/{id}/events`);
   the script waits until the server's `ingress_run_waiters` gauge counts all of them;
3. loaded: the same wrk POST run while every waiter stays parked;
4. every run is finished by applying a SUCCEEDED status event (as the status
   consumer does, from this process), and each waiter must answer with it.

Rounds interleave the two conditions so that background load on a shared machine hits
both alike. Targets: the median POST p99 with waiters <= 2x the median without, no wrk
errors, every waiter parked through the load, none answered early or with an error,
every one answered with SUCCEEDED. Results: bench/results/waiters-<stamp>/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import run_api  # noqa: E402  (the benchmark helpers: database, server, wrk)
from run_api import BenchError, Server, log  # noqa: E402


class Waiter(threading.Thread):
    """One client holding a long poll (re-polling while unchanged) or an event stream."""

    def __init__(self, port: int, token: str, run_id: str, kind: str):
        super().__init__(daemon=True)
        self.port, self.token, self.run_id, self.kind = port, token, run_id, kind
        self.parked = threading.Event()
        self.final: str | None = None
        self.answered_at: float | None = None
        self.error: str | None = None
        self.early = 0  # answers before the run finished (long poll timeouts)

    def run(self) -> None:
        try:
            self._long_poll() if self.kind == "poll" else self._stream()
        except Exception as exc:  # noqa: BLE001 - reported as an error of this waiter
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.parked.set()

    def _connect(self, path: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        self.parked.set()
        return conn.getresponse()

    def _long_poll(self) -> None:
        while True:
            response = self._connect(f"/v1/runs/{self.run_id}?wait=60")
            body = response.read()
            if response.status != 200:
                self.error = f"long poll answered {response.status}: {body[:200]!r}"
                return
            status = json.loads(body)["status"]
            if status == "SUCCEEDED":
                self.final, self.answered_at = status, time.monotonic()
                return
            self.early += 1

    def _stream(self) -> None:
        response = self._connect(f"/v1/runs/{self.run_id}/events")
        if response.status != 200:
            self.error = f"stream answered {response.status}: {response.read()[:200]!r}"
            return
        while True:
            line = response.readline()
            if not line:
                if self.final is None:
                    self.error = "the stream ended before the run finished"
                return
            if line.startswith(b"data: "):
                status = json.loads(line[6:])["status"]
                if status == "SUCCEEDED":
                    self.final, self.answered_at = status, time.monotonic()
                elif status != "PENDING":
                    self.early += 1


def waiters_gauge(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith("ingress_run_waiters "):
            return int(float(line.split()[1]))
    return 0


def finish_runs(database_url: str, redis_url: str, prefix: str, run_ids: list[str],
                tenant: str) -> dict[str, float]:
    """Apply SUCCEEDED to every run, as the status consumer would; when each was applied."""
    from ingress_app import create_app
    from ingress_app.ids import new_id
    from ingress_app.runs.events import apply_run_event

    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                      "CACHE_KEY_PREFIX": prefix, "OUTBOX_RELAY_ENABLED": False,
                      "KAFKA_BOOTSTRAP_SERVERS": "", "JWT_SECRET_KEY": "x" * 32})
    applied: dict[str, float] = {}
    with app.app_context():
        for run_id in run_ids:
            outcome = apply_run_event({
                "event_id": new_id(), "run_id": run_id, "tenant_id": tenant,
                "status": "SUCCEEDED", "occurred_at": datetime.now(UTC).isoformat(),
                "output": {"ok": True},
            })
            if outcome != "applied":
                raise BenchError(f"status event for {run_id}: {outcome}")
            applied[run_id] = time.monotonic()
    return applied


def waiting_round(args, port: int, token: str, url: str, logdir: Path, number: int,
                  database_url: str, prefix: str, tenant: str) -> dict:
    """Park `--waiters` waiters on new runs, drive POST with wrk, then finish the runs."""
    run_ids = [run_api.smoke(f"http://127.0.0.1:{port}", token,
                             {"flow_definition": {"id": "wait", "version": "1", "type": "DAG",
                                                  "tasks": [{"id": "a", "type": "llm"}]}},
                             get=False)
               for _ in range(args.waiters)]
    waiters = [Waiter(port, token, run_id, "poll" if i % 2 == 0 else "stream")
               for i, run_id in enumerate(run_ids)]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + 60
    while waiters_gauge(port) < args.waiters:
        if time.monotonic() > deadline:
            raise BenchError(f"only {waiters_gauge(port)} of {args.waiters} waiters parked;"
                             f" errors: {[w.error for w in waiters if w.error][:3]}")
        time.sleep(0.5)
    loaded = run_api.run_wrk(args, "post+waiters", url, "post_run.lua", token, args.duration,
                             logdir, f"with-waiters-{number}")
    parked_after = waiters_gauge(port)
    log(f"round {number}: POST with {parked_after} waiters parked {loaded['rps']:.0f} rps, "
        f"p99 {loaded['latency_ms']['p99']} ms")
    early = sum(w.early for w in waiters) + sum(1 for w in waiters if w.final)
    applied = finish_runs(database_url, args.redis_url, prefix, run_ids, tenant)
    last = max(applied.values())
    for waiter in waiters:
        waiter.join(timeout=max(0.0, 30 - (time.monotonic() - last)))
    answered = [w for w in waiters if w.final == "SUCCEEDED"]
    # the gauge must be back to 0 before the next baseline: no waiter left behind
    deadline = time.monotonic() + 10
    while waiters_gauge(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {
        "with_waiters": loaded, "parked_after": parked_after, "early": early,
        "answered": len(answered), "errors": [w.error for w in waiters if w.error],
        "left_parked": waiters_gauge(port),
        "delays": [(w.answered_at - applied[w.run_id]) * 1000 for w in answered],
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return run_api.percentile(ordered, q) if ordered else 0.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--waiters", type=int, default=300)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (<= 40)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds of (POST alone, POST with waiters parked); medians compared")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=5, help="wrk request timeout (s)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--admin-url", default=os.environ.get(
        "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--wrk", default="/usr/bin/wrk")
    a = p.parse_args(argv)
    if not 1 <= a.duration <= 40:
        p.error("--duration must be 1..40 (a long poll holds 60 s at most)")
    a.unique_request_id = False
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logdir = BENCH / "results" / f"waiters-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tenant = "bench"
    token = run_api.make_token(secret, tenant)
    dbname = f"ingress_bench_waiters_{stamp.lower()}"
    prefix = f"ingress-bench-waiters-{stamp}:"
    run_api.create_database(args.admin_url, dbname)
    database_url = run_api.db_url(args.admin_url, dbname)
    port = run_api.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "API_", "WAIT_"))},
        "DATABASE_URL": database_url, "REDIS_URL": args.redis_url, "JWT_SECRET_KEY": secret,
        "INGRESS_ENV": "production", "API_HOST": "127.0.0.1", "API_PORT": str(port),
        "API_WORKERS": str(args.workers), "API_THREADS": str(args.threads),
        "LOG_LEVEL": "WARNING", "CACHE_KEY_PREFIX": prefix,
    }
    env.pop("ACCESS_LOG", None)
    env.pop("POLICIES_FILE", None)
    server = Server("ingress", "wsgi:app", env, port, logdir)
    try:
        run_api.migrate(env)
        server.start()
        server.wait_ready("/health/live")
        url = f"http://127.0.0.1:{port}/v1/runs"
        log(f"Ingress on :{port}, {args.workers} workers x {args.threads} threads")
        run_api.run_wrk(args, "warm-up", url, "post_run.lua", token, 5, None, "warmup")
        rounds: list[dict] = []
        baselines: list[dict] = []
        loaded_runs: list[dict] = []
        for number in range(1, args.rounds + 1):
            baseline = run_api.run_wrk(args, "post", url, "post_run.lua", token,
                                       args.duration, logdir, f"baseline-{number}")
            log(f"round {number}: POST without waiters {baseline['rps']:.0f} rps, "
                f"p99 {baseline['latency_ms']['p99']} ms")
            outcome = waiting_round(args, port, token, url, logdir, number, database_url,
                                    prefix, tenant)
            baselines.append(baseline)
            loaded_runs.append(outcome["with_waiters"])
            rounds.append({"baseline": baseline, **outcome})
        base_p99 = median([b["latency_ms"]["p99"] for b in baselines])
        loaded_p99 = median([r["latency_ms"]["p99"] for r in loaded_runs])
        delays = [d for r in rounds for d in r.pop("delays")]
        result = {
            "stamp": stamp, "workers": args.workers, "threads": args.threads,
            "waiters": args.waiters, "connections": args.connections,
            "duration_s": args.duration, "rounds": rounds,
            "median_p99_ms": {"without": base_p99, "with": loaded_p99},
            "median_rps": {"without": median([b["rps"] for b in baselines]),
                           "with": median([r["rps"] for r in loaded_runs])},
            "p99_ratio": round(loaded_p99 / base_p99, 2),
            "wrk_errors": sum(r["errors_total"] for r in baselines + loaded_runs),
            "parked_during_load": [r["parked_after"] for r in rounds],
            "answered": sum(r["answered"] for r in rounds),
            "answered_early": sum(r["early"] for r in rounds),
            "waiter_errors": [e for r in rounds for e in r["errors"]][:10],
            "wake_ms": {"p50": round(percentile(delays, 0.5), 1),
                        "p99": round(percentile(delays, 0.99), 1),
                        "max": round(max(delays, default=0.0), 1)},
        }
        (logdir / "results.json").write_text(json.dumps(result, indent=2))
        total = args.waiters * args.rounds
        ok = (result["p99_ratio"] <= 2.0 and result["wrk_errors"] == 0
              and all(n == args.waiters for n in result["parked_during_load"])
              and result["answered_early"] == 0 and not result["waiter_errors"]
              and result["answered"] == total)
        print(f"Ingress waiters benchmark {stamp}: {args.rounds} rounds of {args.waiters} "
              f"waiters ({args.waiters - args.waiters // 2} long polls, {args.waiters // 2} "
              f"streams), wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s "
              f"POST /v1/runs, gunicorn {args.workers}x{args.threads}")
        for number, r in enumerate(rounds, 1):
            for name, res in (("no waiters", r["baseline"]),
                              (f"{args.waiters} waiters parked", r["with_waiters"])):
                lat = res["latency_ms"]
                print(f"  round {number}, {name:20} {res['rps']:7.0f} rps  p50 {lat['p50']:6.2f}"
                      f" ms  p99 {lat['p99']:6.2f} ms  errors {res['errors_total']}")
        print(f"  median POST p99: {base_p99:.2f} ms without waiters, {loaded_p99:.2f} ms with "
              f"-> {result['p99_ratio']}x (target <= 2x); median rps "
              f"{result['median_rps']['without']:.0f} / {result['median_rps']['with']:.0f}")
        print(f"  waiters parked through the load: {result['parked_during_load']}; answered "
              f"with SUCCEEDED: {result['answered']}/{total}; early answers "
              f"{result['answered_early']}; errors {len(result['waiter_errors'])}")
        print(f"  status event applied -> waiter answered: p50 {result['wake_ms']['p50']} ms, "
              f"p99 {result['wake_ms']['p99']} ms, max {result['wake_ms']['max']} ms")
        print(f"  verdict: {'PASS' if ok else 'FAIL'}  (results in {logdir.relative_to(ROOT)})")
        return 0 if ok else 1
    finally:
        server.stop()
        run_api.drop_database(args.admin_url, dbname)


if __name__ == "__main__":
    sys.exit(main())
