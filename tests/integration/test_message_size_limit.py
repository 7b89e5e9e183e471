"""A run whose Kafka message would exceed KAFKA_MAX_MESSAGE_BYTES is a 413 before
anything is stored: on both accept paths, on the webhook intake (after the input
mapping) and on validate. Stored, such a run would never reach the orchestrator."""

from __future__ import annotations

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import create_webhook, intake

# The default limit is 1,000,000 bytes and MAX_CONTENT_LENGTH 1 MiB: a body between the
# two passes the body check, and only the message size stops it.
BIG = "x" * 1_010_000
RUN_TABLES = ("flow_runs_audit", "outbox_messages", "audit_events")


def stored(pg) -> dict[str, int]:
    return {table: count(pg, table) for table in RUN_TABLES}


def assert_too_large(response, limit: int = 1_000_000) -> dict:
    body = assert_error(response, 413, "Request Entity Too Large")
    assert "KAFKA_MAX_MESSAGE_BYTES" in body["detail"]
    assert f"{limit} bytes" in body["detail"]
    return body


@pytest.fixture
def pair(make_pg_app):
    """The direct accept path (default) and the Flask view, on one database."""
    return make_pg_app(), make_pg_app(RUN_FRONT_DOOR=False)


def test_an_oversized_run_is_413_on_both_accept_paths_and_nothing_is_stored(
    pair, flask_handled, pg
):
    headers = auth()
    for app in pair:  # each verifies the token once, so the direct path takes the POST
        app.test_client().get("/v1/runs", headers=headers)
    flask_handled.clear()
    body = {"flow_definition": sample_flow(), "input": {"text": BIG}}

    answers = [app.test_client().post("/v1/runs", json=body, headers=headers) for app in pair]

    assert flask_handled == [pair[1].name]  # the first was answered in front of Flask
    assert [assert_too_large(a) for a in answers][0] == answers[1].get_json()
    assert stored(pg) == {table: 0 for table in RUN_TABLES}


def test_the_limit_counts_the_whole_message_not_only_the_input(make_pg_app, pg):
    app = make_pg_app(KAFKA_MAX_MESSAGE_BYTES=4000)
    client = app.test_client()
    small_input = {"text": "x" * 100}
    big_flow = sample_flow()
    big_flow["tasks"][0]["config"] = {"prompt": "p" * 4000}

    refused = client.post(
        "/v1/runs", json={"flow_definition": big_flow, "input": small_input}, headers=auth()
    )
    accepted = client.post(
        "/v1/runs", json={"flow_definition": sample_flow(), "input": small_input}, headers=auth()
    )

    assert_too_large(refused, 4000)
    assert accepted.status_code == 202
    assert count(pg, "outbox_messages") == 1


def test_every_accepted_message_is_within_the_limit_and_a_little_more_is_refused(
    make_pg_app, pg
):
    limit = 3000
    client = make_pg_app(KAFKA_MAX_MESSAGE_BYTES=limit).test_client()
    accepted_sizes = []
    for length in range(1500, 3000, 7):  # across the limit: accepted, then refused
        response = client.post(
            "/v1/runs",
            json={"flow_definition": sample_flow(), "input": {"t": "é" * (length // 2)}},
            headers=auth(),
        )
        if response.status_code == 413:
            break
        assert response.status_code == 202, response.get_data(as_text=True)
        accepted_sizes.append(length)
    else:
        pytest.fail("nothing was refused")

    assert accepted_sizes  # some were accepted before the limit
    rows = pg.execute("SELECT key, headers, payload FROM outbox_messages").fetchall()
    assert len(rows) == len(accepted_sizes)
    records = [  # what librdkafka counts: framing, value, key, headers with their lengths
        36 + len(row["payload"].encode()) + len(row["key"].encode())
        + sum(len(k.encode()) + len(v.encode()) + 2 for k, v in row["headers"].items())
        for row in rows
    ]
    assert max(records) <= limit
    # the largest accepted one came close (a step is up to 8 bytes): not far too strict
    assert max(records) > limit - 40


def test_a_retry_of_a_run_accepted_before_the_limit_was_lowered_gets_its_run(make_pg_app):
    body = {"flow_definition": sample_flow(), "input": {"t": "x" * 3000}, "request_id": "r-1"}
    first = make_pg_app().test_client().post("/v1/runs", json=body, headers=auth())
    assert first.status_code == 202

    again = make_pg_app(KAFKA_MAX_MESSAGE_BYTES=2000).test_client().post(
        "/v1/runs", json=body, headers=auth()
    )

    assert again.status_code == 202
    assert again.get_json()["run_id"] == first.get_json()["run_id"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_validate_answers_413_for_an_oversized_run_and_200_for_a_normal_one(client, pg):
    oversized = client.post(
        "/v1/runs/validate",
        json={"flow_definition": sample_flow(), "input": {"text": BIG}},
        headers=auth(),
    )
    normal = client.post(
        "/v1/runs/validate",
        json={"flow_definition": sample_flow(), "input": {"text": "x" * 1000}},
        headers=auth(),
    )

    assert_too_large(oversized)
    assert normal.status_code == 200 and normal.get_json()["valid"] is True
    assert stored(pg) == {table: 0 for table in RUN_TABLES}


def test_a_webhook_delivery_too_large_as_it_is_is_413(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})
    before = count(pg, "audit_events")  # the webhook's creation

    response = client.post(
        intake(webhook), json={"text": BIG}, headers={"X-Webhook-Token": webhook["secret"]}
    )

    assert_too_large(response)
    assert count(pg, "flow_runs_audit") == 0 and count(pg, "outbox_messages") == 0
    assert pg.execute(
        "SELECT outcome, status_code FROM webhook_deliveries"
    ).fetchall() == [{"outcome": "rejected", "status_code": 413}]
    assert count(pg, "audit_events") == before + 1  # the rejection, no acceptance


def test_a_webhook_mapping_that_repeats_the_payload_is_413_after_mapping(client, pg):
    # Each copy is well under the limit; the mapping makes the input three times as big.
    webhook = create_webhook(
        client,
        auth={"type": "header-token"},
        input_mapping={"a": "payload", "b": "payload", "c": "payload"},
    )
    payload = {"text": "y" * 400_000}
    headers = {"X-Webhook-Token": webhook["secret"]}

    response = client.post(intake(webhook), json=payload, headers=headers)
    small = client.post(intake(webhook), json={"text": "ok"}, headers=headers)

    assert_too_large(response)
    assert small.status_code == 202
    assert count(pg, "flow_runs_audit") == 1 and count(pg, "outbox_messages") == 1
