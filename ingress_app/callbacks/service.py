"""Callback secrets, subscriptions, and the delivery rows a status change writes.

Helpers that add rows to a status change (`enqueue_status_change`) never commit: the
caller's transaction makes the change and its callbacks durable together.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..db_types import utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..ids import is_id, new_id
from ..jsonutil import dumps_str
from ..pagination import page, paginate
from ..webhooks.crypto import generate_secret, secret_box
from .models import (
    DELIVERED,
    FAILED,
    GONE,
    PENDING,
    CallbackAttempt,
    CallbackDelivery,
    CallbackSecret,
    Subscription,
    receiver_of,
)
from .ssrf import UnsafeUrl, check_url

log = logging.getLogger(__name__)

RUN_FINISHED = "run.finished"
RUN_STATUS_CHANGED = "run.status_changed"
EVENT_TYPES = (RUN_FINISHED, RUN_STATUS_CHANGED)
DEFAULT_EVENTS = (RUN_FINISHED,)
# audit actions
SECRET_ROTATED = "callback_secret.rotated"
SUBSCRIPTION_CREATED = "subscription.created"
SUBSCRIPTION_DELETED = "subscription.deleted"
SUBSCRIPTION_GONE = "subscription.gone"


def wake_relay() -> None:
    from .relay import wakeup

    wakeup.set()


# ------------------------------------------------------------------ targets


def check_callback_url(url: str, path: str = "callback_url") -> str:
    """400 (as a validation problem at `path`) when `url` may not be called."""
    try:
        check_url(url, current_app.config)
    except UnsafeUrl as exc:
        raise ValidationFailed([{"path": path, "message": str(exc)}]) from None
    return url


# ------------------------------------------------------------------ the tenant's secret


def _secret_row(tenant_id: str, *, lock: bool = False) -> CallbackSecret:
    stmt = select(CallbackSecret).where(CallbackSecret.tenant_id == tenant_id)
    row = db.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if row is not None:
        return row
    db.session.add(
        CallbackSecret(
            tenant_id=tenant_id, secret=secret_box().seal(generate_secret()), created_at=utcnow()
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # created concurrently: use that one
        db.session.rollback()
    return db.session.execute(stmt.with_for_update() if lock else stmt).scalar_one()


def _secret_view(row: CallbackSecret) -> dict[str, Any]:
    expires = row.previous_secret_expires_at
    return {
        "secret": secret_box().open(row.secret),
        "previous_secret_expires_at": (
            expires.isoformat() if expires is not None and expires > utcnow() else None
        ),
    }


def get_secret(tenant_id: str) -> dict[str, Any]:
    """The tenant's callback signing secret, made on first use."""
    body = _secret_view(_secret_row(tenant_id))
    db.session.rollback()
    return body


def rotate_secret(principal, correlation_id: str | None = None) -> dict[str, Any]:
    """A new secret; the old one still signs (a second signature) for the grace period."""
    tenant_id = principal.tenant_id
    row = _secret_row(tenant_id, lock=True)
    now = utcnow()
    row.previous_secret = row.secret
    row.previous_secret_expires_at = now + timedelta(
        seconds=current_app.config["WEBHOOK_SECRET_GRACE_SECONDS"]
    )
    row.secret = secret_box().seal(generate_secret())
    row.rotated_at = now
    body = _secret_view(row)
    audit.add_audit_event(
        tenant_id=tenant_id, actor=principal.user_id, action=SECRET_ROTATED, outcome="succeeded",
        resource_type="callback_secret", resource_id=tenant_id, correlation_id=correlation_id,
        detail={"previous_secret_expires_at": body["previous_secret_expires_at"]},
    )
    db.session.commit()
    log.info("callback secret rotated", extra={"tenant_id": tenant_id})
    return body


def signing_secrets(tenant_id: str) -> list[str]:
    """The secrets a tenant's callbacks are signed with: current, then the previous one
    while its grace period lasts."""
    row = _secret_row(tenant_id)
    secrets = [secret_box().open(row.secret)]
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and expires > utcnow():
        secrets.append(secret_box().open(row.previous_secret))
    db.session.rollback()
    return secrets


# ------------------------------------------------------------------ subscriptions


def _subscription_view(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.subscription_id,
        "target_url": sub.target_url,
        "events": list(sub.events),
        "flow_id": sub.flow_id,
        "created_at": sub.created_at.isoformat(),
    }


