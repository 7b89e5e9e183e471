"""The intake: a delivery to `POST /v1/webhooks/{webhook_id}` becomes a run through
the one accept pipeline.

In order: the body's size (413) → the webhook (unknown, disabled or deleted: the same
404) → the body's format (415/400) → credentials (401) → the tenant's rate limit (429, in
the view) → the delivery id (a known one answers with its run) → source enabled for the
tenant (403) → input mapping (400) → `accept_run` (validation, policies, idempotency,
message size, storage). Every authenticated delivery is recorded in `webhook_deliveries`
and audited. A delivery with wrong or missing credentials writes nothing: anyone who
knows a webhook's URL can send those, so each is only counted
(`ingress_webhook_deliveries_total{outcome="unauthorized"}`) and logged at most once a
minute per process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from werkzeug.datastructures import Headers

from .. import metrics
from ..audit import service as audit
from ..auth import Principal
from ..body import MAX_JSON_DEPTH, nesting_exceeds
from ..contracts import SourceAdapter, WebhookDelivery
from ..db_types import utcnow
from ..errors import (
    ApiError,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from ..extensions import db
from ..keys import webhook_delivery_key
from ..policies.runtime import policy_engine
from ..runs import store as run_store
from ..runs.service import Accepted, RunRequest, accept_run, validate_run
from . import store
from .crypto import secret_box
from .models import WebhookConfig
from .payloads import clean_delivery_id, map_input, mapping_headers, parse_body, passes_filter
from .schemas import MAX_ITEMS_PER_DELIVERY
from .service import RESOURCE
from .verification import AuthFailure, header_name, verify_credentials

log = logging.getLogger(__name__)

DELIVERY_REJECTED = "webhook.rejected"
MAX_WEBHOOK_ID_LENGTH = 255
REFUSAL_LOG_INTERVAL_SECONDS = 60.0


class RefusalLog:
    """Logs refused deliveries at most once per interval: the first one, then a count.

    A flood of wrong credentials must not become a flood of log lines either.
    """

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL_SECONDS, clock=time.monotonic):
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0
        #: how many refusals the last logged line said were not logged before it
        self.last_suppressed = 0

    def refused(self, webhook: Webhook, reason: str, remote_addr: str | None = None) -> bool:
        """Count one refusal; log it (with the count held back since) if it is time."""
        with self._lock:
            now = self._clock()
            if now - self._last < self.interval:
                self._suppressed += 1
                return False
            self._last, self.last_suppressed, self._suppressed = now, self._suppressed, 0
        log.warning(
            "webhook delivery refused: %s",
            reason,
            extra={
                "webhook_id": webhook.webhook_id,
                "tenant_id": webhook.tenant_id,
                "remote_addr": remote_addr,
                "refusals_not_logged": self.last_suppressed,
            },
        )
        return True


refusal_log = RefusalLog()


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request to the intake URL, as read from HTTP."""

    raw_body: bytes
    mimetype: str
    headers: Headers
    query: dict[str, Any]
    remote_addr: str | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the intake needs of a config (read once, no lazy loading later)."""

    webhook_id: str
    tenant_id: str
    user_id: str
    source: str
    auth_type: str
    auth_options: dict[str, Any]
    flow_id: str
    flow_version: str | None
    flow_definition: dict[str, Any] | None
    input_mapping: dict[str, str] | None
    secrets: tuple[str, ...] = field(repr=False)
    items: str | None = None
    require_delivery_id: bool = False
    callback_url: str | None = None
    callback_events: list[str] | None = None
    filter: str | None = None

    @property
    def actor(self) -> str:
        return f"webhook:{self.webhook_id}"


@dataclass(slots=True)
class AuthenticatedDelivery:
    webhook: Webhook
    principal: Principal
    adapter: SourceAdapter | None
    delivery: WebhookDelivery
    envelope_headers: dict[str, str]
    received_at: Any


def _load_webhook(webhook_id: str) -> Webhook:
    """The enabled webhook with this id; unknown, disabled and deleted are the same 404."""
    config = None
    if len(webhook_id) <= MAX_WEBHOOK_ID_LENGTH:
        config = db.session.execute(
            db.select(WebhookConfig).where(
                WebhookConfig.webhook_id == webhook_id,
                WebhookConfig.enabled.is_(True),
                WebhookConfig.deleted_at.is_(None),
            )
        ).scalar_one_or_none()
    if config is None or not config.secret:
        db.session.rollback()
        raise NotFound(f"webhook {webhook_id!r} not found")
    box = secret_box()
    valid = [box.open(config.secret)]
    expires = config.previous_secret_expires_at
    if config.previous_secret and expires is not None and expires > utcnow():
        valid.append(box.open(config.previous_secret))
    settings = config.settings
    webhook = Webhook(
        webhook_id=config.webhook_id,
        tenant_id=config.tenant_id,
        user_id=config.user_id,
        source=config.source,
        auth_type=config.auth_type,
        auth_options=dict(settings.get("auth") or {}),
        flow_id=config.flow_id,
        flow_version=config.flow_version,
        flow_definition=settings.get("flow_definition"),
        input_mapping=settings.get("input_mapping"),
        secrets=tuple(valid),
        items=settings.get("items"),
        require_delivery_id=bool(settings.get("require_delivery_id")),
        callback_url=settings.get("callback_url"),
        callback_events=settings.get("callback_events"),
        filter=config.filter,
    )
    db.session.rollback()  # end the read transaction
    return webhook


def _adapter_verdict(
    adapter: SourceAdapter | None, delivery: WebhookDelivery, secrets: tuple[str, ...]
) -> bool | None:
    """The adapter's own signature check: True/False, or None to use the config's method."""
    if adapter is None or type(adapter).verify is SourceAdapter.verify:
        return None
    verdicts = []
    for secret in secrets:
        try:
            verdicts.append(adapter.verify(delivery, secret))
        except Exception:
            log.exception("source adapter %r raised in verify", adapter.name)
            verdicts.append(False)
    if any(v is True for v in verdicts):
        return True
    if any(v is False for v in verdicts):
        return False
    return None


def _record(
    webhook: Webhook,
    *,
    delivery_id: str | None,
    received_at,
    outcome: str,
    status: int,
    accepted: Accepted | None = None,
    detail: Any = None,
) -> None:
    store.record_delivery(
        {
            "webhook_id": webhook.webhook_id,
            "tenant_id": webhook.tenant_id,
            "delivery_id": delivery_id,
            "source": webhook.source,
            "received_at": received_at,
            "outcome": outcome,
            "status_code": status,
            "run_id": accepted.run_id if accepted else None,
            "correlation_id": accepted.correlation_id if accepted else None,
            "detail": detail,
        }
    )
    metrics.WEBHOOK_DELIVERIES.labels(webhook.source, outcome).inc()


def authenticate_delivery(webhook_id: str, incoming: Incoming) -> AuthenticatedDelivery:
    """Find the webhook, read the body and check the sender's credentials."""
    webhook = _load_webhook(webhook_id)
    received_at = utcnow()
    parsed = parse_body(incoming.raw_body, incoming.mimetype, webhook_id)
    adapter_class = policy_engine().plugins.adapters.get(webhook.source)
    adapter = adapter_class() if adapter_class is not None else None
    delivery = WebhookDelivery(
        payload=parsed.payload,
        headers=dict(incoming.headers.items()),
        query=incoming.query,
        raw_body=incoming.raw_body,
        content_type=incoming.mimetype,
        extra={"items": webhook.items},
    )
    try:
        verdict = _adapter_verdict(adapter, delivery, webhook.secrets)
        if verdict is None:
            verify_credentials(
                webhook.auth_type,
                webhook.auth_options,
                incoming.headers,
                incoming.raw_body,
                webhook.secrets,
                now=time.time(),
                tolerance=int(current_app.config["WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS"]),
            )
        elif verdict is False:
            raise AuthFailure(f"the {webhook.source} signature is missing or does not match")
    except AuthFailure as failure:
        # No audit event, no delivery row: an unauthenticated sender costs no write.
        metrics.WEBHOOK_DELIVERIES.labels(webhook.source, "unauthorized").inc()
        refusal_log.refused(webhook, failure.reason, incoming.remote_addr)
        raise Unauthorized(
            failure.reason, headers={"WWW-Authenticate": failure.challenge}
        ) from None
    return AuthenticatedDelivery(
        webhook=webhook,
        principal=Principal(user_id=webhook.user_id, tenant_id=webhook.tenant_id),
        adapter=adapter,
        delivery=delivery,
        envelope_headers=parsed.envelope_headers,
        received_at=received_at,
    )


