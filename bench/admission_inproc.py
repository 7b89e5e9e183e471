#!/usr/bin/env python
"""What admission control costs on the accept path: plain POST /v1/runs next to the
same request with a scoped token, an input schema, limits on runs in flight, input
rules, and all of them at once.

    python bench/admission_inproc.py [--requests 1000] [--rounds 3]

Like profile_inproc.py: a throwaway PostgreSQL database, the real app (production mode,
Redis cache), N sequential requests through the test client (which goes through the
accept path in front of Flask), single thread. Each variant is its own app (its own
policies file); the variants are interleaved over several rounds and the best round
counts, so that a neighbour's load on the machine skews no variant more than another.
Prints microseconds per request and the ratio to the plain accept.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_api import POST_BODY, ROOT, create_database, db_url, drop_database, make_token  # noqa: E402

INPUT_SCHEMA = {
    "type": "object",
    "required": ["ticket"],
    "properties": {
        "ticket": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "priority": {"type": "integer", "minimum": 0}}},
        "text": {"type": "string", "maxLength": 10000},
    },
}
INPUT = {"ticket": {"id": "T-1", "priority": 2}, "text": "my order did not arrive"}
LIMITS = "max_active_runs: 1000000000\nmax_active_runs_per_flow: 1000000000\n"
RULES = (
    "  input_rules:\n    deny:\n"
    "      - {path: text, pattern: '\\b(?:\\d[ -]?){13,16}\\b', message: no card numbers}\n"
    "      - {path: 'ticket.id', pattern: '^\\d{3}-\\d{2}-\\d{4}$', message: no SSNs}\n"
)
BASE = "version: 1\npolicies:\n  tenant_isolation: {}\n"


def body(schema: bool) -> dict:
    data = copy.deepcopy(POST_BODY)
    data["input"] = INPUT
    if schema:
        data["flow_definition"]["input_schema"] = INPUT_SCHEMA
    return data


VARIANTS = [  # name, policies text, scoped token, input schema
    ("plain", BASE, False, False),
    ("scoped token", BASE, True, False),
    ("input schema", BASE, False, True),
    ("in-flight limits", BASE + LIMITS, False, False),
    ("input rules", BASE + RULES, False, False),
    ("all of them", BASE + RULES + LIMITS, True, True),
]


def loop(client, n, headers, data):
    w0 = time.perf_counter()
    for _ in range(n):
        r = client.post("/v1/runs", headers=headers, json=data)
        if r.status_code != 202:
            raise SystemExit(f"POST /v1/runs -> {r.status_code}: {r.get_data(as_text=True)}")
    return (time.perf_counter() - w0) / n * 1e6


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    a = p.parse_args()
    name = f"ingress_bench_adm_{os.getpid()}_{secrets.token_hex(3)}"
    secret = secrets.token_urlsafe(48)
    create_database(a.admin_url, name)
    apps = []
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

        folder = Path(tempfile.mkdtemp(prefix="ingress-bench-"))
        plain_token = make_token(secret)
        import jwt

        claims = jwt.decode(plain_token, options={"verify_signature": False})
        scoped_token = jwt.encode({**claims, "scope": "runs:write runs:read"}, secret, "HS256")
        setups = []
        for index, (label, policies, scoped, schema) in enumerate(VARIANTS):
            path = folder / f"policies-{index}.yaml"
            path.write_text(policies)
            app = create_app({"POLICIES_FILE": str(path)})
            apps.append(app)
            token = scoped_token if scoped else plain_token
            headers = {"Authorization": f"Bearer {token}"}
            client = app.test_client()
            loop(client, 100, headers, body(schema))  # warm: token cache, statements, schema
            setups.append((label, client, headers, body(schema)))
        best = {label: float("inf") for label, *_ in setups}
        for _ in range(a.rounds):
            for label, client, headers, data in setups:
                best[label] = min(best[label], loop(client, a.requests, headers, data))
        plain = best["plain"]
        print(f"POST /v1/runs, {a.requests} requests x {a.rounds} rounds (best round), "
              "single thread, test client")
        for label, *_ in setups:
            print(f"  {label:<18} {best[label]:7.0f} us/request  {best[label] / plain:5.2f}x")
        return 0
    finally:
        try:
            from ingress_app.extensions import db

            for app in apps:
                with app.app_context():
                    db.engine.dispose()
        except Exception:
            pass
        drop_database(a.admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
