"""Operator commands: `flask --app wsgi tokens issue ...` and friends."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

tokens = AppGroup("tokens", help="Issue access tokens.")


@tokens.command("issue")
@click.option("--tenant", required=True, help="Tenant the token acts for (claim tenant_id).")
@click.option("--user", required=True, help="User id (claim sub).")
@click.option(
    "--minutes",
    type=click.IntRange(1, 60 * 24 * 366),
    default=None,
    help="Lifetime; default JWT_EXPIRE_MINUTES.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope the token carries (repeatable, or space-separated: 'runs:read runs:write');"
    " without it the token has no scope claim and gets JWT_DEFAULT_SCOPES.",
)
def issue_token_command(
    tenant: str, user: str, minutes: int | None, scopes: tuple[str, ...]
) -> None:
    """Print a signed access token for USER in TENANT."""
    from flask import current_app

    from .auth import ALL_SCOPES, issue_token, parse_scopes

    claims = {}
    if scopes:
        wanted = parse_scopes(" ".join(scopes))
        unknown = wanted - ALL_SCOPES
        if unknown:
            raise click.BadParameter(
                f"unknown scope {sorted(unknown)[0]!r} (known: {', '.join(sorted(ALL_SCOPES))})",
                param_hint="'--scope'",
            )
        claims["scope"] = " ".join(sorted(wanted))

    ceiling = int(current_app.config["JWT_MAX_TOKEN_LIFETIME"])
    lifetime = 60 * (minutes or int(current_app.config["JWT_EXPIRE_MINUTES"]))
    if 0 < ceiling < lifetime:
        raise click.UsageError(
            f"a {lifetime} s token would be refused: JWT_MAX_TOKEN_LIFETIME is {ceiling} s"
        )
    click.echo(issue_token(tenant, user, minutes, **claims))


outbox = AppGroup("outbox", help="Inspect and publish the outbox.")
events = AppGroup("events", help="Consume the orchestrator's status events.")


def _stop_on_signals(stop) -> None:
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())


@outbox.command("status")
def outbox_status_command() -> None:
    """Print the pending count and the oldest pending message's age."""
    from flask import current_app

    from .outbox.health import outbox_status

    status = outbox_status(current_app._get_current_object())
    age = status["oldest_pending_age_seconds"]
    click.echo(f"pending: {status['pending']}")
    click.echo(f"oldest pending age: {'-' if age is None else f'{age:.1f}s'}")
    kafka = current_app.config.get("KAFKA_BOOTSTRAP_SERVERS") or "not configured (messages wait)"
    click.echo(f"kafka: {kafka}")


_METRICS_PORT = click.option(
    "--metrics-port", type=int, default=None, envvar="METRICS_PORT",
    help="Serve this process's Prometheus metrics on this port.",
)


def _serve_metrics(port: int | None) -> None:
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)
        click.echo(f"metrics on :{port}/metrics", err=True)


@outbox.command("relay")
@click.option("--once", is_flag=True, help="Publish what is pending now, then exit.")
@_METRICS_PORT
def outbox_relay_command(once: bool, metrics_port: int | None) -> None:
    """Publish pending messages to Kafka until stopped (SIGTERM/SIGINT)."""
    from flask import current_app

    from .outbox.relay import OutboxRelay

    app = current_app._get_current_object()
    if not app.config.get("KAFKA_BOOTSTRAP_SERVERS"):
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set")
    relay = OutboxRelay(app)
    if once:
        total = 0
        # until nothing is due, or Kafka failed a batch that delivered nothing (retried later)
        while (count := relay.publish_batch()) > 0 or (
            relay.last_claimed and not relay.last_retried
        ):
            total += count
        relay.close()
        click.echo(f"published: {total}")
        return
    from .callbacks.relay import start_background_callbacks, stop_background_callbacks

    _stop_on_signals(relay.stop_event.set)
    _serve_metrics(metrics_port)
    start_background_callbacks(app)  # callbacks are sent next to it, by threads of their own
    click.echo("outbox relay running; Ctrl-C to stop", err=True)
    relay.run_forever()
    stop_background_callbacks(app)


@outbox.command("prune")
def outbox_prune_command() -> None:
    """Delete published messages older than OUTBOX_RETENTION_HOURS (and old webhook
    deliveries and audit events, as the relays do)."""
    from flask import current_app

    from .retention import prune_retained

    counts = prune_retained(current_app._get_current_object())
    click.echo(f"deleted: {counts.pop('outbox_messages')}")
    for table, count in counts.items():
        click.echo(f"deleted {table}: {count}")


