"""Migrations: upgrade from empty and downgrade to base, on SQLite and on PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ingress_app import create_app
from ingress_app.extensions import db
from tests.conftest import base_config, create_database, drop_database, new_database_name

SEED_RUN_COLUMNS = {
    "id",
    "run_id",
    "correlation_id",
    "flow_id",
    "tenant_id",
    "user_id",
    "request_id",
    "input_data",
    "flow_definition",
    "status",
    "created_at",
    "updated_at",
    "output_data",
    "error_message",
}
SEED_WEBHOOK_COLUMNS = {
    "id",
    "webhook_id",
    "flow_id",
    "tenant_id",
    "user_id",
    "webhook_config",
    "enabled",
    "created_at",
    "updated_at",
}
SEED_TABLES = {"flow_runs_audit", "webhook_configs"}
OUR_TABLES = {"outbox_messages", "audit_events"}


@contextmanager
def empty_sqlite_app(directory):
    app = create_app(base_config(DATABASE_URL=f"sqlite:///{directory / 'migrations.db'}"))
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@contextmanager
def empty_postgresql_app():
    """An app on a brand-new PostgreSQL database of its own, dropped afterwards."""
    name = new_database_name("migrations_")
    url = create_database(name)
    try:
        app = create_app(base_config(DATABASE_URL=url))
        try:
            yield app
        finally:
            with app.app_context():
                db.engine.dispose()
    finally:
        drop_database(name)


@contextmanager
def empty_app_for(kind: str, directory):
    if kind == "sqlite":
        with empty_sqlite_app(directory) as app:
            yield app
    else:
        with empty_postgresql_app() as app:
            yield app


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    with empty_app_for(request.param, tmp_path) as app:
        yield app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def upgraded_app(request, tmp_path_factory):
    """Upgraded from empty once per module and backend; the tests only inspect it."""
    with empty_app_for(request.param, tmp_path_factory.mktemp("migrations")) as app:
        with app.app_context():
            assert not inspect(db.engine).get_table_names()
            upgrade()
        yield app


def tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def columns(app, table: str) -> dict[str, dict]:
    with app.app_context():
        return {c["name"]: c for c in inspect(db.engine).get_columns(table)}


def test_upgrade_from_empty_creates_the_seed_tables_and_ours(upgraded_app):
    assert SEED_TABLES | OUR_TABLES <= tables(upgraded_app)


def test_upgrade_gives_flow_runs_audit_the_seed_columns(upgraded_app):
    assert SEED_RUN_COLUMNS <= set(columns(upgraded_app, "flow_runs_audit"))


def test_upgrade_gives_webhook_configs_the_seed_columns(upgraded_app):
    assert SEED_WEBHOOK_COLUMNS <= set(columns(upgraded_app, "webhook_configs"))


def test_run_request_ids_are_unique_per_tenant(upgraded_app):
    with upgraded_app.app_context():
        unique = inspect(db.engine).get_unique_constraints("flow_runs_audit")

    assert ["tenant_id", "request_id"] in [u["column_names"] for u in unique]


def test_run_ids_are_unique(upgraded_app):
    with upgraded_app.app_context():
        unique = inspect(db.engine).get_unique_constraints("flow_runs_audit")

    assert ["run_id"] in [u["column_names"] for u in unique]


def test_migrated_schema_matches_the_models(upgraded_app):
    with upgraded_app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, db.metadata)

    assert diff == []


@pytest.mark.parametrize("upgraded_app", ["postgresql"], indirect=True)
def test_postgresql_json_columns_are_jsonb(upgraded_app):
    cols = columns(upgraded_app, "flow_runs_audit")

    for name in ("input_data", "flow_definition", "output_data"):
        assert type(cols[name]["type"]).__name__ == "JSONB", name


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        after_downgrade = tables(empty_app)
        upgrade()

    assert after_downgrade <= {"alembic_version"}
    assert SEED_TABLES | OUR_TABLES <= tables(empty_app)


def test_cli_db_upgrade_creates_the_tables(tmp_path):
    with empty_sqlite_app(tmp_path) as app:
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])

        assert result.exit_code == 0, result.output
        assert "flow_runs_audit" in tables(app)


def test_migrations_have_a_single_head(tmp_path):
    with empty_sqlite_app(tmp_path) as app, app.app_context():
        migrate = app.extensions["migrate"]
        config = migrate.migrate.get_config(migrate.directory)

    heads = ScriptDirectory.from_config(config).get_heads()

    assert len(heads) == 1, heads