def _delivery_id(authenticated: AuthenticatedDelivery) -> str | None:
    headers = authenticated.delivery.headers
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("webhook-id", "idempotency-key"):
        if lowered.get(name, "").strip():
            return clean_delivery_id(lowered[name], f"{name} header")
    if authenticated.adapter is not None:
        return clean_delivery_id(
            authenticated.adapter.delivery_id(authenticated.delivery),
            f"{authenticated.webhook.source} adapter",
        )
    return None


def _payload(authenticated: AuthenticatedDelivery) -> Any:
    """The delivery's payload as its source adapter reads it."""
    webhook = authenticated.webhook
    adapter = authenticated.adapter
    if (
        adapter is None
        or webhook.source not in policy_engine().chain(webhook.tenant_id).webhook_sources
    ):
        raise Forbidden(f"webhook source {webhook.source!r} is not enabled for this tenant")
    try:
        payload = adapter.normalise(authenticated.delivery)
    except Exception:
        log.exception("source adapter %r raised in normalise", webhook.source)
        raise ValidationFailed(
            [
                {
                    "path": "payload",
                    "message": f"the {webhook.source} adapter cannot read this payload",
                }
            ]
        ) from None
    if nesting_exceeds(payload):
        # The body was bounded when parsed, but an adapter may nest it further (Zapier's
        # `a__b__c` keys): past the bound, storing the run would fail (a 500).
        raise ValidationFailed(
            [
                {
                    "path": "payload",
                    "message": f"is nested more than {MAX_JSON_DEPTH} levels deep "
                    f"once read by the {webhook.source} adapter",
                }
            ]
        )
    if webhook.items is not None and not isinstance(payload, list):
        payload = [payload]  # the shape never depends on how many items arrived
    if webhook.items == "list" and not webhook.input_mapping:
        payload = {"items": payload}
    return payload