@outbox.command("failed")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
def outbox_failed_command(limit: int) -> None:
    """List dead-lettered messages (Kafka refused them for good), oldest first."""
    from flask import current_app

    from .outbox.dead_letters import failed_messages

    rows = failed_messages(current_app._get_current_object(), limit)
    if not rows:
        click.echo("no dead-lettered messages")
        return
    for row in rows:
        click.echo(
            f"{row['id']}\ttenant={row['tenant_id']}\trun={row['run_id']}\ttype={row['type']}"
            f"\tattempts={row['attempts']}\tfailed_at={row['failed_at'].isoformat()}"
            f"\terror={row['last_error']}"
        )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Requeue every dead-lettered message.")
def outbox_retry_command(ids: tuple[int, ...], everything: bool) -> None:
    """Requeue dead-lettered messages IDS (or --all) after fixing what refused them."""
    from flask import current_app

    from .outbox.dead_letters import requeue

    if bool(ids) == everything:
        raise click.UsageError("give message ids or --all (not both)")
    requeued = requeue(current_app._get_current_object(), None if everything else ids)
    missing = sorted(set(ids) - set(requeued))
    click.echo(f"requeued: {len(requeued)}")
    if missing:
        raise click.ClickException(
            f"not dead-lettered (or no such message): {', '.join(map(str, missing))}"
        )


@events.command("consume")
@click.option("--max-messages", type=int, default=None, help="Stop after this many messages.")
@_METRICS_PORT
def events_consume_command(max_messages: int | None, metrics_port: int | None) -> None:
    """Apply run status events from KAFKA_TOPIC_RUN_EVENTS until stopped."""
    from flask import current_app

    from .runs.consumer import RunEventConsumer

    app = current_app._get_current_object()
    if not app.config.get("KAFKA_BOOTSTRAP_SERVERS"):
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set")
    consumer = RunEventConsumer(app)
    _stop_on_signals(consumer.stop)
    _serve_metrics(metrics_port)
    click.echo(f"consuming {app.config['KAFKA_TOPIC_RUN_EVENTS']}; Ctrl-C to stop", err=True)
    counts = consumer.run(max_messages=max_messages)
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no events")


kafka = AppGroup("kafka", help="Prepare Kafka for Ingress.")


@kafka.command("init-topics")
@click.option(
    "--partitions", type=click.IntRange(1, 100_000), default=6, show_default=True,
    help="Partitions of each topic created (the most consumers of a group that get work).",
)
@click.option(
    "--replication-factor", type=click.IntRange(min=-1), default=-1,
    help="Copies of each partition; 3 in production. Default: the broker's"
    " default.replication.factor.",
)
@click.option(
    "--config", "topic_config", multiple=True, metavar="KEY=VALUE",
    help="A topic setting for the topics created, e.g. min.insync.replicas=2 (repeatable).",
)
@click.option(
    "--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
    help="Seconds to wait for the broker, per step.",
)
def kafka_init_topics_command(
    partitions: int, replication_factor: int, topic_config: tuple[str, ...], timeout: float
) -> None:
    """Create KAFKA_TOPIC_FLOW_RUNS and KAFKA_TOPIC_RUN_EVENTS where missing (idempotent)."""
    from flask import current_app

    from .outbox.topics import TopicsError, ensure_topics

    cfg = current_app.config
    if not cfg.get("KAFKA_BOOTSTRAP_SERVERS"):
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set")
    if replication_factor == 0:
        raise click.BadParameter(
            "must be at least 1 (or -1: the broker's default)", param_hint="'--replication-factor'"
        )
    settings = {}
    for item in topic_config:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="'--config'")
        settings[key.strip()] = value.strip()
    topics = [cfg["KAFKA_TOPIC_FLOW_RUNS"], cfg["KAFKA_TOPIC_RUN_EVENTS"]]
    try:
        states = ensure_topics(
            cfg, topics, partitions=partitions, replication_factor=replication_factor,
            topic_config=settings, timeout=timeout,
        )
    except TopicsError as exc:
        raise click.ClickException(str(exc)) from None
    for state in states:
        verb = "created" if state.created else "exists"
        click.echo(f"{state.name}: {verb} ({state.partitions} partitions)")


policies = AppGroup("policies", help="Validate and inspect policies.yaml.")


