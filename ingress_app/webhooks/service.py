"""Webhook configurations: create, read, change, delete, rotate the secret; list a
webhook's deliveries; prune deliveries and reseal secrets (operator commands).

The intake that turns deliveries into runs is `webhooks.intake`.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for

from ..audit import service as audit
from ..auth import Principal
from ..callbacks.service import check_callback_url
from ..config import ConfigError, is_production
from ..db_types import utcnow
from ..errors import ApiError, NotFound, ValidationFailed
from ..extensions import db
from ..flows import FlowValidationError, inputs, parse_flow
from ..pagination import page, paginate
from ..policies.runtime import policy_engine
from ..registry.service import resolve_registered_flow
from . import store
from .crypto import generate_secret, secret_box
from .models import DeliveryRecord, WebhookConfig
from .payloads import compile_filter, compile_mapping

log = logging.getLogger(__name__)

CONFIG_CREATED = "webhook_config.created"
CONFIG_UPDATED = "webhook_config.updated"
CONFIG_DELETED = "webhook_config.deleted"
SECRET_ROTATED = "webhook_config.secret_rotated"
RESOURCE = "webhook_config"


# --------------------------------------------------------------------------- configs


def new_webhook_id() -> str:
    return "wh_" + secrets.token_urlsafe(18)


def intake_url(webhook_id: str) -> str:
    """Where senders deliver: under `PUBLIC_BASE_URL`. Without it, development uses the
    request's Host header (what `localhost:8000` callers expect) and production gives
    the path alone: a Host header is the caller's to choose, and a URL built from it
    could send a tenant's senders (and their secrets) elsewhere."""
    config = current_app.config
    base = config.get("PUBLIC_BASE_URL")
    if base or is_production(config):
        path = current_app.url_map.bind("").build("webhooks.intake", {"webhook_id": webhook_id})
        return f"{base.rstrip('/')}{path}" if base else path
    return url_for("webhooks.intake", webhook_id=webhook_id, _external=True)


def check_public_base_url(app) -> None:
    """Refuse a `PUBLIC_BASE_URL` that is not an absolute http(s) URL; in production
    without one, say that webhook URLs will be paths only."""
    base = (app.config.get("PUBLIC_BASE_URL") or "").strip()
    app.config["PUBLIC_BASE_URL"] = base
    if not base:
        if is_production(app.config):
            log.warning(
                "PUBLIC_BASE_URL not set: webhook configs show their intake URL as a path only"
            )
        return
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"PUBLIC_BASE_URL={base!r} must be an absolute http(s) URL such as "
            "https://ingress.example.com (no query or fragment)"
        )


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _auth_view(config: WebhookConfig) -> dict[str, Any]:
    return {"type": config.auth_type, **(config.settings.get("auth") or {})}


def config_to_dict(config: WebhookConfig) -> dict[str, Any]:
    settings = config.settings
    expires = config.previous_secret_expires_at
    return {
        "webhook_id": config.webhook_id,
        "url": intake_url(config.webhook_id),
        "flow_id": config.flow_id,
        "flow_version": config.flow_version,
        "flow_definition": settings.get("flow_definition"),
        "source": config.source,
        "auth": _auth_view(config),
        "input_mapping": settings.get("input_mapping"),
        "filter": config.filter,
        "items": settings.get("items"),
        "require_delivery_id": bool(settings.get("require_delivery_id")),
        "callback_url": settings.get("callback_url"),
        "callback_events": settings.get("callback_events"),
        "enabled": config.enabled,
        "description": config.description,
        "created_by": config.user_id,
        "created_at": _iso(config.created_at),
        "updated_at": _iso(config.updated_at),
        "previous_secret_expires_at": _iso(expires) if expires and expires > utcnow() else None,
    }


def _page_of(stmt, time_col, id_col, args: dict[str, Any], to_dict) -> dict[str, Any]:
    """One page of `stmt`, newest first, as `{items, next_cursor}`."""
    rows, next_cursor = paginate(
        db.session, stmt, time_col, id_col, limit=args["limit"], cursor=args.get("cursor")
    )
    items = [to_dict(row) for row in rows]
    db.session.rollback()  # end the read transaction
    return page(items, next_cursor)


