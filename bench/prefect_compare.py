#!/usr/bin/env python
"""Compare Ingress POST /v1/runs with Prefect 3's server POST /api/flow_runs/.

    python bench/prefect_compare.py [--duration 15] [--connections 32]

One command, one run, both sides measured the same way on this machine:

1. A virtualenv at bench/.venv-prefect gets `prefect>=3,<4`, `asyncpg` and `prefect-redis`
   from PyPI (reused when it already imports them). prefect-redis is what Prefect needs for
   its multi-worker server (`prefect server start --workers N` refuses to start without
   Redis messaging, causal ordering and lease storage).
2. Ingress: a throwaway PostgreSQL database, migrated, the real app (`wsgi:app`) under
   gunicorn with bench/gunicorn_conf.py and run_api.py's settings (gthread, --workers x
   --threads, no worker recycling, no access log, LOG_LEVEL=WARNING), measured with
   bench/post_run.lua (the 2-task flow_definition body).
3. Prefect: another throwaway database, migrated once with `prefect server database
   upgrade`, then for each configuration in --prefect-workers (default: "1,<workers>"):
   `prefect server start --host 127.0.0.1 --port P --no-services --no-ui --analytics-off
   [--workers N]` with PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...,
   a flow created with POST /api/flows/ and runs created with POST /api/flow_runs/
   (bench/prefect_flow_run.lua: flow_id, name, parameters, state PENDING). "1" is
   Prefect's default single-process server; N > 1 is uvicorn workers, like Ingress's
   gunicorn workers, with Redis messaging on a private redis-server started here (never
   the shared one). What is switched off in Prefect, and why, is in PREFECT_QUIET below.
4. Every measured wrk run is checked against its database: rows created during the run
   (Ingress: flow_runs_audit, Prefect: flow_run) minus wrk's 2xx responses must be
   between 0 and --connections (requests still in flight when wrk stops are served but
   never counted by wrk); anything else is a verification failure.
5. The table: created runs/s, p50, p99, errors per target, and per Prefect configuration
   the ratio Ingress/Prefect with PASS/FAIL for >= 20x created runs/s and lower p99.

Each target gets the same warm-up and the same wrk settings (-t --wrk-threads,
-c --connections, -d --duration, --timeout, --latency). Results go to
bench/results/prefect-<stamp>/ (results.json, wrk outputs, server logs) and
bench/results/prefect_latest.json. Every process started here is stopped and both
databases are dropped on exit, Ctrl-C and SIGTERM included.
Exit status: 0 PASS, 1 FAIL, 2 the benchmark could not run.

bench/run_api.py is used as a library (Server, run_wrk, databases, migrations, tokens,
virtualenvs, CPU accounting).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run_api as ra  # noqa: E402  (bench/run_api.py, used as a library)

ROOT = ra.ROOT
RESULTS = ra.RESULTS
VENV = BENCH / ".venv-prefect"
PREFECT_REQUIREMENTS = ["prefect>=3,<4", "asyncpg", "prefect-redis"]
MIN_RATIO = 20.0

PREFECT_BODY = {  # what bench/prefect_flow_run.lua sends (flow_id filled in)
    "name": "bench",
    "parameters": {"email": "a@example.com"},
    "state": {"type": "PENDING"},
}

# Prefect settings for the benchmark. The server is started with --no-services (only the
# webserver runs; `--workers N > 1` forces this anyway), so none of the loop services below
# runs; they are also switched off by their own settings so that the intent survives a
# change of CLI defaults. Why: each of them is background work (polling loops over
# flow_run / events tables, the event persister writing an `events` row for every state
# change) that would compete with the request path for the same 2 CPUs and the same
# PostgreSQL. Switching them off takes work away from Prefect, so the Prefect figures are
# an upper bound and the Ingress/Prefect ratios are conservative.
PREFECT_QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",          # no telemetry (no network)
    "PREFECT_SERVER_UI_ENABLED": "false",                 # no UI static files
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # deployment schedules
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",  # would mark PENDING/SCHEDULED
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",    # worker/work-pool heartbeats
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "[]",     # no retention deletes
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",  # events -> DB writer
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",   # automations
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",   # websocket event distributor
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_METRICS_ENABLED": "false",
    # migrations run once before the server starts (N uvicorn workers must not race)
    "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",            # no per-request access lines
    "PREFECT_LOGGING_LEVEL": "WARNING",
}
# Only with --workers > 1: what `prefect server start` requires for multi-worker mode.
PREFECT_REDIS = {
    "PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
}

T0 = time.monotonic()
BenchError = ra.BenchError


def log(msg: str) -> None:
    ra.log(f"+{time.monotonic() - T0:.0f}s {msg}")


# ---------------------------------------------------------------- virtualenv

PREFECT_PROBE = ("import prefect, asyncpg, prefect_redis, uvicorn; "
                 "assert prefect.__version__.split('.')[0] == '3', prefect.__version__; "
                 "print(prefect.__version__)")


def ensure_venv() -> str:
    return ra.ensure_venv(VENV, PREFECT_REQUIREMENTS, PREFECT_PROBE)


# ---------------------------------------------------------------- processes


def start_redis(logdir: Path) -> ra.Server:
    """A private, memory-only redis-server for Prefect's multi-worker messaging."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise BenchError("redis-server not found (needed for Prefect --workers > 1)")
    port = ra.free_port()
    cmd = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
           "--protected-mode", "yes"]
    r = ra.Server("prefect-redis", "", dict(os.environ), port, logdir, cmd=cmd)
    r.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if r.proc.poll() is not None:
            raise BenchError(f"redis-server exited; see {r.logfile}")
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                              text=True)
        if ping.stdout.strip() == "PONG":
            return r
        time.sleep(0.1)
    r.stop()
    raise BenchError("private redis-server did not answer PING")


