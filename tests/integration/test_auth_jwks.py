"""Tokens verified with the identity provider's JWKS (`JWT_JWKS_URL`).

A small HTTP server on loopback plays the provider's JWKS endpoint; the test changes
what it serves (rotation), stops it (outage) and counts its requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ingress_app import create_app
from ingress_app.config import ConfigError
from ingress_app.state import ingress_state
from tests.conftest import base_config, sample_flow
from tests.integration.conftest import assert_error

RUN = {"flow_definition": sample_flow(), "input": {}}


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys():
    return {"a": _rsa_key(), "b": _rsa_key(), "x": _rsa_key()}


def jwk(kid: str, key) -> dict:
    data = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256"}


class JwksServer:
    """Serves `self.keys` as a JWKS document; counts the requests it answered."""

    def __init__(self):
        self.keys: list[dict] = []
        self.raw: bytes | None = None  # served instead of the key set when set
        self.requests = 0
        self.hang = threading.Event()  # while set, requests wait (up to 10 s) unanswered
        self.released = threading.Event()
        self._count = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                with server._count:
                    server.requests += 1
                if server.hang.is_set():
                    server.released.wait(10)
                body = server.raw if server.raw is not None else json.dumps(
                    {"keys": server.keys}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server():
    server = JwksServer()
    yield server
    server.stop()


def token(key, kid: str | None = "a", tenant: str = "acme", **extra) -> str:
    claims = {"sub": "alice", "tenant_id": tenant, "exp": int(time.time()) + 600, **extra}
    headers = {"kid": kid} if kid is not None else None
    return pyjwt.encode(claims, key, algorithm="RS256", headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def make_jwks_app(make_pg_app, jwks_server):
    def factory(**overrides):
        settings = {
            "JWT_ALGORITHM": "RS256",
            "JWT_SECRET_KEY": "",
            "JWT_JWKS_URL": jwks_server.url,
            "JWT_JWKS_REFRESH_COOLDOWN_SECONDS": 0,
            **overrides,
        }
        return make_pg_app(**settings)

    return factory


def test_a_token_signed_by_a_key_of_the_set_is_accepted(make_jwks_app, jwks_server, keys, pg):
    jwks_server.keys = [jwk("a", keys["a"]), jwk("b", keys["b"])]
    client = make_jwks_app().test_client()

    for kid in ("a", "b"):
        response = client.post("/v1/runs", json=RUN, headers=bearer(token(keys[kid], kid)))
        assert response.status_code == 202, response.get_json()
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 2
    assert jwks_server.requests == 1  # the set is fetched once and kept


def test_a_rotated_in_key_is_fetched_when_a_token_names_it(make_jwks_app, jwks_server, keys):
    jwks_server.keys = [jwk("a", keys["a"])]
    client = make_jwks_app().test_client()
    assert client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))).status_code == 200

    jwks_server.keys = [jwk("a", keys["a"]), jwk("b", keys["b"])]  # the provider rotates
    response = client.get("/v1/runs", headers=bearer(token(keys["b"], "b")))

    assert response.status_code == 200
    assert jwks_server.requests == 2


def test_unknown_kids_are_401_and_refetch_at_most_once_per_cooldown(
    make_jwks_app, jwks_server, keys
):
    jwks_server.keys = [jwk("a", keys["a"])]
    client = make_jwks_app(JWT_JWKS_REFRESH_COOLDOWN_SECONDS=30).test_client()
    assert client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))).status_code == 200

    answers = [
        client.get("/v1/runs", headers=bearer(token(keys["x"], f"made-up-{i}")))
        for i in range(5)
    ]

    for response in answers:
        body = assert_error(response, 401)
        assert "signing key" in body["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert jwks_server.requests == 1  # within the cooldown: no fetch per made-up kid


@pytest.mark.parametrize("case", ["kid-of-another-key", "hs256-signed-with-the-jwk", "no-kid-two-keys"])
def test_forged_tokens_are_401(make_jwks_app, jwks_server, keys, case, pg):
    jwks_server.keys = [jwk("a", keys["a"]), jwk("b", keys["b"])]
    client = make_jwks_app().test_client()
    if case == "kid-of-another-key":  # signed by x, claims to be a
        value = token(keys["x"], "a")
    elif case == "hs256-signed-with-the-jwk":  # algorithm confusion with the public JWK
        header = base64.urlsafe_b64encode(
            json.dumps({"alg": "HS256", "typ": "JWT", "kid": "a"}).encode()
        ).rstrip(b"=")
        payload = base64.urlsafe_b64encode(
            json.dumps({"sub": "alice", "tenant_id": "acme", "exp": int(time.time()) + 600}).encode()
        ).rstrip(b"=")
        secret = json.dumps(jwk("a", keys["a"])).encode()
        signature = base64.urlsafe_b64encode(
            hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
        ).rstrip(b"=")
        value = (header + b"." + payload + b"." + signature).decode()
    else:
        value = token(keys["a"], None)

    response = client.post("/v1/runs", json=RUN, headers=bearer(value))

    assert_error(response, 401)
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 0


def test_without_kid_the_only_key_of_the_set_is_used(make_jwks_app, jwks_server, keys):
    jwks_server.keys = [jwk("a", keys["a"])]
    client = make_jwks_app().test_client()

    assert client.get("/v1/runs", headers=bearer(token(keys["a"], None))).status_code == 200
    assert_error(client.get("/v1/runs", headers=bearer(token(keys["x"], None))), 401)


def test_provider_down_before_any_fetch_is_503_then_recovers(make_jwks_app, jwks_server, keys):
    jwks_server.keys = [jwk("a", keys["a"])]
    url = jwks_server.url
    jwks_server.stop()
    app = make_jwks_app(JWT_JWKS_URL=url, JWT_JWKS_TIMEOUT_SECONDS=0.5)

    response = app.test_client().get("/v1/runs", headers=bearer(token(keys["a"], "a")))

    body = assert_error(response, 503)
    assert "signing keys" in body["detail"]
    assert response.headers["Retry-After"] == "5"


def test_provider_down_after_a_fetch_keeps_the_last_key_set(make_jwks_app, jwks_server, keys):
    jwks_server.keys = [jwk("a", keys["a"])]
    client = make_jwks_app(JWT_JWKS_CACHE_SECONDS=1, JWT_JWKS_TIMEOUT_SECONDS=0.5).test_client()
    assert client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))).status_code == 200
    jwks_server.stop()
    time.sleep(1.2)  # the cached set has expired: the next token makes a (failing) fetch

    fresh = token(keys["a"], "a", jti="another")  # not in the verified-token cache
    response = client.get("/v1/runs", headers=bearer(fresh))

    assert response.status_code == 200


@pytest.mark.parametrize("served", [b"<html>oops</html>", b'{"keys": []}'])
def test_a_provider_serving_no_usable_key_set_is_503_not_a_verdict_on_the_token(
    make_jwks_app, jwks_server, keys, served
):
    jwks_server.raw = served
    client = make_jwks_app().test_client()

    assert_error(client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))), 503)

    jwks_server.raw = None  # the provider is fixed
    jwks_server.keys = [jwk("a", keys["a"])]
    assert client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))).status_code == 200


def test_a_provider_turning_to_garbage_keeps_the_last_good_set(make_jwks_app, jwks_server, keys):
    jwks_server.keys = [jwk("a", keys["a"])]
    client = make_jwks_app(JWT_JWKS_CACHE_SECONDS=1).test_client()
    assert client.get("/v1/runs", headers=bearer(token(keys["a"], "a"))).status_code == 200
    jwks_server.raw = b'{"keys": []}'
    time.sleep(1.2)

    response = client.get("/v1/runs", headers=bearer(token(keys["a"], "a", jti="fresh")))

    assert response.status_code == 200
    assert jwks_server.requests >= 2  # it did ask, and fell back


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"JWT_ALGORITHM": "HS256", "JWT_SECRET_KEY": "s" * 40}, "asymmetric"),
        ({"JWT_JWKS_URL": "ftp://idp.example.com/keys"}, r"not an http\(s\) URL"),
        ({"INGRESS_ENV": "production", "JWT_JWKS_URL": "http://idp.example.com/jwks.json",
          "DATABASE_URL": "sqlite://"}, "https in production"),
    ],
)
def test_bad_jwks_settings_stop_the_start(settings, message):
    config = base_config(
        JWT_ALGORITHM="RS256", JWT_SECRET_KEY="",
        JWT_JWKS_URL="https://idp.example.com/.well-known/jwks.json",
    )
    config.update(settings)
    with pytest.raises(ConfigError, match=message):
        create_app(config)


def test_production_accepts_https_and_loopback_jwks_urls():
    for url in ("https://idp.example.com/.well-known/jwks.json", "http://127.0.0.1:8080/jwks"):
        app = create_app(base_config(
            JWT_ALGORITHM="RS256", JWT_SECRET_KEY="", JWT_JWKS_URL=url, INGRESS_ENV="production",
            DATABASE_URL="sqlite://",
        ))
        assert ingress_state(app).jwks is not None


def test_a_hanging_provider_before_any_fetch_is_fetched_once_for_all_waiting_requests(
    make_jwks_app, jwks_server, keys
):
    jwks_server.keys = [jwk("a", keys["a"])]
    jwks_server.hang.set()
    app = make_jwks_app(JWT_JWKS_TIMEOUT_SECONDS=1)
    client = app.test_client()
    headers = bearer(token(keys["a"], "a"))

    def call():
        started = time.monotonic()
        response = client.get("/v1/runs", headers=headers)
        return response, time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: call(), range(8)))

    assert jwks_server.requests == 1
    for response, elapsed in results:
        body = assert_error(response, 503)
        assert "signing keys" in body["detail"]
        assert response.headers["Retry-After"]
        assert elapsed < 3, f"took {elapsed:.2f}s"

    jwks_server.hang.clear()
    jwks_server.released.set()
    assert client.get("/v1/runs", headers=headers).status_code == 200
    assert jwks_server.requests == 2
