"""Prometheus metrics at `/metrics`.

Under gunicorn every worker is a separate process, so metrics use prometheus-client's
multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set (gunicorn.conf.py sets it
and cleans it up); otherwise the default in-process registry. Labels are bounded:
route templates (never raw paths), methods, status codes, sources and reasons —
never run ids, users or tenants.
"""

from __future__ import annotations

import os

from flask import Flask, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from .outbox.health import outbox_status
from .state import ingress_state

REQUESTS = Counter(
    "ingress_http_requests_total", "HTTP requests by route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "ingress_http_request_duration_seconds", "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RUNS_ACCEPTED = Counter("ingress_runs_accepted_total", "Runs accepted.", ["source"])
RUNS_DENIED = Counter("ingress_runs_denied_total", "Runs refused by tenant rules or policies.",
                      ["reason"])
POLICY_SECONDS = Histogram(
    "ingress_policy_evaluation_seconds", "Time spent evaluating a tenant's policies.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1),
)
OUTBOX_PUBLISHED = Counter("ingress_outbox_published_total", "Outbox messages delivered to Kafka.")
OUTBOX_PUBLISH_ERRORS = Counter("ingress_outbox_publish_errors_total",
                                "Outbox deliveries that failed for a passing reason (retried).")
OUTBOX_DEAD_LETTERED = Counter(
    "ingress_outbox_dead_lettered_total",
    "Outbox messages Kafka refused for good (dead-lettered), by librdkafka error name.",
    ["error"],
)
CONSUMER_LAG = Gauge("ingress_run_events_consumer_lag", "Messages behind on the run events topic.",
                     multiprocess_mode="max")
EVENTS_CONSUMED = Counter("ingress_run_events_total", "Run status events by outcome.", ["outcome"])
WEBHOOK_DELIVERIES = Counter("ingress_webhook_deliveries_total", "Webhook deliveries.",
                             ["source", "outcome"])
CACHE_LOOKUPS = Counter("ingress_cache_lookups_total", "Run cache lookups.", ["result"])
CALLBACKS_DELIVERED = Counter("ingress_callbacks_delivered_total",
                              "Callbacks a receiver accepted (2xx).")
CALLBACK_FAILURES = Counter(
    "ingress_callbacks_failed_total",
    "Callback attempts that failed: retried, dead (gave up, dead-lettered) or gone (410).",
    ["outcome"],
)
CALLBACK_SECONDS = Histogram(
    "ingress_callback_attempt_duration_seconds", "Time one callback attempt took.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CALLBACK_DELAY = Histogram(
    "ingress_callback_delivery_latency_seconds",
    "From the status change to the callback's delivery (retries included).",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0),
)


class OutboxCollector:
    """Outbox backlog, read from the database at scrape time (shared by all processes)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        pending = GaugeMetricFamily("ingress_outbox_pending", "Outbox messages waiting for Kafka.")
        oldest = GaugeMetricFamily("ingress_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest waiting outbox message.")
        failed = GaugeMetricFamily("ingress_outbox_failed",
                                   "Dead-lettered outbox messages (`flask outbox failed`).")
        try:
            status = outbox_status(self.app)
        except Exception:  # a scrape never fails because the database is down
            return
        pending.add_metric([], status["pending"])
        oldest.add_metric([], status["oldest_pending_age_seconds"] or 0.0)
        failed.add_metric([], status["failed"])
        yield pending
        yield oldest
        yield failed
        yield from self._callbacks()

    def _callbacks(self):
        from .callbacks.service import callback_status

        try:
            with self.app.app_context():
                status = callback_status()
        except Exception:  # a scrape never fails because the database is down
            return
        pending = GaugeMetricFamily("ingress_callbacks_pending", "Callbacks waiting to be sent.")
        failed = GaugeMetricFamily("ingress_callbacks_failed",
                                   "Dead-lettered callbacks (`flask callbacks failed`).")
        pending.add_metric([], status["pending"])
        failed.add_metric([], status["failed"])
        yield pending
        yield failed


_children: dict[tuple, tuple] = {}
# The method is the client's to choose (`FOO1`, `FOO2`, …): any other is counted as
# OTHER, so label values (and the children cached here) stay a small fixed set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request and its latency (called by `frontdoor.FrontDoor`)."""
    if method not in _METHODS:
        method = "OTHER"
    key = (method, route, status)
    children = _children.get(key)
    if children is None:  # label lookups are cached: routes × methods × statuses is small
        children = _children[key] = (
            LATENCY.labels(method, route),
            REQUESTS.labels(method, route, str(status)),
        )
    children[0].observe(seconds)
    children[1].inc()


def _registry(app: Flask) -> CollectorRegistry:
    registry = ingress_state(app).metrics_registry
    if registry is not None:
        return registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistryProxy())
    registry.register(OutboxCollector(app))
    ingress_state(app).metrics_registry = registry
    return registry


class _DefaultRegistryProxy:
    """Expose the process-wide default registry inside a per-app registry."""

    def collect(self):
        return REGISTRY.collect()


def metrics_view():
    """Prometheus text exposition of every metric."""
    body = generate_latest(_registry(current_app._get_current_object()))
    return Response(body, mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_metrics(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
