"""Liveness and readiness.

`/health` follows the shape of the IETF health-check draft: an overall
`status` of `pass`, `warn` or `fail` and a `checks` object per dependency. Only the
database is required: without it nothing can be accepted, so readiness is 503. A
cache outage degrades to `warn` (reads fall back to the database).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import marshmallow as ma
from flask import current_app, jsonify, request
from flask.views import MethodView
from sqlalchemy import text

from .cache import cache_ping
from .extensions import db
from .openapi import EnumString, NamedEnum
from .smorest import Blueprint
from .state import ingress_state

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


HEALTH_STATUS = NamedEnum(
    "HealthStatus",
    ("pass", "warn", "fail"),
    "pass: healthy; warn: degraded but serving; fail: not ready",
)


class CheckSchema(ma.Schema):
    """One dependency's state; with a token also its details (`output`, figures)."""

    class Meta:
        unknown = ma.INCLUDE

    status = EnumString(HEALTH_STATUS, required=True)
    output = ma.fields.String()


class HealthSchema(ma.Schema):
    """Health report in the shape of the IETF health-check draft."""

    status = EnumString(HEALTH_STATUS, required=True)
    version = ma.fields.String()
    serviceId = ma.fields.String()
    time = ma.fields.String(metadata={"format": "date-time"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))


class LivenessSchema(ma.Schema):
    """The process is up: always `pass`."""

    status = EnumString(HEALTH_STATUS, required=True)

_NO_AUTH = {"security": []}


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "pass",
            "observedValue": round((time.perf_counter() - started) * 1000, 2),
            "observedUnit": "ms",
        }
    except Exception as exc:
        return {
            "status": "fail",
            "output": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
        }


def _check_cache() -> dict:
    backend = "redis" if current_app.config.get("REDIS_URL") else "in-process"
    ok, error = cache_ping()
    if ok:
        return {"status": "pass", "componentType": backend}
    return {"status": "warn", "componentType": backend, "output": error}


def health_report() -> dict:
    checks = {"database": _check_database(), "cache": _check_cache()}
    for extra in ingress_state().health_checks:
        checks.update(extra())
    statuses = {check["status"] for check in checks.values()}
    overall = (
        "fail"
        if checks["database"]["status"] == "fail"
        else ("warn" if statuses - {"pass"} else "pass")
    )
    return {
        "status": overall,
        "version": "1",
        "serviceId": "ingress",
        "time": datetime.now(UTC).isoformat(),
        "checks": checks,
    }


def _caller_has_a_valid_token() -> bool:
    """Whether the request carries a token that verifies (no token, or a bad one: no)."""
    if "Authorization" not in request.headers:
        return False
    from .auth import authenticate

    try:
        authenticate()
    except Exception:  # any refusal (401, JWKS 503) only means: no details
        return False
    return True


def _for_anyone(report: dict) -> dict:
    """What a load balancer needs: the overall status and each check's status. Paths,
    errors and figures stay for the logs and for callers with a token."""
    return {
        "status": report["status"],
        "checks": {name: {"status": check["status"]} for name, check in report["checks"].items()},
    }


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getHealth", **_NO_AUTH)
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is unavailable")
    def get(self):
        """Readiness: 200 while the database answers (cache issues are a warning), else 503.

        Without a token only the statuses are shown; with a valid Bearer token (any
        tenant's) each check's details too (errors, sources, figures).
        """
        report = health_report()
        if not _caller_has_a_valid_token():
            report = _for_anyone(report)
        # Returned as a Response: the schema documents the shape, checks keep every field.
        response = jsonify(report)
        response.status_code = 503 if report["status"] == "fail" else 200
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/health/live")
class Liveness(MethodView):
    @blp.doc(operationId="getLiveness", **_NO_AUTH)
    @blp.response(200, LivenessSchema)
    def get(self):
        """Liveness: the process is up and serving.

        Answers without touching the database or the cache: a failure here means the
        process itself should be restarted.
        """
        return {"status": "pass"}, 200, {"Cache-Control": "no-store"}
