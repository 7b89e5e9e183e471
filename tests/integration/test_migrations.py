"""Migrations: upgrade from empty and downgrade to base, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ingress_app import create_app
from tests.conftest import POSTGRES_ADMIN_URL, base_config, service_missing

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
OUR_TABLES = {"outbox_messages", "audit_events"}


@pytest.fixture
def sqlite_empty_app(tmp_path):
    app = create_app(base_config(DATABASE_URL=f"sqlite:///{tmp_path / 'migrations.db'}"))
    yield app
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()


@pytest.fixture
def postgresql_empty_app():
    name = f"ingress_migrations_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        service_missing("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    app = create_app(base_config(DATABASE_URL=f"{base}/{name}"))
    yield app
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request):
    return request.getfixturevalue(f"{request.param}_empty_app")


def tables(app) -> set[str]:
    from ingress_app.extensions import db

    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def columns(app, table: str) -> dict[str, dict]:
    from ingress_app.extensions import db

    with app.app_context():
        return {c["name"]: c for c in inspect(db.engine).get_columns(table)}


def test_upgrade_from_empty_creates_the_seed_tables_and_ours(empty_app):
    assert tables(empty_app) == set()

    with empty_app.app_context():
        upgrade()

    created = tables(empty_app)
    assert {"flow_runs_audit", "webhook_configs"} | OUR_TABLES <= created


def test_upgrade_gives_flow_runs_audit_the_seed_columns(empty_app):
    with empty_app.app_context():
        upgrade()

    assert SEED_RUN_COLUMNS <= set(columns(empty_app, "flow_runs_audit"))


def test_upgrade_gives_webhook_configs_the_seed_columns(empty_app):
    with empty_app.app_context():
        upgrade()

    assert SEED_WEBHOOK_COLUMNS <= set(columns(empty_app, "webhook_configs"))


def test_run_request_ids_are_unique_per_tenant(empty_app):
    from ingress_app.extensions import db

    with empty_app.app_context():
        upgrade()
        unique = inspect(db.engine).get_unique_constraints("flow_runs_audit")

    assert ["tenant_id", "request_id"] in [u["column_names"] for u in unique]


def test_downgrade_to_base_removes_every_table(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")

    assert tables(empty_app) <= {"alembic_version"}


def test_upgrade_after_downgrade_works_again(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()

    assert {"flow_runs_audit", "webhook_configs"} | OUR_TABLES <= tables(empty_app)


def test_cli_db_upgrade_creates_the_tables(sqlite_empty_app):
    result = sqlite_empty_app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert "flow_runs_audit" in tables(sqlite_empty_app)


def test_postgresql_json_columns_are_jsonb(postgresql_empty_app):
    with postgresql_empty_app.app_context():
        upgrade()

    cols = columns(postgresql_empty_app, "flow_runs_audit")
    for name in ("input_data", "flow_definition", "output_data"):
        assert type(cols[name]["type"]).__name__ == "JSONB", name


def test_migrations_have_a_single_head(sqlite_empty_app):
    migrate = sqlite_empty_app.extensions["migrate"]
    with sqlite_empty_app.app_context():
        config = migrate.migrate.get_config(migrate.directory)

    heads = ScriptDirectory.from_config(config).get_heads()

    assert len(heads) == 1, heads


def test_migrated_schema_matches_the_models(empty_app):
    from ingress_app.extensions import db

    with empty_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(context, db.metadata)

    assert diff == []