def _view(authenticated: AuthenticatedDelivery, payload: Any) -> dict[str, Any]:
    """What mappings and filters read: `{payload, headers, query}` (without the header
    that carries the webhook's credential)."""
    webhook = authenticated.webhook
    hidden = {name for name in (header_name(webhook.auth_type, webhook.auth_options),) if name}
    return {
        "payload": payload,
        "headers": mapping_headers(
            authenticated.delivery.headers, authenticated.envelope_headers, hidden
        ),
        "query": authenticated.delivery.query,
    }


def ignore_if_filtered(authenticated: AuthenticatedDelivery) -> dict[str, Any] | None:
    """The 200 body `{ignored, delivery_id}` when the webhook's filter leaves this
    delivery out (recorded as `filtered`, no run, no audit event), else None.

    Called before the tenant's rate limit: a left-out delivery is not a run. A delivery
    whose payload or delivery id the pipeline would refuse is not judged here: it goes
    on and is refused (and recorded) as without a filter."""
    webhook = authenticated.webhook
    if webhook.filter is None:
        return None
    try:
        payload = _payload(authenticated)
        delivery_id = _delivery_id(authenticated)
    except ApiError:
        db.session.rollback()
        return None
    passed, problem = passes_filter(webhook.filter, _view(authenticated, payload))
    if passed:
        return None
    _record(
        webhook,
        delivery_id=delivery_id,
        received_at=authenticated.received_at,
        outcome="filtered",
        status=200,
        detail={"filter_error": problem} if problem else None,
    )
    db.session.commit()
    return {"ignored": True, "delivery_id": delivery_id}


def _run_request(
    authenticated: AuthenticatedDelivery, payload: Any, request_id: str | None
) -> RunRequest:
    webhook = authenticated.webhook
    view = _view(authenticated, payload)
    inline = webhook.flow_definition is not None
    return RunRequest(
        flow_id=None if inline else webhook.flow_id,
        flow_version=None if inline else webhook.flow_version,
        flow_definition=webhook.flow_definition,
        input=map_input(webhook.input_mapping, view),
        request_id=request_id,
        source="webhook",
        actor=webhook.actor,
        callback_url=webhook.callback_url,
        callback_events=webhook.callback_events,
    )