def _check_source(source: str, tenant_id: str) -> None:
    engine = policy_engine()
    if source not in engine.plugins.adapters:
        raise ValidationFailed(
            [
                {
                    "path": "source",
                    "message": f"unknown source {source!r} (available: {', '.join(sorted(engine.plugins.adapters))})",
                }
            ]
        )
    enabled = engine.chain(tenant_id).webhook_sources
    if source not in enabled:
        raise ValidationFailed(
            [
                {
                    "path": "source",
                    "message": f"source {source!r} is not enabled for this tenant in policies.yaml "
                    f"(enabled: {', '.join(sorted(enabled)) or 'none'})",
                }
            ]
        )


def _flow_reference(
    tenant_id: str, flow_id: str | None, flow_version: str | None, definition: dict | None
) -> tuple[str, str | None, dict | None]:
    """`(flow_id, flow_version, flow_definition)` of a config: inline, or a registered flow."""
    if definition is not None:
        try:
            flow = parse_flow(definition)
        except FlowValidationError as exc:
            raise ValidationFailed(exc.problems) from None
        if flow.extra.get(inputs.SCHEMA_KEY) is not None:
            problems = inputs.schema_problems(
                flow.extra[inputs.SCHEMA_KEY], f"flow_definition.{inputs.SCHEMA_KEY}"
            )
            if problems:
                raise ValidationFailed(problems)
        if flow_id is not None and flow_id != flow.id:
            raise ValidationFailed(
                [{"path": "flow_id", "message": f"does not match flow_definition.id {flow.id!r}"}]
            )
        if flow_version is not None:
            raise ValidationFailed(
                [
                    {
                        "path": "flow_version",
                        "message": "pins a registry version; it cannot go with flow_definition",
                    }
                ]
            )
        return flow.id, None, definition
    if flow_id is None:
        raise ValidationFailed(
            [{"path": "flow_id", "message": "give flow_id (registry) or flow_definition (inline)"}]
        )
    if resolve_registered_flow(tenant_id, flow_id, flow_version) is None:
        what = f"flow {flow_id!r}" + (f" version {flow_version!r}" if flow_version else "")
        raise NotFound(f"{what} is not registered for this tenant")
    return flow_id, flow_version, None


