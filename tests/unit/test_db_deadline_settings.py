"""How the database deadlines are derived from the settings (no server needed)."""

from __future__ import annotations

import pytest

from ingress_app import create_app, dbdeadlines
from ingress_app.state import ingress_state
from tests.conftest import base_config

URL = "postgresql://ingress@127.0.0.1:1/ingress"  # never connected to


@pytest.mark.parametrize(
    ("settings", "expected_ms"),
    [
        ({}, 12_000),  # statement timeout (10 s) + 2 s
        ({"DB_STATEMENT_TIMEOUT_MS": 600_000}, 602_000),  # a long migration raises it too
        ({"DB_NETWORK_TIMEOUT_MS": 3_000}, 3_000),
    ],
)
def test_the_network_deadline_follows_the_statement_timeout_unless_set(settings, expected_ms):
    app = create_app(base_config(DATABASE_URL=URL, **settings))

    deadlines = ingress_state(app).db_deadlines
    assert deadlines.timeout == expected_ms / 1000
    connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert connect_args["tcp_user_timeout"] == expected_ms


def test_a_suspect_server_gets_a_tenth_of_the_deadline_never_less_than_200_ms():
    assert dbdeadlines.CallDeadlines(12).suspect_timeout == pytest.approx(1.2)
    assert dbdeadlines.CallDeadlines(1).suspect_timeout == pytest.approx(0.2)
    assert dbdeadlines.CallDeadlines(0.1).suspect_timeout == pytest.approx(0.1)


def test_sqlite_gets_no_deadline_watchdog(sqlite_app):
    assert ingress_state(sqlite_app).db_deadlines is None