# ---------------------------------------------------------------- databases


def count_rows(url: str, table: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def settled_count(url: str, table: str, timeout: float = 15.0) -> int:
    """Row count once it stops changing (requests still in flight when wrk stopped)."""
    last, stable_since = count_rows(url, table), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count_rows(url, table)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 1.0:
            break
    return last


# ---------------------------------------------------------------- measurement


def measure(args, name: str, url: str, script: str, token: str | None, server: ra.Server,
            db: str, table: str, logdir: Path) -> dict:
    """Warm up, measure with wrk, account CPU, and verify rows against 2xx responses."""
    if args.warmup:
        ra.run_wrk(args, name, url, script, token, args.warmup, None, "")
    before_rows = settled_count(db, table)
    load_before = os.getloadavg()
    log(f"{name}: wrk -c{args.connections} for {args.duration}s "
        f"(load average {load_before[0]:.2f})")
    before = ra.cpu_snapshot()
    res = ra.run_wrk(args, name, url, script, token, args.duration, logdir, name)
    cpu = ra.cpu_delta(before, ra.cpu_snapshot(), {"server": {server.proc.pid}})
    cpu["wrk"] = res.pop("wrk_cpu_s")
    rows = settled_count(db, table) - before_rows
    ok_responses = res["requests"] - res["errors"]["status"]
    res.update({
        "created_rps": round(ok_responses / res["duration_s"], 2),
        "responses_2xx": ok_responses,
        "rows_created": rows,
        "rows_minus_2xx": rows - ok_responses,
        # served but unread: at most one request per connection when wrk stops
        "rows_verified": 0 <= rows - ok_responses <= args.connections,
        "cpu_s": cpu,
        "other_cpu_share": round(cpu["other"] / (res["duration_s"] * (os.cpu_count() or 1)),
                                 3),
        "cpu_ms_per_created_run": {
            k: round(1000 * cpu[k] / max(ok_responses, 1), 3)
            for k in ("server", "server_sys", "postgres", "redis", "wrk", "other")},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    })
    log(f"  {res['created_rps']:.1f} created/s, p50 {res['latency_ms']['p50']:.1f} ms, "
        f"p99 {res['latency_ms']['p99']:.1f} ms, errors {res['errors_total']}, "
        f"rows {rows} vs 2xx {ok_responses}")
    return res


def ingress_phase(args, logdir: Path, cleanup: list) -> dict:
    dbname = f"ingress_prefcmp_{os.getpid()}_{secrets.token_hex(3)}"
    ra.create_database(args.admin_url, dbname)
    cleanup.append(("db", dbname))
    secret = secrets.token_urlsafe(48)
    # the same environment as bench/run_api.py's main() (its CLI and behaviour untouched)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "API_"))},
        "DATABASE_URL": ra.db_url(args.admin_url, dbname),
        "REDIS_URL": args.redis_url,
        "JWT_SECRET_KEY": secret,
        "INGRESS_ENV": "production",
        "API_HOST": "127.0.0.1",
        "API_WORKERS": str(args.workers),
        "API_THREADS": str(args.threads),
        "LOG_LEVEL": "WARNING",
        "API_MAX_REQUESTS": "0",
    }
    env.pop("ACCESS_LOG", None)
    ra.migrate(env)
    port = ra.free_port()
    app = ra.Server("ingress", "wsgi:app", {**env, "API_PORT": str(port)}, port, logdir)
    cleanup.append(("server", app))
    app.start()
    app.wait_ready("/health/live")
    log(f"Ingress on :{port} (gunicorn gthread {args.workers} workers x {args.threads} "
        f"threads), database {dbname}")
    token = ra.make_token(secret)
    url = f"http://127.0.0.1:{port}/v1/runs"
    status, body = ra.http("POST", url, token, ra.POST_BODY)
    if status != 202:
        raise BenchError(f"Ingress POST /v1/runs answered {status}: {body}")
    res = measure(args, "ingress", url, "post_run.lua", token, app, env["DATABASE_URL"],
                  "flow_runs_audit", logdir)
    app.stop()
    app.trim_log()
    return res