def _auth_settings(auth: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    auth = dict(auth)
    return auth.pop("type", "standard-webhooks"), auth


def _find_config(tenant_id: str, webhook_id: str, *, lock: bool = False) -> WebhookConfig:
    stmt = db.select(WebhookConfig).where(
        WebhookConfig.webhook_id == webhook_id,
        WebhookConfig.tenant_id == tenant_id,
        WebhookConfig.deleted_at.is_(None),
    )
    if lock:
        stmt = stmt.with_for_update()
    config = db.session.execute(stmt).scalar_one_or_none()
    if config is None:
        db.session.rollback()
        raise NotFound(f"webhook {webhook_id!r} not found")
    return config


def _audit_config(
    config: WebhookConfig,
    principal: Principal,
    action: str,
    correlation_id: str | None,
    detail: dict[str, Any],
) -> None:
    audit.add_audit_event(
        tenant_id=config.tenant_id,
        actor=principal.user_id,
        action=action,
        outcome="succeeded",
        resource_type=RESOURCE,
        resource_id=config.webhook_id,
        correlation_id=correlation_id,
        detail=detail,
    )


def create_config(data: dict[str, Any], principal: Principal, correlation_id: str | None) -> dict:
    """Create a webhook; the response carries its secret, this once."""
    tenant_id = principal.tenant_id
    _check_source(data["source"], tenant_id)
    flow_id, flow_version, definition = _flow_reference(
        tenant_id, data.get("flow_id"), data.get("flow_version"), data.get("flow_definition")
    )
    mapping = data.get("input_mapping") or None
    if mapping:
        compile_mapping(mapping)
    if data.get("filter"):
        compile_filter(data["filter"])
    auth_type, auth_options = _auth_settings(data["auth"])
    if data.get("callback_url"):
        check_callback_url(data["callback_url"])
    secret = generate_secret()
    now = utcnow()
    config = WebhookConfig(
        webhook_id=new_webhook_id(),
        flow_id=flow_id,
        tenant_id=tenant_id,
        user_id=principal.user_id,
        webhook_config={
            "auth": auth_options,
            "input_mapping": mapping,
            "flow_definition": definition,
            "items": data.get("items"),
            "require_delivery_id": data.get("require_delivery_id", False),
            "callback_url": data.get("callback_url"),
            "callback_events": data.get("callback_events"),
        },
        enabled=data["enabled"],
        created_at=now,
        updated_at=now,
        source=data["source"],
        flow_version=flow_version,
        auth_type=auth_type,
        secret=secret_box().seal(secret),
        description=data.get("description"),
        filter=data.get("filter"),
    )
    db.session.add(config)
    _audit_config(
        config,
        principal,
        CONFIG_CREATED,
        correlation_id,
        {
            "flow_id": flow_id,
            "flow_version": flow_version,
            "source": config.source,
            "auth_type": auth_type,
            "enabled": config.enabled,
        },
    )
    body = config_to_dict(config)
    db.session.commit()
    log.info("webhook created", extra={"webhook_id": config.webhook_id, "tenant_id": tenant_id})
    return {**body, "secret": secret}


def get_config(tenant_id: str, webhook_id: str) -> dict[str, Any]:
    body = config_to_dict(_find_config(tenant_id, webhook_id))
    db.session.rollback()
    return body


def list_configs(tenant_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """The tenant's webhooks, newest first."""
    stmt = db.select(WebhookConfig).where(
        WebhookConfig.tenant_id == tenant_id, WebhookConfig.deleted_at.is_(None)
    )
    if args.get("source"):
        stmt = stmt.where(WebhookConfig.source == args["source"])
    if args.get("enabled") is not None:
        stmt = stmt.where(WebhookConfig.enabled == args["enabled"])
    return _page_of(stmt, WebhookConfig.created_at, WebhookConfig.id, args, config_to_dict)


def update_config(
    webhook_id: str, data: dict[str, Any], principal: Principal, correlation_id: str | None
) -> dict[str, Any]:
    """Change a webhook's settings (never its secret: rotate that)."""
    config = _find_config(principal.tenant_id, webhook_id, lock=True)
    try:
        settings = dict(config.settings)
        if "source" in data:
            _check_source(data["source"], config.tenant_id)
            config.source = data["source"]
        if "auth" in data:
            config.auth_type, settings["auth"] = _auth_settings(data["auth"])
        if {"flow_id", "flow_version", "flow_definition"} & set(data):
            inline = settings.get("flow_definition")
            definition = data.get("flow_definition", None if "flow_id" in data else inline)
            if definition is None:  # a registry reference: the given id, or the current one
                flow_id = data.get("flow_id", config.flow_id)
                version = data.get(
                    "flow_version", None if "flow_id" in data or inline else config.flow_version
                )
            else:
                flow_id, version = data.get("flow_id"), data.get("flow_version")
            config.flow_id, config.flow_version, settings["flow_definition"] = _flow_reference(
                config.tenant_id, flow_id, version, definition
            )
        if "input_mapping" in data:
            mapping = data["input_mapping"] or None
            if mapping:
                compile_mapping(mapping)
            settings["input_mapping"] = mapping
        if "filter" in data:
            if data["filter"]:
                compile_filter(data["filter"])
            config.filter = data["filter"]
        if data.get("callback_url"):
            check_callback_url(data["callback_url"])
        for name in ("items", "require_delivery_id", "callback_url", "callback_events"):
            if name in data:
                settings[name] = data[name]
        if "enabled" in data:
            config.enabled = data["enabled"]
        if "description" in data:
            config.description = data["description"]
    except ApiError:
        db.session.rollback()
        raise
    config.webhook_config = settings  # a new object, so the JSON column is written
    config.updated_at = utcnow()
    _audit_config(config, principal, CONFIG_UPDATED, correlation_id, {"changed": sorted(data)})
    body = config_to_dict(config)
    db.session.commit()
    return body


def delete_config(webhook_id: str, principal: Principal, correlation_id: str | None) -> None:
    """Delete a webhook: its URL answers 404 from now on and its secrets are erased.

    The row stays (marked deleted) so its deliveries and audit events keep their meaning.
    """
    config = _find_config(principal.tenant_id, webhook_id, lock=True)
    now = utcnow()
    config.deleted_at = config.updated_at = now
    config.enabled = False
    config.secret = config.previous_secret = config.previous_secret_expires_at = None
    _audit_config(config, principal, CONFIG_DELETED, correlation_id, {})
    db.session.commit()


def rotate_secret(
    webhook_id: str,
    principal: Principal,
    correlation_id: str | None,
    grace_seconds: int | None = None,
) -> dict[str, Any]:
    """A new secret; the current one keeps working for `grace_seconds` (the one before
    that stops at once)."""
    config = _find_config(principal.tenant_id, webhook_id, lock=True)
    if grace_seconds is None:
        grace_seconds = int(current_app.config["WEBHOOK_SECRET_GRACE_SECONDS"])
    box = secret_box()
    secret = generate_secret()
    now = utcnow()
    if grace_seconds > 0 and config.secret:
        config.previous_secret = box.seal(box.open(config.secret))
        config.previous_secret_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        config.previous_secret = config.previous_secret_expires_at = None
    config.secret = box.seal(secret)
    config.updated_at = now
    _audit_config(
        config, principal, SECRET_ROTATED, correlation_id, {"grace_seconds": grace_seconds}
    )
    expires = _iso(config.previous_secret_expires_at)
    db.session.commit()
    log.info("webhook secret rotated", extra={"webhook_id": webhook_id})
    return {"webhook_id": webhook_id, "secret": secret, "previous_secret_expires_at": expires}


def delivery_to_dict(row: DeliveryRecord) -> dict[str, Any]:
    return {
        "delivery_id": row.delivery_id,
        "received_at": _iso(row.received_at),
        "last_received_at": _iso(row.last_received_at),
        "attempts": row.attempts,
        "outcome": row.outcome,
        "status_code": row.status_code,
        "run_id": row.run_id,
        "correlation_id": row.correlation_id,
        "source": row.source,
        "detail": row.detail,
    }


def list_deliveries(tenant_id: str, webhook_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """A webhook's recent deliveries, newest first."""
    _find_config(tenant_id, webhook_id)
    stmt = db.select(DeliveryRecord).where(
        DeliveryRecord.webhook_id == webhook_id, DeliveryRecord.tenant_id == tenant_id
    )
    if args.get("outcome"):
        stmt = stmt.where(DeliveryRecord.outcome == args["outcome"])
    return _page_of(stmt, DeliveryRecord.received_at, DeliveryRecord.id, args, delivery_to_dict)


def prune_deliveries() -> int:
    """Forget deliveries last seen more than WEBHOOK_DELIVERY_RETENTION_HOURS ago."""
    hours = int(current_app.config["WEBHOOK_DELIVERY_RETENTION_HOURS"])
    deleted = store.prune_deliveries(utcnow() - timedelta(hours=hours))
    db.session.commit()
    return deleted


def reseal_secrets() -> int:
    """Seal every stored secret with the current WEBHOOK_SECRET_KEY (after setting or
    rotating it); returns how many were rewritten."""
    box = secret_box()
    changed = 0
    for config in db.session.execute(db.select(WebhookConfig).with_for_update()).scalars():
        for column in ("secret", "previous_secret"):
            stored = getattr(config, column)
            if stored and box.needs_reseal(stored):
                setattr(config, column, box.seal(box.open(stored)))
                changed += 1
    db.session.commit()
    return changed
