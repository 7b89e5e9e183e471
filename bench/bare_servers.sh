#!/usr/bin/env bash
# The bare endpoint (bench/bare_app.py: Flask returning a constant) under each WSGI server
# this environment has, interleaved, wrk at 32 connections: what the server alone costs.
#
#   bash bench/bare_servers.sh [rounds=2] [seconds=8]
#
# gunicorn gthread (2 workers x 1, 2 and 4 threads), gunicorn gevent (if gevent is
# installed: pip install gevent) and granian's WSGI interface (2 workers x 4 threads).
# A different gunicorn can be measured beside the installed one by putting it first on
# the path: GUNICORN_PYTHONPATH=/tmp/g27 (pip install --target /tmp/g27 gunicorn==27.0.1).
# Loopback only; every server is stopped after its run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"
seconds="${2:-8}"
py="${PYTHON:-python}"
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port/bare"

measure() {  # label, command...
  local label="$1"; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  local up=""
  for _ in $(seq 100); do curl -sf "$url" >/dev/null 2>&1 && up=1 && break; sleep 0.1; done
  if [ -z "$up" ]; then
    printf '%-28s did not start\n' "$label"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return
  fi
  wrk -t2 -c32 -d3s "$url" >/dev/null  # warm-up
  local out
  out="$(wrk -t2 -c32 -d"${seconds}s" --latency "$url")"
  printf '%-28s %10s req/s   p99 %s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

gunicorn_cmd=(env PYTHONPATH="${GUNICORN_PYTHONPATH:-}${PYTHONPATH:+:$PYTHONPATH}" "$py" -m gunicorn -c /dev/null
              -w 2 -b "127.0.0.1:$port" --log-level warning)
for round in $(seq "$rounds"); do
  echo "round $round"
  for threads in 1 2 4; do
    measure "gunicorn gthread 2x$threads" "${gunicorn_cmd[@]}" -k gthread --threads "$threads" bench.bare_app:app
  done
  if "$py" -c 'import gevent' 2>/dev/null; then
    measure "gunicorn gevent 2" "${gunicorn_cmd[@]}" -k gevent --worker-connections 100 bench.bare_app:app
  fi
  if "$py" -c 'import granian' 2>/dev/null; then
    measure "granian wsgi 2x4" "$py" -m granian --interface wsgi --workers 2 --blocking-threads 4 \
      --host 127.0.0.1 --port "$port" --log-level warning --no-access-log bench.bare_app:app
  fi
done
