"""The suite is safe on a shared machine: it names, and removes, only what it creates."""

from __future__ import annotations

import psycopg
import redis as redis_lib

from tests.conftest import (
    DATABASE_PREFIX,
    POSTGRES_ADMIN_URL,
    RUN_KEY_PREFIX,
    create_database,
    delete_run_keys,
    drop_database,
    key_prefix,
    new_database_name,
)


def database_exists(name: str) -> bool:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def database_name(url: str) -> str:
    return url.rpartition("/")[2].partition("?")[0]


def test_the_session_database_carries_the_test_prefix(postgres_url):
    assert database_name(postgres_url).startswith(DATABASE_PREFIX)


def test_a_created_database_is_dropped_again():
    name = new_database_name("probe_")
    assert name.startswith(DATABASE_PREFIX)

    url = create_database(name)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == name
    drop_database(name)

    assert not database_exists(name)


def test_only_this_runs_keys_are_deleted(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    ours = f"{key_prefix()}probe"
    # a key of someone else's that merely resembles ours (another run's prefix)
    theirs = f"ingress-test-0-{RUN_KEY_PREFIX[-9:-1]}x:probe"
    try:
        client.set(ours, b"1", ex=60)
        client.set(theirs, b"1", ex=60)

        assert delete_run_keys(redis_url) >= 1

        assert client.exists(ours) == 0
        assert client.exists(theirs) == 1
    finally:
        client.delete(ours, theirs)
        client.close()