def _item_requests(
    authenticated: AuthenticatedDelivery, items: list[Any], delivery_id: str | None,
    correlation_id: str,
) -> list[RunRequest]:
    """One run request per item, each checked (validation and policies) before any run
    is stored: a delivery whose item 3 is refused starts no run at all."""
    webhook = authenticated.webhook
    if not items or len(items) > MAX_ITEMS_PER_DELIVERY:
        raise ValidationFailed(
            [{"path": "payload", "message": f"has {len(items)} items; send 1 to "
              f"{MAX_ITEMS_PER_DELIVERY} per delivery"}]
        )
    requests = []
    for index, item in enumerate(items):
        key = (webhook_delivery_key(webhook.webhook_id, delivery_id, item=index)
               if delivery_id else None)
        try:
            req = _run_request(authenticated, item, key)
            known = key is not None and run_store.find_by_idempotency_key(
                webhook.tenant_id, key
            ) is not None
            if not known:
                validate_run(req, authenticated.principal, correlation_id, enforce=True)
        except ApiError as error:
            if isinstance(error.detail, dict):
                error.detail = {**error.detail, "item": index}
            raise
        requests.append(req)
    return requests


def _accept(req: RunRequest, principal: Principal, correlation_id: str) -> Accepted:
    """`accept_run`; a delivery id seen before (even with another payload) is its first run."""
    try:
        return accept_run(req, principal, correlation_id)
    except IdempotencyMismatch:
        found = run_store.find_by_idempotency_key(principal.tenant_id, req.request_id)
        if found is None:  # pragma: no cover - the run was deleted by hand in between
            raise
        return Accepted(found["run_id"], found["correlation_id"], replayed=True)


_OUTCOME_BY_STATUS = {403: "denied"}


def accept_delivery(authenticated: AuthenticatedDelivery, correlation_id: str) -> list[Accepted]:
    """Start the delivery's run, or one per item with `items: each` (a delivery id seen
    before answers with the runs it made)."""
    webhook = authenticated.webhook
    delivery_id = None
    in_pipeline = False
    try:
        delivery_id = _delivery_id(authenticated)
        if delivery_id is None and webhook.require_delivery_id:
            raise ValidationFailed(
                [{"path": "headers.Idempotency-Key", "message": "is required by this webhook: "
                  "send a delivery id (Idempotency-Key, webhook-id or the source's own) so "
                  "that retries never start a run twice"}],
                error="Delivery id required",
            )
        if delivery_id is not None and webhook.items != "each":
            known = store.find_delivery_run(webhook.webhook_id, delivery_id)
            if known is not None:
                accepted = Accepted(*known, replayed=True)
                _record(
                    webhook,
                    delivery_id=delivery_id,
                    received_at=authenticated.received_at,
                    outcome="replayed",
                    status=202,
                    accepted=accepted,
                )
                db.session.commit()
                return [accepted]
            db.session.rollback()
        payload = _payload(authenticated)
        if webhook.items == "each":
            requests = _item_requests(authenticated, payload, delivery_id, correlation_id)
        else:
            key = webhook_delivery_key(webhook.webhook_id, delivery_id) if delivery_id else None
            requests = [_run_request(authenticated, payload, key)]
        in_pipeline = True
        runs = [_accept(req, authenticated.principal, correlation_id) for req in requests]
    except ApiError as error:
        db.session.rollback()
        outcome = _OUTCOME_BY_STATUS.get(error.status, "rejected")
        # accept_run audits its own denials; everything else is audited here
        if not (in_pipeline and isinstance(error, Forbidden)):
            audit.add_audit_event(
                tenant_id=webhook.tenant_id,
                actor=webhook.actor,
                action=DELIVERY_REJECTED,
                outcome=outcome,
                resource_type=RESOURCE,
                resource_id=webhook.webhook_id,
                correlation_id=correlation_id,
                detail={"status": error.status, "error": error.error, "delivery_id": delivery_id},
            )
        _record(
            webhook,
            delivery_id=delivery_id,
            received_at=authenticated.received_at,
            outcome=outcome,
            status=error.status,
            detail={"error": error.error, "detail": error.detail},
        )
        db.session.commit()
        raise
    replayed = all(run.replayed for run in runs)
    _record(
        webhook,
        delivery_id=delivery_id,
        received_at=authenticated.received_at,
        outcome="replayed" if replayed else "accepted",
        status=202,
        accepted=runs[0],
        detail={"runs": [run.run_id for run in runs]} if len(runs) > 1 else None,
    )
    db.session.commit()
    log.info(
        "webhook delivery accepted",
        extra={
            "webhook_id": webhook.webhook_id,
            "run_id": runs[0].run_id,
            "runs": len(runs),
            "replayed": replayed,
        },
    )
    return runs
