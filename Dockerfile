# syntax=docker/dockerfile:1
#
# Ingress image: `docker build -t ingress .`
#
#   docker run ... ingress                                   # gunicorn wsgi:app on :8000
#   docker run ... ingress flask --app wsgi db upgrade       # migrations: a separate one-shot step
#   docker run ... ingress flask --app wsgi outbox relay     # a relay on its own
#   docker run ... ingress flask --app wsgi events consume   # the status-event consumer
#   docker run ... ingress ingress kafka init-topics         # any operator command, as `ingress`
#
# Two stages: the builder turns the project and every dependency into wheels; the
# runtime installs them offline (no compiler, no build tools, no pip cache in the image)
# and runs as an unprivileged user. Configuration is the environment only (README,
# docs/operations.md); the image holds no secret.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# Metadata first, then the package: `pip wheel .` needs both (setup.cfg reads README.md
# and ships migrations/ as data, for `ingress db upgrade` from any directory).
COPY pyproject.toml setup.cfg README.md ./
COPY ingress_app ./ingress_app
COPY migrations ./migrations
# Every dependency is published as a manylinux wheel (psycopg[binary], confluent-kafka,
# cryptography), so no compiler is needed; the result is one directory of wheels.
# With the granian extra, so the image can also serve as `ingress serve --server granian`.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[granian]"

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ingress" \
      org.opencontainers.image.description="Ingress: the front door of an AI-agent flow orchestration framework" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    INGRESS_INSTANCE_PATH=/app/instance

# A fixed numeric uid/gid, so orchestrators can verify "runAsNonRoot" and volumes can be
# prepared for it; no login shell, no home directory of its own.
RUN groupadd --system --gid 10001 ingress \
 && useradd --system --uid 10001 --gid ingress --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin ingress

# Install from the builder's wheels only (--no-index: nothing is fetched here). The
# wheels are bind-mounted, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "$(echo /wheels/ingress_app-*.whl)[granian]"

WORKDIR /app
# Read-only for the service user (owned by root). gunicorn reads ./gunicorn.conf.py,
# `flask --app wsgi` imports ./wsgi.py, POLICIES_FILE defaults to ./policies.yaml and
# `flask --app wsgi db upgrade` finds ./migrations: all relative to this directory.
COPY gunicorn.conf.py wsgi.py policies.yaml ./
COPY migrations ./migrations
# The instance folder is the only place the service writes (the last-good copy of
# policies.yaml); mount a volume here to keep it across restarts.
RUN mkdir -p /app/instance && chown ingress:ingress /app/instance

USER 10001:10001

EXPOSE 8000

# Liveness only (the process serves HTTP): readiness, with the database, is /health and
# belongs to the load balancer. No curl in slim images, so Python's urllib does it;
# urlopen raises on any non-2xx answer or timeout, which exits non-zero.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('API_PORT', '8000') + '/health/live', timeout=3)"]

# gunicorn stops gracefully on SIGTERM (Docker's default stop signal) within
# graceful_timeout (30 s): give the container a longer stop timeout (45 s).
CMD ["gunicorn", "wsgi:app"]
