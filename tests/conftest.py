"""Fixtures: the app on SQLite (unit) or PostgreSQL + Redis (integration), clients, tokens.

Integration tests use the machine's PostgreSQL and Redis over real connections:
a fresh database per test session, created by the migrations and dropped at the end,
and a Redis key prefix of its own. Locally a missing service skips those tests; in
CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt as pyjwt
import psycopg
import pytest
import redis as redis_lib
from psycopg.rows import dict_row

from ingress_app import create_app

JWT_SECRET = "test-secret-4f9a1c7e2b8d6053a9e1f4c2b7d8e6a0"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


def make_token(
    tenant: str | None = "acme",
    user: Any = "alice",
    *,
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    expires_in: int | None = 600,
    **claims: Any,
) -> str:
    """Sign a token the way a client's identity provider would."""
    payload: dict[str, Any] = {"iat": int(time.time())}
    if user is not None:
        payload["sub"] = user
    if tenant is not None:
        payload["tenant_id"] = tenant
    if expires_in is not None:
        payload["exp"] = int(time.time()) + expires_in
    payload.update(claims)
    return pyjwt.encode(payload, secret, algorithm=algorithm)


def auth(tenant: str = "acme", user: str = "alice", **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(tenant, user, **kwargs)}"}


def sample_flow(flow_id: str = "support-triage", **extra: Any) -> dict[str, Any]:
    return {
        "id": flow_id,
        "version": "3",
        "type": "DAG",
        "tasks": [
            {"id": "classify", "type": "llm", "retries": 2, "timeout_seconds": 60, "config": {}},
            {"id": "route", "type": "tool", "depends_on": ["classify"], "timeout_seconds": 30},
        ],
        **extra,
    }


def base_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "JWT_SECRET_KEY": JWT_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "OUTBOX_RELAY_ENABLED": False,
        "LOG_FORMAT": "text",
    }
    config.update(overrides)
    return config


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


# --------------------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_app(tmp_path):
    """The embedded default: SQLite in a temp instance folder, in-process cache."""
    app = create_app(base_config(DATABASE_URL=f"sqlite:///{tmp_path / 'ingress.db'}"))
    migrate(app)
    yield app
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL for this test session."""
    name = f"ingress_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        service_missing("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    app = create_app(base_config(DATABASE_URL=url))
    migrate(app)
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError as exc:
        service_missing("Redis", exc)
    return REDIS_URL


TABLES = ("flow_runs_audit", "outbox_messages", "audit_events", "webhook_configs", "run_events", "flows",
          "webhook_deliveries")


def truncate_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


@pytest.fixture
def make_pg_app(postgres_url, redis_url):
    """Build apps on PostgreSQL + Redis; every table is emptied after the test."""
    apps = []

    def factory(**overrides: Any):
        config = base_config(
            DATABASE_URL=postgres_url,
            REDIS_URL=redis_url,
            CACHE_KEY_PREFIX=f"ingress-test-{uuid.uuid4().hex}:",
        )
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            from ingress_app.extensions import db

            db.engine.dispose()
    truncate_all(postgres_url)


@pytest.fixture
def pg_app(make_pg_app):
    return make_pg_app()


@pytest.fixture
def app(pg_app):
    return pg_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sqlite_client(sqlite_app):
    return sqlite_app.test_client()


@pytest.fixture
def pg(postgres_url):
    """A psycopg connection for asserting rows."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.row_factory = dict_row
        yield conn


# --------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
def kafka_broker():
    """A tansu broker behind a TcpProxy the tests control (or KAFKA_BOOTSTRAP_SERVERS)."""
    from tests.support.kafka import KafkaBroker, external_bootstrap

    external = external_bootstrap()
    if external:

        class External:
            bootstrap = external
            proxy = None

        yield External()
        return
    broker = KafkaBroker(with_proxy=True)
    try:
        broker.start()
    except Exception as exc:  # binary missing or failed to start
        service_missing("Kafka (tansu)", exc)
    yield broker
    broker.stop()


@pytest.fixture
def kafka_topics(kafka_broker):
    """Fresh topic names for this test: (flow_runs, run_events)."""
    from tests.support.kafka import create_topic

    suffix = uuid.uuid4().hex[:8]
    runs, events = f"flow_runs_{suffix}", f"flow_run_events_{suffix}"
    for name in (runs, events):
        create_topic(kafka_broker.bootstrap, name, partitions=1)
    return runs, events


@pytest.fixture
def kafka_app(make_pg_app, kafka_broker, kafka_topics):
    """The app on PostgreSQL + Redis + Kafka; no background relay (tests drive it)."""
    runs, events = kafka_topics
    return make_pg_app(
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC_FLOW_RUNS=runs,
        KAFKA_TOPIC_RUN_EVENTS=events,
        OUTBOX_DELIVERY_TIMEOUT_SECONDS=3.0,
        KAFKA_SESSION_TIMEOUT_MS=6000,
        KAFKA_HEARTBEAT_INTERVAL_MS=500,
    )
