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
def issue_token_command(tenant: str, user: str, minutes: int | None) -> None:
    """Print a signed access token for USER in TENANT."""
    from .auth import issue_token

    click.echo(issue_token(tenant, user, minutes))


def register_cli(app: Flask) -> None:
    app.cli.add_command(tokens)
