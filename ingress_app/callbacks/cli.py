"""Operator commands: `flask --app wsgi callbacks relay|status|failed|retry`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

callbacks = AppGroup("callbacks", help="Send, inspect and retry callbacks.")


@callbacks.command("relay")
@click.option("--once", is_flag=True, help="Send what is due now, wait for the answers, exit.")
def callbacks_relay_command(once: bool) -> None:
    """Send due callbacks until stopped (SIGTERM/SIGINT)."""
    import signal

    from .relay import CallbackRelay

    relay = CallbackRelay(current_app._get_current_object())
    if once:
        total = 0
        while (count := relay.send_due()) > 0:
            total += count
            relay.drain()
        relay.drain()
        relay.close()
        click.echo(f"sent: {total}")
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: relay.stop_event.set())
    click.echo("callbacks relay running; Ctrl-C to stop", err=True)
    relay.run_forever()


@callbacks.command("status")
def callbacks_status_command() -> None:
    """Print how many callbacks wait, and how many were dead-lettered."""
    from .service import callback_status

    status = callback_status()
    age = status["oldest_pending_age_seconds"]
    click.echo(f"pending: {status['pending']}")
    click.echo(f"oldest pending age: {'-' if age is None else f'{age:.1f}s'}")
    click.echo(f"failed: {status['failed']}")


@callbacks.command("failed")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
def callbacks_failed_command(limit: int) -> None:
    """List dead-lettered callbacks (retries ran out, or the URL was refused), oldest first."""
    from .service import failed_deliveries

    rows = failed_deliveries(limit)
    if not rows:
        click.echo("no dead-lettered callbacks")
        return
    for row in rows:
        click.echo(
            f"{row['id']}\ttenant={row['tenant_id']}\trun={row['run_id']}\ttype={row['type']}"
            f"\tattempts={row['attempts']}\tstatus={row['last_status_code']}"
            f"\tfailed_at={row['failed_at'].isoformat()}\terror={row['last_error']}"
        )


@callbacks.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Requeue every dead-lettered callback.")
def callbacks_retry_command(ids: tuple[int, ...], everything: bool) -> None:
    """Requeue dead-lettered callbacks IDS (or --all), with a fresh retry window."""
    from .service import requeue

    if bool(ids) == everything:
        raise click.UsageError("give callback ids or --all (not both)")
    requeued = requeue(None if everything else list(ids))
    missing = sorted(set(ids) - set(requeued))
    click.echo(f"requeued: {len(requeued)}")
    if missing:
        raise click.ClickException(
            f"not dead-lettered (or no such callback): {', '.join(map(str, missing))}"
        )
