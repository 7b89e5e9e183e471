"""Authentication: every bad token is a 401 with a Bearer challenge and the envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ingress_app import ConfigError, create_app
from tests.conftest import JWT_SECRET, auth, make_token, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored

RUN = {"flow_definition": sample_flow()}


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def hand_signed_hs256(payload: Any, key: bytes, header: dict | None = None) -> str:
    """An HS256 token made byte by byte (PyJWT refuses to HMAC with a PEM key)."""
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    signature = b64url(hmac.new(key, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + signature).decode()


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "tenant_id": "acme", "iat": now, "exp": now + 600, **extra}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def assert_unauthorized(response) -> dict:
    body = assert_error(response, 401, "Unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


# --------------------------------------------------------------------------- HS256 matrix


def _bad_headers(rsa_private: bytes) -> dict[str, dict[str, str]]:
    long_secret = JWT_SECRET + "y" * 40  # HS512 wants >= 64 bytes of key
    return {
        "missing-header": {},
        "basic-scheme": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        "token-without-scheme": {"Authorization": make_token()},
        "bearer-without-token": {"Authorization": "Bearer "},
        "garbage-token": bearer("not-a-jwt"),
        "garbage-segments": bearer("a.b.c"),
        "bad-signature": auth(secret="another-secret-" + "z" * 40),
        "alg-none": bearer(pyjwt.encode(claims(), None, algorithm="none")),
        "alg-none-uppercase": bearer(
            hand_signed_hs256(claims(), b"", {"alg": "NONE", "typ": "JWT"}).rsplit(".", 1)[0] + "."
        ),
        "hs512-when-hs256-pinned": auth(secret=long_secret, algorithm="HS512"),
        "rs256-when-hs256-pinned": bearer(pyjwt.encode(claims(), rsa_private, algorithm="RS256")),
        "expired-beyond-leeway": auth(expires_in=-120),
        "missing-exp": auth(expires_in=None),
        "exp-not-a-number": bearer(hand_signed_hs256(claims(exp="tomorrow"), JWT_SECRET.encode())),
        "not-yet-valid": auth(nbf=int(time.time()) + 3600),
        "missing-sub": bearer(make_token(user=None)),
        "sub-is-int": bearer(make_token(user=42)),
        "sub-is-empty": bearer(make_token(user="")),
        "missing-tenant": bearer(make_token(tenant=None)),
        "tenant-is-int": bearer(make_token(tenant=7)),  # type: ignore[arg-type]
        "tenant-is-list": bearer(make_token(tenant=["acme"])),  # type: ignore[arg-type]
        "tenant-is-empty": bearer(make_token(tenant="")),
        "sub-too-long": bearer(make_token(user="u" * 256)),
        "tenant-too-long": bearer(make_token(tenant="t" * 256)),
        "sub-with-nul": bearer(make_token(user="ali\x00ce")),
        "tenant-with-nul": bearer(make_token(tenant="ac\x00me")),
        "sub-with-lone-surrogate": bearer(make_token(user="\ud800")),
        "refresh-token": auth(type="refresh"),
        "payload-not-an-object": bearer(hand_signed_hs256(["acme"], JWT_SECRET.encode())),
        "exp-beyond-a-float": bearer(hand_signed_hs256(claims(exp=10**400), JWT_SECRET.encode())),
        "nbf-beyond-a-float": bearer(
            hand_signed_hs256(claims(nbf=-(10**400)), JWT_SECRET.encode())
        ),
        "iat-beyond-a-float": bearer(
            hand_signed_hs256(claims(iat=-(10**400)), JWT_SECRET.encode())
        ),
        "exp-a-numeric-string": bearer(
            hand_signed_hs256(claims(exp=str(int(time.time()) + 600)), JWT_SECRET.encode())
        ),
        "nbf-a-numeric-string": bearer(
            hand_signed_hs256(claims(nbf=str(int(time.time()) - 10)), JWT_SECRET.encode())
        ),
        "exp-true": bearer(hand_signed_hs256(claims(exp=True), JWT_SECRET.encode())),
        "lifetime-beyond-the-ceiling": auth(expires_in=86_400 + 3600),
        "lifetime-from-iat-beyond-the-ceiling": auth(
            expires_in=3600, iat=int(time.time()) - 86_400
        ),
    }


BAD_CASES = [
    "missing-header",
    "basic-scheme",
    "token-without-scheme",
    "bearer-without-token",
    "garbage-token",
    "garbage-segments",
    "bad-signature",
    "alg-none",
    "alg-none-uppercase",
    "hs512-when-hs256-pinned",
    "rs256-when-hs256-pinned",
    "expired-beyond-leeway",
    "missing-exp",
    "exp-not-a-number",
    "not-yet-valid",
    "missing-sub",
    "sub-is-int",
    "sub-is-empty",
    "missing-tenant",
    "tenant-is-int",
    "tenant-is-list",
    "tenant-is-empty",
    "sub-too-long",
    "tenant-too-long",
    "sub-with-nul",
    "tenant-with-nul",
    "sub-with-lone-surrogate",
    "refresh-token",
    "payload-not-an-object",
    "exp-beyond-a-float",
    "nbf-beyond-a-float",
    "iat-beyond-a-float",
    "exp-a-numeric-string",
    "nbf-a-numeric-string",
    "exp-true",
    "lifetime-beyond-the-ceiling",
    "lifetime-from-iat-beyond-the-ceiling",
]


def test_matrix_lists_every_bad_case(rsa_keys):
    assert sorted(_bad_headers(rsa_keys[0])) == sorted(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_credentials_on_create_are_401_with_bearer_challenge_and_nothing_stored(
    quiet_client, pg, rsa_keys, case
):
    headers = _bad_headers(rsa_keys[0])[case]

    response = quiet_client.post("/v1/runs", json=RUN, headers=headers)

    assert_unauthorized(response)
    assert_nothing_stored(pg)


@pytest.mark.parametrize(
    "case",
    [
        "missing-header",
        "bad-signature",
        "alg-none",
        "sub-is-int",
        "tenant-is-empty",
        "tenant-with-nul",
        "exp-beyond-a-float",
        "nbf-beyond-a-float",
        "lifetime-beyond-the-ceiling",
    ],
)
def test_bad_credentials_on_read_are_401_with_bearer_challenge(quiet_client, rsa_keys, case):
    headers = _bad_headers(rsa_keys[0])[case]

    response = quiet_client.get("/v1/runs/some-run", headers=headers)

    assert_unauthorized(response)


def test_token_expired_within_the_leeway_is_still_accepted(client):
    response = client.post("/v1/runs", json=RUN, headers=auth(expires_in=-5))

    assert response.status_code == 202


def test_identity_of_the_longest_allowed_length_is_accepted(client, pg):
    response = client.post("/v1/runs", json=RUN, headers=auth("t" * 255, "u" * 255))

    assert response.status_code == 202


def test_token_accepted_before_is_refused_once_it_has_expired(make_pg_app):
    client = make_pg_app(JWT_LEEWAY_SECONDS=0).test_client()
    expires = time.time() + 1.0
    headers = auth(expires_in=None, exp=expires)
    assert client.post("/v1/runs", json=RUN, headers=headers).status_code == 202

    time.sleep(max(0.0, expires - time.time()) + 0.2)

    assert_unauthorized(client.post("/v1/runs", json=RUN, headers=headers))


def test_valid_token_creates_a_run_for_its_user_and_tenant(client, pg):
    response = client.post("/v1/runs", json=RUN, headers=auth("globex", "bob"))

    assert response.status_code == 202
    row = pg.execute(
        "SELECT tenant_id, user_id FROM flow_runs_audit WHERE run_id = %s",
        (response.get_json()["run_id"],),
    ).fetchone()
    assert row == {"tenant_id": "globex", "user_id": "bob"}


def test_auth_errors_do_not_leak_the_secret(client):
    body = assert_unauthorized(client.post("/v1/runs", json=RUN, headers=auth(secret="s" * 40)))

    assert JWT_SECRET not in json.dumps(body)


# --------------------------------------------------------------------------- RS256


@pytest.fixture
def rs256_app(make_pg_app, rsa_keys):
    return make_pg_app(
        JWT_ALGORITHM="RS256", JWT_SECRET_KEY="", JWT_PUBLIC_KEY=rsa_keys[1].decode()
    )


def test_rs256_token_is_accepted_when_rs256_is_configured(rs256_app, rsa_keys):
    token = pyjwt.encode(claims(), rsa_keys[0], algorithm="RS256")

    response = rs256_app.test_client().post("/v1/runs", json=RUN, headers=bearer(token))

    assert response.status_code == 202


def test_hs256_token_signed_with_the_public_key_is_rejected(rs256_app, rsa_keys, pg):
    # algorithm confusion: the public key (known to everyone) used as an HMAC secret
    token = hand_signed_hs256(claims(), rsa_keys[1])

    response = rs256_app.test_client().post("/v1/runs", json=RUN, headers=bearer(token))

    assert_unauthorized(response)
    assert_nothing_stored(pg)


def test_rs256_token_signed_by_another_key_is_rejected(rs256_app):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = pyjwt.encode(claims(), other, algorithm="RS256")

    response = rs256_app.test_client().post("/v1/runs", json=RUN, headers=bearer(token))

    assert_unauthorized(response)


def test_rs256_public_key_can_be_read_from_a_file(make_pg_app, rsa_keys, tmp_path):
    key_file = tmp_path / "jwt.pub"
    key_file.write_bytes(rsa_keys[1])
    app = make_pg_app(
        JWT_ALGORITHM="RS256",
        JWT_SECRET_KEY="",
        JWT_PUBLIC_KEY="",
        JWT_PUBLIC_KEY_FILE=str(key_file),
    )
    token = pyjwt.encode(claims(), rsa_keys[0], algorithm="RS256")

    assert app.test_client().post("/v1/runs", json=RUN, headers=bearer(token)).status_code == 202


def test_rs256_public_key_with_escaped_newlines_is_accepted(make_pg_app, rsa_keys):
    # as it arrives from a one-line environment variable
    one_line = rsa_keys[1].decode().replace("\n", "\\n")
    app = make_pg_app(JWT_ALGORITHM="RS256", JWT_SECRET_KEY="", JWT_PUBLIC_KEY=one_line)
    token = pyjwt.encode(claims(), rsa_keys[0], algorithm="RS256")

    assert app.test_client().post("/v1/runs", json=RUN, headers=bearer(token)).status_code == 202


def test_es256_token_is_accepted_when_es256_is_configured(make_pg_app):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = make_pg_app(JWT_ALGORITHM="ES256", JWT_SECRET_KEY="", JWT_PUBLIC_KEY=public.decode())
    client = app.test_client()

    accepted = client.post(
        "/v1/runs", json=RUN, headers=bearer(pyjwt.encode(claims(), key, algorithm="ES256"))
    )
    confused = client.post(
        "/v1/runs", json=RUN, headers=bearer(hand_signed_hs256(claims(), public))
    )

    assert accepted.status_code == 202
    assert_unauthorized(confused)


def test_unreadable_public_key_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY_FILE"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "JWT_ALGORITHM": "RS256",
                "JWT_PUBLIC_KEY": "",
                "JWT_PUBLIC_KEY_FILE": str(tmp_path / "missing.pem"),
            }
        )


def test_rs256_without_a_public_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "JWT_ALGORITHM": "RS256",
                "JWT_PUBLIC_KEY": "",
                "JWT_PUBLIC_KEY_FILE": "",
            }
        )


# --------------------------------------------------------------------------- iss / aud


@pytest.fixture
def iss_aud_client(make_pg_app):
    app = make_pg_app(JWT_ISSUER="https://idp.example.com", JWT_AUDIENCE="ingress")
    return app.test_client()


def test_token_with_the_configured_issuer_and_audience_is_accepted(iss_aud_client):
    headers = auth(iss="https://idp.example.com", aud="ingress")

    assert iss_aud_client.post("/v1/runs", json=RUN, headers=headers).status_code == 202


@pytest.mark.parametrize(
    "extra",
    [
        {"iss": "https://evil.example.com", "aud": "ingress"},
        {"iss": "https://idp.example.com", "aud": "someone-else"},
        {"aud": "ingress"},
        {"iss": "https://idp.example.com"},
    ],
    ids=["wrong-issuer", "wrong-audience", "missing-issuer", "missing-audience"],
)
def test_token_with_wrong_or_missing_issuer_or_audience_is_401(iss_aud_client, extra):
    response = iss_aud_client.post("/v1/runs", json=RUN, headers=auth(**extra))

    assert_unauthorized(response)


# --------------------------------------------------------------------------- configuration


def test_production_without_jwt_secret_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError) as info:
        create_app(
            {
                "INGRESS_ENV": "production",
                "JWT_SECRET_KEY": "",
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )

    assert "JWT_SECRET_KEY" in str(info.value)
    assert "production" in str(info.value)


def test_production_rejects_a_short_jwt_secret(tmp_path):
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app(
            {
                "INGRESS_ENV": "production",
                "JWT_SECRET_KEY": "short",
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )


def test_unsupported_jwt_algorithm_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="JWT_ALGORITHM"):
        create_app(
            {
                "TESTING": True,
                "JWT_ALGORITHM": "none",
                "JWT_SECRET_KEY": JWT_SECRET,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )


# --------------------------------------------------------------------------- CLI


def test_cli_issued_token_is_accepted_for_its_tenant(app, client, pg):
    result = app.test_cli_runner().invoke(
        args=["tokens", "issue", "--tenant", "t1", "--user", "u1"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()

    response = client.post("/v1/runs", json=RUN, headers=bearer(token))

    assert response.status_code == 202
    row = pg.execute(
        "SELECT tenant_id, user_id FROM flow_runs_audit WHERE run_id = %s",
        (response.get_json()["run_id"],),
    ).fetchone()
    assert row == {"tenant_id": "t1", "user_id": "u1"}


def test_cli_issued_token_carries_the_requested_lifetime(app):
    result = app.test_cli_runner().invoke(
        args=["tokens", "issue", "--tenant", "t1", "--user", "u1", "--minutes", "5"]
    )

    decoded = pyjwt.decode(result.output.strip(), JWT_SECRET, algorithms=["HS256"])
    assert 4 * 60 <= decoded["exp"] - int(time.time()) <= 5 * 60
    assert (decoded["sub"], decoded["tenant_id"]) == ("u1", "t1")


# --------------------------------------------------------------------------- key rotation

NEW_SECRET = "rotated-secret-8c1d5e2f9a7b3064d2e8f1a5c9b7e3d1"


@pytest.fixture
def rotating_app(make_pg_app):
    """Mid-rotation: signs and verifies with the new secret, still accepts the old one."""
    return make_pg_app(JWT_SECRET_KEY=NEW_SECRET, JWT_PREVIOUS_SECRET_KEY=JWT_SECRET)


def test_during_rotation_tokens_of_the_new_and_the_previous_secret_are_accepted(
    rotating_app, pg
):
    client = rotating_app.test_client()

    old = client.post("/v1/runs", json=RUN, headers=auth(secret=JWT_SECRET))
    new = client.post("/v1/runs", json=RUN, headers=auth(secret=NEW_SECRET))

    assert (old.status_code, new.status_code) == (202, 202)
    rows = pg.execute("SELECT tenant_id, user_id FROM flow_runs_audit").fetchall()
    assert [(r["tenant_id"], r["user_id"]) for r in rows] == [("acme", "alice")] * 2


def test_during_rotation_a_third_key_is_still_refused(rotating_app, pg):
    response = rotating_app.test_client().post(
        "/v1/runs", json=RUN, headers=auth(secret="some-other-secret-0b1c2d3e4f5a6b7c8d9e")
    )

    assert_unauthorized(response)
    assert_nothing_stored(pg)


def test_during_rotation_an_expired_token_of_the_previous_secret_is_refused(rotating_app):
    response = rotating_app.test_client().get(
        "/v1/runs", headers=auth(secret=JWT_SECRET, expires_in=-3600)
    )

    body = assert_unauthorized(response)
    assert "expired" in body["detail"]


def test_during_rotation_previous_key_tokens_still_need_the_claims(rotating_app):
    token = pyjwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 600}, JWT_SECRET, algorithm="HS256"
    )

    body = assert_unauthorized(rotating_app.test_client().get("/v1/runs", headers=bearer(token)))
    assert "tenant_id" in body["detail"]


def test_without_a_previous_secret_the_old_secret_is_refused(make_pg_app):
    app = make_pg_app(JWT_SECRET_KEY=NEW_SECRET)

    assert_unauthorized(app.test_client().get("/v1/runs", headers=auth(secret=JWT_SECRET)))


def test_during_rs256_rotation_the_previous_public_key_verifies(make_pg_app, rsa_keys, tmp_path):
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new_public = new_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    previous_file = tmp_path / "previous.pub"
    previous_file.write_bytes(rsa_keys[1])
    app = make_pg_app(
        JWT_ALGORITHM="RS256",
        JWT_SECRET_KEY="",
        JWT_PUBLIC_KEY=new_public.decode(),
        JWT_PREVIOUS_PUBLIC_KEY_FILE=str(previous_file),
    )
    client = app.test_client()

    old = pyjwt.encode(claims(), rsa_keys[0], algorithm="RS256")
    new = pyjwt.encode(claims(), new_key, algorithm="RS256")
    # algorithm confusion with the previous public key as an HMAC secret stays refused
    confused = hand_signed_hs256(claims(), rsa_keys[1])

    assert client.post("/v1/runs", json=RUN, headers=bearer(old)).status_code == 202
    assert client.post("/v1/runs", json=RUN, headers=bearer(new)).status_code == 202
    assert_unauthorized(client.post("/v1/runs", json=RUN, headers=bearer(confused)))


def test_production_rejects_a_weak_previous_secret(tmp_path):
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_SECRET_KEY"):
        create_app(
            {
                "INGRESS_ENV": "production",
                "JWT_SECRET_KEY": NEW_SECRET,
                "JWT_PREVIOUS_SECRET_KEY": "changeme",
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )
