#!/usr/bin/env python
"""Summarise a py-spy `--format raw` (collapsed stacks) profile of the gunicorn workers.

    python bench/profile_summary.py bench/results/<stamp>/profile-post.txt [--top 40]

Prints, as shares of the busy samples (py-spy leaves idle threads out): components
(JWT, webargs, response dump, SQLAlchemy, psycopg, cache, ...), the top functions by
inclusive time and by self time. Shares are per-request CPU shares when the workers are
saturated.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# (label, regex on one frame "func (path:line)"): first match from the leaf upwards wins
# for self time; for components, a sample counts once if any frame matches.
COMPONENTS = [
    ("gunicorn: accept/parse/write (gthread)", r"gunicorn/"),
    ("werkzeug: request/response objects", r"werkzeug/"),
    ("flask: dispatch, contexts, hooks", r"site-packages/flask/"),
    ("flask-jwt-extended + PyJWT: verify token", r"flask_jwt_extended/|site-packages/jwt/"),
    ("webargs/marshmallow: parse body (RunCreateSchema)", r"webargs/"),
    ("flask-smorest: response wrapper/dump", r"flask_smorest/response\.py"),
    ("marshmallow (any)", r"marshmallow/"),
    ("ingress_app.body: json_body (NUL scan + json.loads)", r"ingress_app/body\.py"),
    ("ingress_app.flows: parse_flow / to_dict", r"ingress_app/flows/"),
    ("ingress_app.runs.service: accept_run / get_run", r"ingress_app/runs/service\.py"),
    ("ingress_app.runs.store: insert_accepted_run", r"ingress_app/runs/store\.py"),
    ("SQLAlchemy (engine, compile, pool, session)", r"sqlalchemy/"),
    ("flask_sqlalchemy (session/engine lookup)", r"flask_sqlalchemy/"),
    ("psycopg (driver)", r"psycopg/"),
    ("flask-caching / redis-py", r"flask_caching/|site-packages/redis/"),
    ("logging", r"/logging/"),
    ("json (stdlib) encode/decode", r"/json/"),
    ("uuid", r"/uuid\.py"),
    ("ingress_app.frontdoor: correlation id, headers, metrics, requests it answers",
     r"ingress_app/frontdoor\.py"),
    ("prometheus-client (metric updates)", r"prometheus_client/"),
]

FRAMEWORK = r"(flask_smorest|webargs|flask|werkzeug|gunicorn|flask_jwt_extended|flask_caching)/"

FRAME_RE = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    m = FRAME_RE.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{m.group('func')}"


def load(path: str):
    stacks: list[tuple[list[str], int]] = []
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            try:
                n = int(count)
            except ValueError:
                continue
            frames = [f for f in stack.split(";") if f]
            stacks.append((frames, n))
    return stacks


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("raw")
    p.add_argument("--top", type=int, default=35)
    a = p.parse_args()
    stacks = load(a.raw)
    # keep worker samples only (drop the gunicorn master / arbiter)
    stacks = [(f, n) for f, n in stacks if not any("arbiter.py" in x for x in f)]
    total = sum(n for _, n in stacks)
    if not total:
        print("no samples")
        return
    comp = Counter()
    incl = Counter()
    self_ = Counter()
    sites = Counter()
    for frames, n in stacks:
        for label, rx in COMPONENTS:
            if any(re.search(rx, fr) for fr in frames):
                comp[label] += n
        for key in {short(fr) for fr in frames}:
            incl[key] += n
        if frames:
            self_[short(frames[-1])] += n
        names = [short(fr) for fr in frames]
        if not names:
            continue
        ours = [i for i, x in enumerate(names) if x.startswith("ingress_app/")]
        if ours:
            i, tag = ours[-1], ""
        else:
            fw = [i for i, x in enumerate(names) if re.match(FRAMEWORK, x)]
            i, tag = (fw[-1] if fw else len(names) - 1), "[framework] "
        callee = names[i + 1] if i + 1 < len(names) else "(self)"
        sites[f"{tag}{names[i]} -> {callee}"] += n
    print(f"\n{total} busy samples in the workers\n")
    print("components (a sample counts in every component on its stack):")
    for label, n in comp.most_common():
        print(f"  {n / total:6.1%}  {label}")
    print("\nby call site (deepest ingress_app frame -> what it called; else deepest"
          " framework frame):")
    for key, n in sites.most_common(a.top):
        print(f"  {n / total:6.1%}  {key}")
    print(f"\ntop {a.top} functions by inclusive share:")
    for key, n in incl.most_common(a.top):
        print(f"  {n / total:6.1%}  {key}")
    print(f"\ntop {a.top} functions by self share:")
    for key, n in self_.most_common(a.top):
        print(f"  {n / total:6.1%}  {key}")


if __name__ == "__main__":
    main()