def create_subscription(
    data: dict[str, Any], principal, correlation_id: str | None = None
) -> dict[str, Any]:
    """Subscribe `target_url` to events; the answer carries its secret, this once."""
    check_callback_url(data["target_url"], "target_url")
    secret = generate_secret()
    sub = Subscription(
        subscription_id=new_id(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        target_url=data["target_url"],
        events=sorted(set(data["events"])),
        flow_id=data.get("flow_id"),
        secret=secret_box().seal(secret),
        created_at=utcnow(),
    )
    db.session.add(sub)
    body = _subscription_view(sub)
    _audit_subscription(sub, principal.user_id, SUBSCRIPTION_CREATED, correlation_id)
    db.session.commit()
    log.info(
        "subscription created",
        extra={"tenant_id": principal.tenant_id, "subscription_id": sub.subscription_id},
    )
    return {**body, "secret": secret}


def _audit_subscription(sub, actor: str, action: str, correlation_id: str | None = None,
                        session=None) -> None:
    audit.add_audit_event(
        tenant_id=sub.tenant_id, actor=actor, action=action, outcome="succeeded",
        resource_type="subscription", resource_id=sub.subscription_id,
        correlation_id=correlation_id,
        detail={"target_url": sub.target_url, "events": list(sub.events), "flow_id": sub.flow_id},
        session=session,
    )


def _find_subscription(tenant_id: str, subscription_id: str) -> Subscription:
    sub = None
    if is_id(subscription_id):
        sub = db.session.execute(
            select(Subscription).where(
                Subscription.tenant_id == tenant_id,
                Subscription.subscription_id == subscription_id,
            )
        ).scalar_one_or_none()
    if sub is None:
        db.session.rollback()
        raise NotFound(f"subscription {subscription_id[:64]!r} not found")
    return sub


def get_subscription(tenant_id: str, subscription_id: str) -> dict[str, Any]:
    body = _subscription_view(_find_subscription(tenant_id, subscription_id))
    db.session.rollback()
    return body


def list_subscriptions(tenant_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """The tenant's subscriptions, newest first."""
    rows, next_cursor = paginate(
        db.session,
        select(Subscription).where(Subscription.tenant_id == tenant_id),
        Subscription.created_at,
        Subscription.id,
        limit=args["limit"],
        cursor=args.get("cursor"),
    )
    items = [_subscription_view(row) for row in rows]
    db.session.rollback()
    return page(items, next_cursor)


def delete_subscription(principal, subscription_id: str, correlation_id: str | None = None) -> None:
    """Unsubscribe; its deliveries still waiting are dropped (`gone`)."""
    sub = _find_subscription(principal.tenant_id, subscription_id)
    _audit_subscription(sub, principal.user_id, SUBSCRIPTION_DELETED, correlation_id)
    db.session.delete(sub)
    _drop_pending(db.session, sub.subscription_id, "the subscription was deleted")
    db.session.commit()


def _drop_pending(session, subscription_id: str, reason: str) -> None:
    session.execute(
        update(CallbackDelivery)
        .where(
            CallbackDelivery.subscription_id == subscription_id,
            CallbackDelivery.state == PENDING,
        )
        .values(state=GONE, finished_at=utcnow(), last_error=reason)
    )


# ------------------------------------------------------------------ writing deliveries


def _wanted(events: Any, event_type: str) -> bool:
    return event_type in (events if isinstance(events, list) else DEFAULT_EVENTS)


def enqueue_status_change(run, now=None) -> int:
    """Add the delivery rows for `run`'s new status to the current transaction: its own
    `callback_url` and the tenant's matching subscriptions. Returns how many."""
    from ..runs.models import TERMINAL_STATUSES
    from ..runs.service import run_to_dict

    types = [RUN_STATUS_CHANGED] + ([RUN_FINISHED] if run.status in TERMINAL_STATUSES else [])
    targets: list[tuple[str, str, str | None]] = []
    if run.callback_url:
        targets += [(run.callback_url, t, None) for t in types if _wanted(run.callback_events, t)]
    subscriptions = db.session.execute(
        select(Subscription.subscription_id, Subscription.target_url, Subscription.events,
               Subscription.flow_id).where(Subscription.tenant_id == run.tenant_id)
    ).all()
    for sub in subscriptions:
        if sub.flow_id is None or sub.flow_id == run.flow_id:
            targets += [(sub.target_url, t, sub.subscription_id) for t in types
                        if t in sub.events]
    if not targets:
        return 0
    now = now or utcnow()
    data = run_to_dict(run)
    bodies = {t: dumps_str({"type": t, "timestamp": now.isoformat(), "data": data}) for t in types}
    expires = now + timedelta(hours=float(current_app.config["CALLBACK_RETRY_HOURS"]))
    for url, event_type, subscription_id in targets:
        db.session.add(
            CallbackDelivery(
                message_id=f"msg_{new_id().replace('-', '')}",
                tenant_id=run.tenant_id,
                run_id=run.run_id,
                subscription_id=subscription_id,
                event_type=event_type,
                url=url,
                target_host=receiver_of(url),
                payload=bodies[event_type],
                state=PENDING,
                created_at=now,
                next_attempt_at=now,
                expires_at=expires,
                attempts=0,
            )
        )
    wake_relay()
    return len(targets)


# ------------------------------------------------------------------ reading deliveries


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def run_callbacks(run_id: str, tenant_id: str) -> dict[str, Any]:
    """A run's callback deliveries (oldest first), each with its attempts."""
    from ..runs.models import FlowRun

    found = is_id(run_id) and db.session.execute(
        select(FlowRun.id).where(FlowRun.run_id == run_id, FlowRun.tenant_id == tenant_id)
    ).first()
    if not found:
        db.session.rollback()
        raise NotFound(f"run {run_id[:64]!r} not found")
    deliveries = db.session.execute(
        select(CallbackDelivery)
        .where(CallbackDelivery.run_id == run_id, CallbackDelivery.tenant_id == tenant_id)
        .order_by(CallbackDelivery.id)
    ).scalars().all()
    attempts: dict[int, list[dict[str, Any]]] = {d.id: [] for d in deliveries}
    if deliveries:
        for row in db.session.execute(
            select(CallbackAttempt)
            .where(CallbackAttempt.delivery_id.in_(list(attempts)))
            .order_by(CallbackAttempt.delivery_id, CallbackAttempt.attempt)
        ).scalars():
            attempts[row.delivery_id].append(
                {
                    "attempt": row.attempt,
                    "at": _iso(row.at),
                    "status_code": row.status_code,
                    "error": row.error,
                    "duration_ms": row.duration_ms,
                    "next_attempt_at": _iso(row.next_attempt_at),
                }
            )
    items = [
        {
            "webhook_id": d.message_id,
            "type": d.event_type,
            "url": d.url,
            "subscription_id": d.subscription_id,
            "state": d.state,
            "created_at": _iso(d.created_at),
            "next_attempt_at": _iso(d.next_attempt_at) if d.state == PENDING else None,
            "attempts": attempts[d.id],
        }
        for d in deliveries
    ]
    db.session.rollback()
    return {"items": items}


# ------------------------------------------------------------------ operators


def failed_deliveries(limit: int = 100) -> list[dict[str, Any]]:
    """The oldest `limit` dead-lettered deliveries (no body)."""
    rows = db.session.execute(
        select(CallbackDelivery)
        .where(CallbackDelivery.state == FAILED)
        .order_by(CallbackDelivery.id)
        .limit(limit)
    ).scalars().all()
    listed = [
        {
            "id": row.id,
            "tenant_id": row.tenant_id,
            "run_id": row.run_id,
            "type": row.event_type,
            "url": row.url,
            "attempts": row.attempts,
            "last_status_code": row.last_status_code,
            "last_error": row.last_error,
            "failed_at": row.finished_at,
        }
        for row in rows
    ]
    db.session.rollback()
    return listed


def requeue(ids: list[int] | None = None) -> list[int]:
    """Make dead-lettered deliveries pending again, with a fresh retry window; returns
    the ids requeued (all of them when `ids` is None)."""
    now = utcnow()
    stmt = (
        update(CallbackDelivery)
        .where(CallbackDelivery.state == FAILED)
        .values(
            state=PENDING,
            next_attempt_at=now,
            finished_at=None,
            expires_at=now + timedelta(hours=float(current_app.config["CALLBACK_RETRY_HOURS"])),
        )
        .returning(CallbackDelivery.id)
    )
    if ids is not None:
        stmt = stmt.where(CallbackDelivery.id.in_(ids))
    requeued = sorted(db.session.execute(stmt).scalars())
    db.session.commit()
    if requeued:
        wake_relay()
    return requeued


def prune_callbacks() -> int:
    """Delete deliveries that ended (delivered, gone) more than CALLBACK_RETENTION_HOURS
    ago, with their attempts; dead-lettered ones stay for an operator. Returns how many."""
    cutoff = utcnow() - timedelta(hours=current_app.config["CALLBACK_RETENTION_HOURS"])
    done = (
        select(CallbackDelivery.id)
        .where(CallbackDelivery.state.in_((DELIVERED, GONE)), CallbackDelivery.finished_at < cutoff)
        .scalar_subquery()
    )
    db.session.execute(delete(CallbackAttempt).where(CallbackAttempt.delivery_id.in_(done)))
    deleted = db.session.execute(
        delete(CallbackDelivery).where(
            CallbackDelivery.state.in_((DELIVERED, GONE)), CallbackDelivery.finished_at < cutoff
        )
    ).rowcount
    db.session.commit()
    return deleted


def callback_status() -> dict[str, Any]:
    """Pending and dead-lettered counts, and the age of the oldest pending delivery."""
    pending, oldest = db.session.execute(
        select(func.count(), func.min(CallbackDelivery.created_at)).where(
            CallbackDelivery.state == PENDING
        )
    ).one()
    failed = db.session.execute(
        select(func.count()).where(CallbackDelivery.state == FAILED)
    ).scalar_one()
    db.session.rollback()
    age = None
    if oldest is not None:
        if isinstance(oldest, str):
            from datetime import UTC, datetime

            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    return {"pending": int(pending), "failed": int(failed), "oldest_pending_age_seconds": age}
