"""Anyone who knows a webhook's URL can send deliveries with wrong credentials: each is a
401 that writes nothing (no audit event, no delivery row), is counted in a metric and
logged at most once a minute."""

from __future__ import annotations

import logging
import re

from ingress_app.webhooks import intake as intake_module
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import create_webhook, intake

UNAUTHORIZED = 'ingress_webhook_deliveries_total{outcome="unauthorized",source="zapier"}'


def metric(client, name: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_fifty_bad_tokens_are_401_and_write_nothing(client, pg, caplog, monkeypatch):
    monkeypatch.setattr(intake_module, "refusal_log", intake_module.RefusalLog())
    webhook = create_webhook(client, source="zapier", auth={"type": "header-token"})
    audit_before = count(pg, "audit_events")  # the webhook's creation
    metric_before = metric(client, UNAUTHORIZED)

    with caplog.at_level(logging.WARNING, logger="ingress_app.webhooks.intake"):
        for i in range(50):
            headers = {"X-Webhook-Token": f"wrong-{i}"} if i % 2 else {}
            response = client.post(intake(webhook), json={"i": i}, headers=headers)
            assert_error(response, 401)
            assert response.headers["WWW-Authenticate"]

    assert count(pg, "audit_events") == audit_before
    assert count(pg, "webhook_deliveries") == 0
    assert count(pg, "flow_runs_audit") == 0
    assert metric(client, UNAUTHORIZED) == metric_before + 50
    refusals = [r for r in caplog.records if r.getMessage().startswith("webhook delivery refused")]
    assert len(refusals) == 1  # the first; the other 49 wait for the next interval
    # the right token still works, and is recorded
    right = client.post(
        intake(webhook), json={"a": 1}, headers={"X-Webhook-Token": webhook["secret"]}
    )
    assert right.status_code == 202
    assert count(pg, "webhook_deliveries") == 1
