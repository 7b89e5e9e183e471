"""The cached-read fast path (runs/fastread.py) answers exactly as Flask would.

Two apps share the database and the cache key space: one with the fast path (the
default), one without. For each case the same request goes to both and the answers
must agree (status, body, headers but the date); `request_started` (a Flask signal)
tells which requests Flask itself handled.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import auth, key_prefix, other_redis_db, redis_url_with_db, sample_flow
from tests.integration.conftest import UNVERIFIED_CREDENTIALS, unverified_credentials

RUN = {"flow_definition": sample_flow(), "input": {"email": "a@example.com"}}


@pytest.fixture
def pair(make_pg_app):
    prefix = key_prefix()
    fast = make_pg_app(CACHE_KEY_PREFIX=prefix)
    plain = make_pg_app(CACHE_KEY_PREFIX=prefix, RUN_READ_FAST_PATH=False)
    return fast, plain


def _comparable(response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("Date",))
    return response.status_code, response.get_data(), headers


def _get_both(pair, path, headers):
    headers = {**headers, "X-Correlation-ID": "same-for-both"}
    return [_comparable(app.test_client().get(path, headers=headers)) for app in pair]


def _created_and_cached(fast) -> tuple[str, dict]:
    client = fast.test_client()
    headers = auth()
    run_id = client.post("/v1/runs", json=RUN, headers=headers).get_json()["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=headers).status_code == 200  # fills cache
    return run_id, headers


def test_a_cached_read_is_answered_without_flask_and_equals_the_flask_answer(
    pair, flask_handled
):
    fast, plain = pair
    run_id, headers = _created_and_cached(fast)
    flask_handled.clear()

    fast_answer, plain_answer = _get_both(pair, f"/v1/runs/{run_id}", headers)

    assert fast_answer == plain_answer
    assert fast_answer[0] == 200
    assert flask_handled == [plain.name]  # only the app without the fast path ran Flask
    headers_of_fast = dict(fast_answer[2])
    assert headers_of_fast["Cache-Control"] == "no-store"
    assert headers_of_fast["X-Content-Type-Options"] == "nosniff"
    assert headers_of_fast["X-Correlation-ID"] == "same-for-both"


def test_the_fast_path_counts_requests_and_cache_hits_like_flask(pair):
    fast, _ = pair
    run_id, headers = _created_and_cached(fast)
    client = fast.test_client()

    def counts() -> tuple[float, float]:
        text = client.get("/metrics").get_data(as_text=True)
        req = re.search(
            r'^ingress_http_requests_total\{method="GET",route="/v1/runs/<string:run_id>",'
            r'status="200"\} (\S+)$', text, re.M)
        hit = re.search(r'^ingress_cache_lookups_total\{result="hit"\} (\S+)$', text, re.M)
        return float(req.group(1)), float(hit.group(1))

    before = counts()
    for _ in range(3):
        assert client.get(f"/v1/runs/{run_id}", headers=headers).status_code == 200
    after = counts()

    assert after[0] - before[0] == 3
    assert after[1] - before[1] == 3


@pytest.mark.parametrize(
    "case",
    ["other-tenant", *UNVERIFIED_CREDENTIALS,
     "query-string", "unknown-run", "not-a-uuid"],
)
def test_everything_but_a_plain_hit_goes_to_flask_and_answers_the_same(
    pair, flask_handled, case
):
    fast, plain = pair
    run_id, headers = _created_and_cached(fast)
    path = f"/v1/runs/{run_id}"
    if case == "other-tenant":
        headers = auth(tenant="globex")
        fast.test_client().get(path, headers=headers)  # the token is now verified
    elif case in UNVERIFIED_CREDENTIALS:
        headers = unverified_credentials(case)
    elif case == "query-string":
        path += "?x=1"
    elif case == "unknown-run":
        path = f"/v1/runs/{uuid.uuid4()}"
    elif case == "not-a-uuid":
        path = "/v1/runs/order-77"
    flask_handled.clear()

    fast_answer, plain_answer = _get_both(pair, path, headers)

    assert fast_answer == plain_answer
    assert flask_handled == [fast.name, plain.name]  # both went through Flask


def test_with_cors_configured_a_cross_origin_read_gets_flask_cors_headers(make_pg_app):
    prefix = key_prefix()
    app = make_pg_app(CACHE_KEY_PREFIX=prefix, CORS_ORIGINS="https://ui.example.com")
    run_id, headers = _created_and_cached(app)

    response = app.test_client().get(
        f"/v1/runs/{run_id}", headers={**headers, "Origin": "https://ui.example.com"}
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://ui.example.com"


def test_a_status_change_is_seen_at_once_by_the_fast_path(pair):
    fast, _ = pair
    run_id, headers = _created_and_cached(fast)
    client = fast.test_client()

    assert client.post(f"/v1/runs/{run_id}/cancel", headers=headers).status_code == 202
    after = client.get(f"/v1/runs/{run_id}", headers=headers)

    assert after.get_json()["status"] == "CANCEL_REQUESTED"


def _fast_path_connection(app):
    from ingress_app.runs.fastread import CachedRunReads, ThreadRedisGets

    layer = app.wsgi_app
    while not isinstance(layer, CachedRunReads):
        layer = layer.wsgi_app
    assert isinstance(layer.backend, ThreadRedisGets)
    return layer.backend._local.conn


def test_reads_use_the_caches_redis_settings_and_survive_a_killed_connection(
    make_pg_app, redis_url, flask_handled
):
    import redis as redis_lib

    other_db = redis_url_with_db(redis_url, other_redis_db(redis_url))  # must be selected
    app = make_pg_app(REDIS_URL=other_db)
    run_id, headers = _created_and_cached(app)
    client = app.test_client()
    flask_handled.clear()

    first = client.get(f"/v1/runs/{run_id}", headers=headers)
    assert first.status_code == 200 and flask_handled == []  # a hit, read from that database
    conn = _fast_path_connection(app)
    admin = redis_lib.Redis.from_url(other_db)
    host, port = conn._sock.getsockname()[:2]
    assert admin.client_kill_filter(addr=f"{host}:{port}") == 1

    after_kill = client.get(f"/v1/runs/{run_id}", headers=headers)
    again = client.get(f"/v1/runs/{run_id}", headers=headers)

    assert after_kill.status_code == 200 and after_kill.get_data() == first.get_data()
    assert flask_handled == [app.name]  # the failed read went to Flask, which answered
    assert again.status_code == 200 and flask_handled == [app.name]  # reconnected: fast again
