#!/usr/bin/env python
"""Per-request CPU of the app alone: Flask test client loop, no gunicorn, no wrk.

    python bench/profile_inproc.py [--requests 2000] [--target post|get|both] [--pyinstrument]

Creates a throwaway PostgreSQL database (same helpers as run_api.py), migrates it, builds
the real app with `create_app()` (production mode, Redis cache), and times N sequential
requests through `app.test_client()`: wall and process-CPU microseconds per request, for
POST /v1/runs and cached GET /v1/runs/{id}. Single thread, so the numbers are the app's own
cost (Flask + extensions + our code + driver), free of the GIL contention and scheduling
noise of the load test. With --pyinstrument the loop runs under pyinstrument and the text
report (and HTML) goes to bench/results/<stamp>/. The database is dropped on exit.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_api import POST_BODY, RESULTS, ROOT, create_database, db_url, drop_database, make_token  # noqa: E402


def loop(client, n, method, url, headers, body=None):
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        r = client.open(url, method=method, headers=headers, json=body)
        if r.status_code >= 300:
            raise SystemExit(f"{method} {url} -> {r.status_code}: {r.get_data(as_text=True)}")
    return (time.perf_counter() - w0) / n * 1e6, (time.process_time() - c0) / n * 1e6


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--target", choices=["post", "get", "both"], default="both")
    p.add_argument("--pyinstrument", action="store_true")
    p.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    a = p.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    outdir = RESULTS / f"inproc-{stamp}"
    outdir.mkdir(parents=True, exist_ok=True)
    name = f"ingress_bench_ip_{os.getpid()}_{secrets.token_hex(3)}"
    secret = secrets.token_urlsafe(48)
    create_database(a.admin_url, name)
    try:
        env = {**os.environ, "DATABASE_URL": db_url(a.admin_url, name), "REDIS_URL": a.redis_url,
               "JWT_SECRET_KEY": secret, "INGRESS_ENV": "production", "LOG_LEVEL": "WARNING"}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY",
                                                "INGRESS_ENV", "LOG_LEVEL")})
        os.chdir(ROOT)
        sys.path.insert(0, str(ROOT))
        from ingress_app import create_app

        app = create_app()
        client = app.test_client()
        token = make_token(secret)
        h = {"Authorization": f"Bearer {token}"}
        run_id = client.post("/v1/runs", headers=h, json=POST_BODY).get_json()["run_id"]
        plan = []
        if a.target in ("post", "both"):
            plan.append(("POST /v1/runs", "POST", "/v1/runs", POST_BODY))
        if a.target in ("get", "both"):
            plan.append(("GET /v1/runs/{id}", "GET", f"/v1/runs/{run_id}", None))
        loop(client, 200, "GET", f"/v1/runs/{run_id}", h)  # warm caches, prepared statements
        loop(client, 200, "POST", "/v1/runs", h, POST_BODY)
        profiler = None
        if a.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        for label, method, url, body in plan:
            if profiler:
                profiler.reset() if hasattr(profiler, "reset") else None
                profiler.start()
            wall, cpu = loop(client, a.requests, method, url, h, body)
            if profiler:
                profiler.stop()
                tag = method.lower()
                (outdir / f"pyinstrument-{tag}.txt").write_text(
                    profiler.output_text(unicode=False, color=False, show_all=False))
                (outdir / f"pyinstrument-{tag}.html").write_text(profiler.output_html())
                profiler = Profiler(interval=0.0005)
            print(f"{label:<20} {a.requests} requests: {wall:8.0f} us wall, {cpu:8.0f} us CPU "
                  f"per request (single thread, test client)")
        if a.pyinstrument:
            print(f"pyinstrument reports in {outdir.relative_to(ROOT)}")
        return 0
    finally:
        try:
            from ingress_app.extensions import db  # release pooled connections first

            with app.app_context():
                db.engine.dispose()
        except Exception:
            pass
        drop_database(a.admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
