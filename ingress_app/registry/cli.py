"""`flask --app wsgi flows register FILE…`: ship flow definitions from a repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import AppGroup

from ..body import iter_strings

flows = AppGroup("flows", help="Register flow definitions in the flow registry.")


def _json_compatible(value: Any) -> Any:
    """YAML may hold dates and other non-JSON values; store them as JSON would."""
    return json.loads(json.dumps(value, default=str))


def _contains_nul(value: Any) -> bool:
    return any("\x00" in item for item in iter_strings(value))


def load_flow_file(path: Path) -> dict[str, Any]:
    """Read a flow from JSON (`.json`) or YAML (anything else; YAML reads JSON too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(
            f"{path}: not valid {path.suffix[1:] or 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: must hold one flow (an object)")
    data = _json_compatible(data)
    if _contains_nul(data):
        raise click.ClickException(f"{path}: NUL characters are not allowed")
    return data


def _describe_error(exc) -> str:
    detail = exc.detail
    if isinstance(detail, dict) and "problems" in detail:
        return "\n".join(f"  {p['path']}: {p['message']}" for p in detail["problems"])
    if isinstance(detail, dict) and "violations" in detail:
        return "\n".join(
            f"  {v['policy']}"
            + (f" (task {v['task_id']})" if v.get("task_id") else "")
            + f": {v['message']}"
            for v in detail["violations"]
        )
    return f"  {detail}"


@flows.command("register")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--tenant", required=True, help="Tenant the flows belong to.")
@click.option("--user", default="cli", show_default=True, help="Recorded as the registrant.")
def register_command(files: tuple[Path, ...], tenant: str, user: str) -> None:
    """Register the flow in each FILE (.json, .yaml/.yml) for TENANT.

    Exits 0 when every file is registered or already registered unchanged, 1 otherwise.
    """
    from ..auth import Principal
    from ..errors import ApiError
    from . import service

    principal = Principal(user_id=user, tenant_id=tenant)
    failed = 0
    for path in files:
        try:
            outcome = service.register_flow(load_flow_file(path), principal)
        except click.ClickException as exc:
            click.echo(f"error: {exc.message}", err=True)
            failed += 1
            continue
        except ApiError as exc:
            click.echo(f"{path}: {exc.error}\n{_describe_error(exc)}", err=True)
            failed += 1
            continue
        stored = outcome.version
        state = "registered" if outcome.created else "unchanged"
        click.echo(f"{path}: {stored['flow_id']} version {stored['version']} {state}")
    if failed:
        raise SystemExit(1)