@policies.command("check", with_appcontext=False)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def policies_check_command(file: str | None) -> None:
    """Validate FILE (default POLICIES_FILE) and load its plugins, without serving.

    Works when the configured POLICIES_FILE is itself broken: the app is built with
    the built-in defaults for the check, so a fixed copy can be checked before it
    replaces the broken one (and the broken one's error is shown when FILE is omitted).
    """
    import json

    from flask.cli import ScriptInfo

    from .config import ConfigError
    from .policies.config import load_policy_file
    from .policies.runtime import broken_policies_file_tolerated, build_engine

    try:
        with broken_policies_file_tolerated():
            app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        path = file or app.config["POLICIES_FILE"]
        with app.app_context():
            engine = build_engine(app, load_policy_file(path))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{path}: OK")
    loaded = engine.plugins.manager.list_name_plugin()
    click.echo(f"plugins: {', '.join(sorted(name for name, plugin in loaded if plugin))}")
    disabled = sorted(name for name, plugin in loaded if plugin is None)
    if disabled:
        click.echo(f"plugins disabled: {', '.join(disabled)}")
    click.echo(f"policies available: {', '.join(sorted(engine.plugins.policies))}")
    click.echo(f"webhook sources available: {', '.join(sorted(engine.plugins.adapters))}")
    click.echo(f"defaults: {json.dumps(engine.describe('*')['policies'], sort_keys=True)}")
    for tenant in sorted(engine.tenant_chains):
        described = engine.describe(tenant)
        click.echo(
            f"tenant {tenant}: {json.dumps(described['policies'], sort_keys=True)}"
            f" rate_limit={described['rate_limit']} sources={','.join(described['webhook_sources'])}"
        )


@policies.command("diff", with_appcontext=False)
@click.argument("candidate", type=click.Path(dir_okay=False))
@click.option(
    "--since", default="7d", show_default=True,
    help="Runs created since: a duration ago (7d, 24h, 30m) or an ISO date.",
)
@click.option("--tenant", default=None, help="Only this tenant's runs.")
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text",
    show_default=True,
)
@click.option(
    "--fail-on-deny", is_flag=True,
    help="Exit with status 3 when a run accepted in the window would be denied.",
)
@click.option("--examples", type=click.IntRange(0, 100), default=5, show_default=True)
def policies_diff_command(
    candidate: str, since: str, tenant: str | None, output: str, fail_on_deny: bool,
    examples: int,
) -> None:
    """Replay recent runs against CANDIDATE and report what would change.

    Per tenant: runs that would flip from accepted to denied, runs that would be
    modified differently, and denied requests that might be accepted now, with example
    ids. Reads only; works when the configured POLICIES_FILE is broken (its last good
    copy, or the built-in defaults, stand for the current policies, as when serving).
    """
    import json

    from flask.cli import ScriptInfo

    from .config import ConfigError
    from .policies.config import load_policy_file
    from .policies.preview import diff_policies, parse_since, render_text
    from .policies.runtime import broken_policies_file_tolerated, build_engine
    from .state import ingress_state

    try:
        window = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None
    try:
        with broken_policies_file_tolerated():
            app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        with app.app_context():
            candidate_engine = build_engine(app, load_policy_file(candidate))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    runtime = ingress_state(app).policies
    if runtime.error:
        click.echo(f"warning: the configured policies file is rejected ({runtime.error}); "
                   f"comparing with {runtime.source}", err=True)
    with app.app_context():
        report = diff_policies(runtime.engine, candidate_engine, window, tenant, examples)
    if output == "json":
        body = {"current": runtime.source, "candidate": candidate, **report.as_dict()}
        click.echo(json.dumps(body, indent=2, sort_keys=True, default=str))
    else:
        click.echo(render_text(report, runtime.source, candidate))
    if fail_on_deny and report.flips:
        raise SystemExit(3)


@policies.command("show")
@click.option("--tenant", required=True, help="Tenant id.")
def policies_show_command(tenant: str) -> None:
    """Print the effective policies of TENANT as JSON."""
    import json

    from .policies.runtime import policy_engine

    click.echo(json.dumps(policy_engine().describe(tenant), indent=2, sort_keys=True))


def register_cli(app: Flask) -> None:
    from .callbacks.cli import callbacks
    from .registry.cli import flows

    for group in (tokens, outbox, events, kafka, policies, flows, callbacks):
        app.cli.add_command(group)
