"""Operator commands: `flask --app wsgi webhooks prune|reseal`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

webhooks = AppGroup("webhooks", help="Maintain webhook deliveries and secrets.")


@webhooks.command("prune")
def prune_command() -> None:
    """Delete deliveries last seen more than WEBHOOK_DELIVERY_RETENTION_HOURS ago."""
    from .service import prune_deliveries

    click.echo(f"deleted: {prune_deliveries()}")


@webhooks.command("reseal")
def reseal_command() -> None:
    """Encrypt every stored secret with the first key of WEBHOOK_SECRET_KEY."""
    from .crypto import secret_box
    from .service import reseal_secrets

    if not secret_box().encrypts:
        raise click.ClickException("WEBHOOK_SECRET_KEY is not set")
    click.echo(f"resealed: {reseal_secrets()}")