def prefect_phase(args, logdir: Path, cleanup: list, home: Path) -> dict[str, dict]:
    dbname = f"prefect_bench_{os.getpid()}_{secrets.token_hex(3)}"
    ra.create_database(args.admin_url, dbname)
    cleanup.append(("db", dbname))
    sync_url = ra.db_url(args.admin_url, dbname)
    rest = sync_url.partition("://")[2]
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "VIRTUAL_ENV", "PYTHON"))},
        "PREFECT_HOME": str(home),  # no ~/.prefect profile or state
        "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{rest}",
        **PREFECT_QUIET,
    }
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    prefect = str(VENV / "bin" / "prefect")
    t0 = time.monotonic()
    mig = subprocess.run([prefect, "server", "database", "upgrade", "-y"], env=env,
                         cwd=home, capture_output=True, text=True, timeout=600)
    if mig.returncode != 0:
        raise BenchError(f"prefect server database upgrade failed:\n{mig.stdout[-2000:]}"
                         f"\n{mig.stderr[-3000:]}")
    log(f"Prefect database {dbname} migrated in {time.monotonic() - t0:.0f}s")

    results: dict[str, dict] = {}
    for n in args.prefect_workers:
        name = f"prefect-w{n}"
        senv = dict(env)
        redis = None
        if n > 1:
            redis = start_redis(logdir)
            cleanup.append(("server", redis))
            senv.update(PREFECT_REDIS)
            senv.update({"PREFECT_REDIS_MESSAGING_HOST": "127.0.0.1",
                         "PREFECT_REDIS_MESSAGING_PORT": str(redis.port),
                         "PREFECT_REDIS_MESSAGING_DB": "0"})
        port = ra.free_port()
        cmd = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port),
               "--no-services", "--no-ui", "--analytics-off", "--no-scheduler",
               "--no-late-runs", "--log-level", "WARNING"]
        if n > 1:
            cmd += ["--workers", str(n)]
        srv = ra.Server(name, "", senv, port, logdir, cmd=cmd, cwd=home)
        cleanup.append(("server", srv))
        srv.start()
        srv.wait_ready("/api/health", timeout=180)
        log(f"Prefect on :{port} ({'single process' if n == 1 else f'{n} uvicorn workers'}"
            ", --no-services)")
        base_url = f"http://127.0.0.1:{port}/api"
        status, flow = ra.http("POST", f"{base_url}/flows/", None, {"name": f"bench-{name}"})
        if status not in (200, 201) or not isinstance(flow, dict):
            raise BenchError(f"Prefect POST /api/flows/ answered {status}: {flow}")
        status, run = ra.http("POST", f"{base_url}/flow_runs/", None,
                              {"flow_id": flow["id"], **PREFECT_BODY})
        if status != 201 or not isinstance(run, dict) or run.get("state_type") != "PENDING":
            raise BenchError(f"Prefect POST /api/flow_runs/ answered {status}: {run}")
        os.environ["BENCH_PREFECT_FLOW_ID"] = flow["id"]  # read by prefect_flow_run.lua
        res = measure(args, name, f"{base_url}/flow_runs/", "prefect_flow_run.lua", None,
                      srv, sync_url, "flow_run", logdir)
        res["server"] = {"workers": n, "command": " ".join(cmd[1:]),
                         "redis_messaging": n > 1}
        results[name] = res
        srv.stop()
        srv.trim_log()
        if redis is not None:
            redis.stop()
    return results


