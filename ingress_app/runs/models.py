"""The run record: the seed's `flow_runs_audit` table, plus our columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db_types import JsonType, UtcDateTime, utcnow
from ..extensions import db

PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CANCELLED = "CANCELLED"
TIMED_OUT = "TIMED_OUT"
STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCEL_REQUESTED, CANCELLED, TIMED_OUT)
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED, TIMED_OUT})


class FlowRun(db.Model):
    """One accepted request to run a flow."""

    __tablename__ = "flow_runs_audit"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id", name="uq_flow_runs_tenant_request"),
        Index("ix_flow_runs_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_flow_runs_created", "created_at"),  # retention: the oldest runs first
    )

    # the seed's columns
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(255), nullable=False)
    flow_id: Mapped[str] = mapped_column(String(255), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(255))
    input_data: Mapped[Any] = mapped_column(JsonType, nullable=False)
    flow_definition: Mapped[Any | None] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(50), default=PENDING, server_default=PENDING)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    output_data: Mapped[Any | None] = mapped_column(JsonType)
    error_message: Mapped[str | None] = mapped_column(Text)
    # ours
    flow_version: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="api", server_default="api")
    request_hash: Mapped[str | None] = mapped_column(String(64))
    policy_modifications: Mapped[Any | None] = mapped_column(JsonType)
    tasks: Mapped[Any | None] = mapped_column(JsonType)
    # "registry" (flow_version is the registry version used) or "inline" (flow_definition given)
    flow_origin: Mapped[str] = mapped_column(String(16), default="inline", server_default="inline")
    # where to POST this run's events (signed with the tenant's callback secret), and which
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_events: Mapped[Any | None] = mapped_column(JsonType)
    # counted in `active_runs` when accepted (a limit on runs in flight applied): a
    # terminal status releases it there
    counted_in_flight: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )


class ActiveRuns(db.Model):
    """Runs in flight per tenant (`flow_id` '') and per tenant and flow, for limits."""

    __tablename__ = "active_runs"

    tenant_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    active: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class RunEvent(db.Model):
    """A status report from the orchestrator, kept once per `event_id` (dedupe + history),
    or a status change made here (a cancel). `id` is the event sequence of run streams."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    run_id: Mapped[str] = mapped_column(String(255), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(255), nullable=False)
    task_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(50), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    output: Mapped[Any | None] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text)
    # a status change: the run as GET showed it right after (what the event stream sends)
    run_body: Mapped[str | None] = mapped_column(Text)
