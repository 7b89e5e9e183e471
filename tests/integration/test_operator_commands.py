"""What an operator runs: `policies check` when the configured file is broken, startup
failures as one line, `kafka init-topics` against a real broker, and the `ingress`
command from any directory.

The commands run as an operator runs them (a subprocess: `flask --app wsgi`, gunicorn,
`python -m ingress_app`), except `kafka init-topics`, which goes through the app's CLI
runner so the test can point it at fresh topic names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.conftest import JWT_SECRET, base_config
from tests.support.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
BROKEN = "version: 1\npolicies:\n  retry_limit: {max_retries: [\n"  # YAML error on line 4
GOOD = "version: 1\npolicies:\n  tenant_isolation: {}\n  retry_limit: {max_retries: 5}\n"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """An environment of the embedded default in a temp folder, nothing from the caller's
    Ingress settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INGRESS_", "JWT_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "POLICIES_FILE"):
        clean.pop(name, None)
    clean.update(
        INGRESS_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'ingress.db'}",
        LOG_FORMAT="json",
    )
    return clean


@pytest.fixture
def broken_file(tmp_path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(BROKEN)
    return path


@pytest.fixture
def good_file(tmp_path) -> Path:
    path = tmp_path / "fixed.yaml"
    path.write_text(GOOD)
    return path


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 60):
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def plain_lines(stderr: str) -> list[str]:
    """What stderr says besides JSON log records (installed plugins may log at startup)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def ingress(*args: str) -> list[str]:
    return [sys.executable, "-m", "ingress_app", *args]


# ------------------------------------------------------------------ policies check


def test_policies_check_of_a_fixed_file_works_while_the_configured_one_is_broken(
    env, broken_file, good_file
):
    env["POLICIES_FILE"] = str(broken_file)

    result = run(flask("policies", "check", str(good_file)), env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{good_file}: OK"
    assert "Traceback" not in result.stderr


def test_policies_check_without_a_file_names_the_broken_configured_file_and_line(env, broken_file):
    env["POLICIES_FILE"] = str(broken_file)

    result = run(flask("policies", "check"), env)

    assert result.returncode == 1
    (line,) = plain_lines(result.stderr)
    assert line.startswith(f"error: {broken_file}:4: invalid YAML")
    assert "OK" not in result.stdout


def test_ingress_policies_check_works_from_any_directory(env, broken_file, good_file, tmp_path):
    env["POLICIES_FILE"] = str(broken_file)

    result = run(ingress("policies", "check", str(good_file)), env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{good_file}: OK")


def test_checking_a_file_leaves_no_last_good_copy_behind(env, broken_file, good_file, tmp_path):
    env["POLICIES_FILE"] = str(broken_file)
    run(flask("policies", "check", str(good_file)), env)

    assert not (tmp_path / "instance" / "policies.last-good.yaml").exists()
    result = run(flask("tokens", "issue", "--tenant", "t", "--user", "u"), env)
    assert result.returncode == 4  # the broken file still stops everything else


# ------------------------------------------------------------------ one-line startup errors


def one_line(stderr: str) -> str:
    """The single `ingress: cannot start:` line; no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("ingress: cannot start:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_command_with_a_broken_policies_file_prints_one_line_and_exits_4(env, broken_file):
    env["POLICIES_FILE"] = str(broken_file)

    result = run(flask("outbox", "status"), env)

    assert result.returncode == 4
    assert one_line(result.stderr).startswith(
        f"ingress: cannot start: {broken_file}:4: invalid YAML"
    )
    assert plain_lines(result.stderr) == [one_line(result.stderr)]


def gunicorn(env: dict[str, str]):
    env = {**env, "API_HOST": "127.0.0.1", "API_PORT": str(free_port()), "API_WORKERS": "1"}
    return run([sys.executable, "-m", "gunicorn", "wsgi:app"], env, timeout=60)


def test_gunicorn_with_a_broken_policies_file_stops_with_one_line(env, broken_file):
    env.update(POLICIES_FILE=str(broken_file), JWT_SECRET_KEY=JWT_SECRET)

    result = gunicorn(env)

    assert result.returncode == 4  # the master stops; no endless worker restarts
    assert one_line(result.stderr).startswith(f"ingress: cannot start: {broken_file}:4: ")


def test_gunicorn_without_a_secret_stops_with_one_line_naming_the_setting(env):
    result = gunicorn(env)  # gunicorn.conf.py: production, so the secret is required

    assert result.returncode == 4
    assert "JWT_SECRET_KEY" in one_line(result.stderr)


def test_an_unreachable_database_is_one_line_without_the_password(env, tmp_path):
    env.update(DATABASE_URL=f"postgresql://ingress:s3cret-pw@127.0.0.1:{free_port()}/ingress")

    result = run(ingress("db", "upgrade"), env, cwd=tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = plain_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot use the database (DATABASE_URL=postgresql")
    assert "Connection refused" in lines[0] or "connection" in lines[0].lower()
    assert "s3cret-pw" not in result.stderr


# ------------------------------------------------------------------ the ingress command


def test_ingress_runs_migrations_from_any_directory(env, tmp_path):
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()

    result = run(ingress("db", "upgrade"), env, cwd=workdir)

    assert result.returncode == 0, result.stderr
    current = run(ingress("db", "current"), env, cwd=workdir)
    assert current.returncode == 0 and "(head)" in current.stdout, current.stderr


def test_ingress_issues_tokens_like_flask_app_wsgi(env, tmp_path):
    env["JWT_SECRET_KEY"] = JWT_SECRET

    result = run(
        ingress("tokens", "issue", "--tenant", "acme", "--user", "alice"), env, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    import jwt

    claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"])
    assert (claims["tenant_id"], claims["sub"]) == ("acme", "alice")


# ------------------------------------------------------------------ kafka init-topics


@pytest.fixture
def topic_names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"init_runs_{suffix}", f"init_events_{suffix}"


def init_topics_runner(sqlite_path: Path, bootstrap: str, topics: tuple[str, str]):
    from ingress_app import create_app

    app = create_app(
        base_config(
            DATABASE_URL=f"sqlite:///{sqlite_path}",
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            KAFKA_TOPIC_FLOW_RUNS=topics[0],
            KAFKA_TOPIC_RUN_EVENTS=topics[1],
        )
    )
    return app.test_cli_runner()


def partitions_of(bootstrap: str, names: tuple[str, ...]) -> dict[str, int]:
    """Partition counts as the broker reports them (all topics: creates nothing)."""
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return {name: len(topics[name].partitions) for name in names if name in topics}


def test_init_topics_creates_both_topics_then_changes_nothing(kafka_broker, topic_names, tmp_path):
    runner = init_topics_runner(tmp_path / "x.db", kafka_broker.bootstrap, topic_names)
    assert partitions_of(kafka_broker.bootstrap, topic_names) == {}

    first = runner.invoke(
        args=[
            "kafka",
            "init-topics",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=3600000",
        ]
    )

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [f"{name}: created (3 partitions)" for name in topic_names]
    assert partitions_of(kafka_broker.bootstrap, topic_names) == dict.fromkeys(topic_names, 3)

    again = runner.invoke(args=["kafka", "init-topics", "--partitions", "5"])

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [f"{name}: exists (3 partitions)" for name in topic_names]
    assert partitions_of(kafka_broker.bootstrap, topic_names) == dict.fromkeys(topic_names, 3)


def test_init_topics_creates_only_the_missing_one(kafka_broker, topic_names, tmp_path):
    from tests.support.kafka import create_topic

    create_topic(kafka_broker.bootstrap, topic_names[0], partitions=2)
    runner = init_topics_runner(tmp_path / "x.db", kafka_broker.bootstrap, topic_names)

    result = runner.invoke(args=["kafka", "init-topics", "--partitions", "4"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{topic_names[0]}: exists (2 partitions)",
        f"{topic_names[1]}: created (4 partitions)",
    ]


def test_init_topics_with_an_unreachable_broker_fails_within_its_timeout(topic_names, tmp_path):
    import time

    runner = init_topics_runner(tmp_path / "x.db", f"127.0.0.1:{free_port()}", topic_names)

    started = time.monotonic()
    result = runner.invoke(args=["kafka", "init-topics", "--timeout", "1"])

    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert "cannot reach Kafka (KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:" in result.output


def test_init_topics_refuses_a_replication_factor_of_0(topic_names, tmp_path):
    runner = init_topics_runner(tmp_path / "x.db", "127.0.0.1:9", topic_names)

    result = runner.invoke(args=["kafka", "init-topics", "--replication-factor", "0"])

    assert result.exit_code == 2
    assert "--replication-factor" in result.output


def test_init_topics_refuses_a_config_that_is_not_key_value(topic_names, tmp_path):
    runner = init_topics_runner(tmp_path / "x.db", "127.0.0.1:9", topic_names)

    result = runner.invoke(args=["kafka", "init-topics", "--config", "retention.ms"])

    assert result.exit_code == 2
    assert "'retention.ms' is not KEY=VALUE" in result.output