# ---------------------------------------------------------------- report


def compare(ingress: dict, prefect: dict) -> dict:
    ratio = ingress["created_rps"] / prefect["created_rps"] if prefect["created_rps"] else None
    checks = {
        "ratio_ge_20x": ratio is None or ratio >= MIN_RATIO,
        "lower_p99": ingress["latency_ms"]["p99"] < prefect["latency_ms"]["p99"],
        "no_errors": ingress["errors_total"] == 0 and prefect["errors_total"] == 0,
        "rows_verified": ingress["rows_verified"] and prefect["rows_verified"],
    }
    return {"ratio": None if ratio is None else round(ratio, 2),
            "p99_ingress_ms": ingress["latency_ms"]["p99"],
            "p99_prefect_ms": prefect["latency_ms"]["p99"],
            "checks": checks, "pass": all(checks.values())}


def print_report(args, version: str, ingress: dict, prefect: dict[str, dict],
                 verdicts: dict[str, dict]) -> None:
    labels = {"ingress": f"Ingress POST /v1/runs ({args.workers}x{args.threads} gthread)"}
    for name, res in prefect.items():
        n = res["server"]["workers"]
        labels[name] = (f"Prefect {version} POST /api/flow_runs/ "
                        f"({'1 process, default' if n == 1 else f'{n} uvicorn workers'})")
    rows = {"ingress": ingress, **prefect}
    width = max(len(v) for v in labels.values()) + 2
    hdr = (f"{'target':<{width}}{'created/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
           f"{'rows':>8}{'2xx':>8}  rows ok")
    print(hdr)
    print("-" * len(hdr))
    for name, res in rows.items():
        print(f"{labels[name]:<{width}}{res['created_rps']:>10.1f}"
              f"{res['latency_ms']['p50']:>9.1f}{res['latency_ms']['p99']:>9.1f}"
              f"{res['errors_total']:>8}{res['rows_created']:>8}{res['responses_2xx']:>8}  "
              f"{'yes' if res['rows_verified'] else 'NO'}")
    print()
    for name, v in verdicts.items():
        failed = [k for k, ok in v["checks"].items() if not ok]
        ratio = "n/a" if v["ratio"] is None else f"{v['ratio']:.1f}x"
        print(f"Ingress / {labels[name]}: created/s {ratio} (goal >= {MIN_RATIO:.0f}x), "
              f"p99 {v['p99_ingress_ms']:.1f} vs {v['p99_prefect_ms']:.1f} ms -> "
              + ("PASS" if v["pass"] else "FAIL (" + ", ".join(failed) + ")"))
    print("CPU ms per created run (server / server_sys / postgres / redis / wrk / other):")
    for name, res in rows.items():
        c = res["cpu_ms_per_created_run"]
        print(f"  {name:<12}" + "  ".join(f"{k} {v:.2f}" for k, v in c.items()))
    noisy = [f"{n} {r['other_cpu_share']:.0%}" for n, r in rows.items()
             if r["other_cpu_share"] > 0.10]
    print("machine load (1-min load average before each run): "
          + ", ".join(f"{n} {r['loadavg_before'][0]:.2f}" for n, r in rows.items()))
    if noisy:
        print("WARNING: other processes used >10% of the machine's CPU during: "
              + "; ".join(noisy) + " (figures are noisy; rerun on a quiet machine)")


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=15, help="seconds per measured wrk run (<=20)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=10,
                   help="wrk request timeout, seconds (long enough that a slow server's "
                   "requests are measured, not dropped from its latency histogram)")
    p.add_argument("--workers", type=int, default=2, help="Ingress API_WORKERS")
    p.add_argument("--threads", type=int, default=4, help="Ingress API_THREADS (the default)")
    p.add_argument("--prefect-workers", default=None,
                   help="comma-separated Prefect server process counts to measure "
                   "(default: '1,<--workers>': the default single-process server and as many "
                   "uvicorn workers as Ingress has gunicorn workers)")
    p.add_argument("--admin-url", default=os.environ.get(
        "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), help="Ingress's Redis")
    p.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    a = p.parse_args(argv)
    if not 1 <= a.duration <= 20:
        p.error("--duration must be between 1 and 20 seconds")
    try:
        spec = a.prefect_workers or f"1,{a.workers}"
        a.prefect_workers = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError:
        p.error("--prefect-workers must be comma-separated integers")
    if not a.prefect_workers or min(a.prefect_workers) < 1:
        p.error("--prefect-workers needs at least one count >= 1")
    a.unique_request_id = False  # run_api.run_wrk reads it: same body every request
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logdir = RESULTS / f"prefect-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    cleanup: list[tuple[str, object]] = []
    home = Path(tempfile.mkdtemp(prefix="prefect-bench-home-"))

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        version = ensure_venv()
        print(f"Prefect {version} (virtualenv {VENV.relative_to(ROOT)})", flush=True)
        load0 = os.getloadavg()
        log(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
            f"on {os.cpu_count()} CPUs")
        ingress = ingress_phase(args, logdir, cleanup)
        prefect = prefect_phase(args, logdir, cleanup, home)
        verdicts = {name: compare(ingress, res) for name, res in prefect.items()}
        overall = all(v["pass"] for v in verdicts.values())

        print()
        print(f"Ingress vs Prefect {stamp}: wrk -t{args.wrk_threads} -c{args.connections} "
              f"-d{args.duration}s --timeout {args.timeout}s (warm-up {args.warmup}s each), "
              f"{os.cpu_count()} CPUs shared with other work")
        print_report(args, version, ingress, prefect, verdicts)
        print(f"OVERALL: {'PASS' if overall else 'FAIL'} (Ingress >= {MIN_RATIO:.0f}x the "
              "created runs/s of every Prefect configuration, with lower p99)")

        report = {
            "stamp": stamp,
            "settings": {k: v for k, v in vars(args).items() if k != "admin_url"},
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load0],
            "prefect_version": version,
            "prefect_settings": PREFECT_QUIET,
            "prefect_multi_worker_settings": PREFECT_REDIS,
            "ingress": {"gunicorn": {"worker_class": "gthread", "workers": args.workers,
                                     "threads": args.threads},
                        "body": ra.POST_BODY, "result": ingress},
            "prefect": prefect,
            "prefect_body": {"flow_id": "<created flow>", **PREFECT_BODY},
            "verdicts": verdicts,
            "min_ratio": MIN_RATIO,
            "pass": overall,
        }
        out = logdir / "results.json"
        out.write_text(json.dumps(report, indent=2))
        shutil.copyfile(out, RESULTS / "prefect_latest.json")
        print(f"results: {out.relative_to(ROOT)}")
        return 0 if overall else 1
    except (BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"ERROR: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up
        for kind, item in reversed(cleanup):
            if kind == "server":
                item.stop()
                item.trim_log()
        for kind, item in cleanup:
            if kind == "db":
                try:
                    ra.drop_database(args.admin_url, item)
                    log(f"database {item} dropped")
                except Exception as exc:  # pragma: no cover - report, do not mask
                    log(f"could not drop database {item}: {exc}")
        shutil.rmtree(home, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
