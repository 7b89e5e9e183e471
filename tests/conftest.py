"""Fixtures: the app on SQLite (unit) or PostgreSQL + Redis (integration), clients, tokens.

Integration tests use the machine's PostgreSQL and Redis over real connections, and are
safe on a shared machine:

- `TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`) is only the
  maintenance connection: the tests create databases of their own there, named
  `TEST_DATABASE_PREFIX` (default `ingress_test_`) + process id + random, and drop each one
  when done. No other database is touched.
- `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/15`): every key the tests write starts
  with one prefix of this run (`ingress-test-<pid>-<random>:`), and those keys are deleted
  at the end. Nothing is flushed.

Locally a missing service skips those tests; in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt as pyjwt
import psycopg
import pytest
import redis as redis_lib
from psycopg import sql
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from ingress_app import create_app

JWT_SECRET = "test-secret-4f9a1c7e2b8d6053a9e1f4c2b7d8e6a0"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE_PREFIX = os.environ.get("TEST_DATABASE_PREFIX", "ingress_test_")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Every Redis key this test run writes starts with this (cache, rate limits, fast paths).
RUN_KEY_PREFIX = f"ingress-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"


def key_prefix() -> str:
    """A CACHE_KEY_PREFIX of its own for one app, inside this run's prefix."""
    return f"{RUN_KEY_PREFIX}{uuid.uuid4().hex[:12]}:"


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server as `url`, another database number."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def other_redis_db(url: str) -> int:
    """A database number beside the test one (for tests that must select another)."""
    db = int(urlsplit(url).path.strip("/") or 0)
    return db - 1 if db > 1 else db + 1


def delete_run_keys(url: str) -> int:
    """Delete this run's keys (and nothing else) from the database of `url`."""
    client = redis_lib.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{RUN_KEY_PREFIX}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def database_url(name: str) -> str:
    """The URL of database `name` on the server of TEST_POSTGRES_URL."""
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def new_database_name(purpose: str = "") -> str:
    return f"{DATABASE_PREFIX}{purpose}{os.getpid()}_{uuid.uuid4().hex[:6]}"


def create_database(name: str) -> str:
    """Create database `name` (skip or fail when PostgreSQL is missing); returns its URL."""
    assert name.startswith(DATABASE_PREFIX), name
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        service_missing("PostgreSQL", exc)
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop a database this run created (only names with the test prefix)."""
    assert name.startswith(DATABASE_PREFIX), name
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


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
    name = new_database_name()
    url = create_database(name)
    try:
        app = create_app(base_config(DATABASE_URL=url))
        migrate(app)
        with app.app_context():
            from ingress_app.extensions import db

            db.engine.dispose()
        yield url
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL; at the end of the run every key under RUN_KEY_PREFIX is deleted
    (there and in the neighbouring database some tests select)."""
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError as exc:
        service_missing("Redis", exc)
    yield REDIS_URL
    for url in (REDIS_URL, redis_url_with_db(REDIS_URL, other_redis_db(REDIS_URL))):
        try:
            delete_run_keys(url)
        except redis_lib.RedisError as exc:  # gone by now: nothing more to do here
            warnings.warn(f"could not delete this run's Redis keys: {exc}", stacklevel=1)


TABLES = ("flow_runs_audit", "outbox_messages", "audit_events", "webhook_configs", "run_events", "flows",
          "webhook_deliveries", "callback_secrets", "callback_subscriptions", "callback_deliveries",
          "callback_attempts", "active_runs")


def truncate_all(url: str) -> None:
    """Empty every table and restart the id sequences. DELETE, not TRUNCATE: on tables
    this small it takes about 1 ms where TRUNCATE takes over 100 (its file work), and
    it runs after nearly every test."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'")


@pytest.fixture
def emptied_after(postgres_url):
    """For tests that write through a server of their own (gunicorn): every table is
    emptied afterwards, as `make_pg_app` does for in-process apps."""
    yield postgres_url
    truncate_all(postgres_url)


@pytest.fixture(scope="module")
def front_door() -> bool:
    """`RUN_FRONT_DOOR` of the apps the fixtures build. A suite that must behave the same
    both ways imports `tests.support.front_door.front_door_both_ways`, which overrides
    this fixture and runs each of its tests twice."""
    return True


@pytest.fixture
def make_pg_app(postgres_url, redis_url, front_door):
    """Build apps on PostgreSQL + Redis; every table is emptied after the test."""
    apps = []

    def factory(**overrides: Any):
        config = base_config(
            DATABASE_URL=postgres_url,
            REDIS_URL=redis_url,
            CACHE_KEY_PREFIX=key_prefix(),
            RUN_FRONT_DOOR=front_door,
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
