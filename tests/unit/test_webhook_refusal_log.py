"""Refused webhook deliveries are logged at most once per interval, with a count."""

from __future__ import annotations

from types import SimpleNamespace

from ingress_app.webhooks.intake import RefusalLog


def test_the_refusal_log_logs_once_per_interval_and_reports_what_it_held_back(caplog):
    clock = [1000.0]
    log = RefusalLog(interval=60, clock=lambda: clock[0])
    webhook = SimpleNamespace(webhook_id="w-1", tenant_id="acme")

    logged = [log.refused(webhook, "the X-Webhook-Token token is not valid") for _ in range(5)]
    clock[0] += 61
    logged.append(log.refused(webhook, "the X-Webhook-Token token is not valid"))

    assert logged == [True, False, False, False, False, True]
    assert log.last_suppressed == 4
    lines = [r for r in caplog.records if r.getMessage().startswith("webhook delivery refused")]
    assert len(lines) == 2
    assert lines[1].refusals_not_logged == 4
