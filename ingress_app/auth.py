"""JWT authentication: configuration, the 401 envelope, and the caller's identity.

The algorithm is pinned to `JWT_ALGORITHM` alone (so `alg: none` and algorithm
confusion are refused); `exp`, `sub` and `tenant_id` are required, `sub` and
`tenant_id` as non-empty strings. Every rejection is a 401 with
`WWW-Authenticate: Bearer` and the JSON envelope.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
from flask import Flask, current_app, g, request
from flask_jwt_extended import create_access_token, get_jwt, verify_jwt_in_request
from flask_jwt_extended.config import config as jwt_config

from .config import ConfigError, is_production
from .errors import Forbidden, ServiceUnavailable, Unauthorized, error_response
from .extensions import jwt
from .security import is_weak_secret
from .state import ingress_state

log = logging.getLogger(__name__)

_SYMMETRIC = ("HS256", "HS384", "HS512")
_ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
_WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="ingress"'}


RUNS_WRITE = "runs:write"
RUNS_READ = "runs:read"
FLOWS_READ = "flows:read"
FLOWS_WRITE = "flows:write"
WEBHOOKS_ADMIN = "webhooks:admin"
AUDIT_READ = "audit:read"
#: Every scope an endpoint can require, in the order the docs list them.
ALL_SCOPES = frozenset(
    {RUNS_WRITE, RUNS_READ, FLOWS_READ, FLOWS_WRITE, WEBHOOKS_ADMIN, AUDIT_READ}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's user and tenant, and what the token may do.

    `scopes` defaults to all of them: principals the service makes itself (a webhook
    delivery authenticated by its config's secret) act for the config's owner."""

    user_id: str
    tenant_id: str
    scopes: frozenset[str] = ALL_SCOPES


def _read_key(value: str, path: str, name: str) -> str:
    if value:
        return value.replace("\\n", "\n")
    if path:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from exc
    return ""


def _development_secret(app: Flask) -> str:
    """A random secret kept in the instance folder, so CLI-issued tokens stay valid."""
    path = Path(app.instance_path) / "dev-jwt-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def configure_jwt(app: Flask) -> None:
    """Translate our settings into flask-jwt-extended's and register the 401 loaders."""
    cfg = app.config
    algorithm = cfg["JWT_ALGORITHM"].upper()
    if algorithm not in _SYMMETRIC + _ASYMMETRIC:
        raise ConfigError(f"JWT_ALGORITHM={algorithm!r} is not supported")
    production = is_production(cfg)
    if algorithm in _SYMMETRIC:
        secret = cfg.get("JWT_SECRET_KEY") or ""
        if not secret:
            if production:
                raise ConfigError(
                    "JWT_SECRET_KEY is required in production (or set JWT_ALGORITHM=RS256 "
                    "and JWT_PUBLIC_KEY/JWT_PUBLIC_KEY_FILE)"
                )
            secret = _development_secret(app)
            cfg["INGRESS_DEV_SECRET"] = True
        elif production and is_weak_secret(secret):
            raise ConfigError(
                "JWT_SECRET_KEY must be a random value of at least 32 characters in production"
            )
        cfg["JWT_SECRET_KEY"] = secret
        previous = cfg.get("JWT_PREVIOUS_SECRET_KEY") or ""
        if previous and production and is_weak_secret(previous):
            raise ConfigError(
                "JWT_PREVIOUS_SECRET_KEY must be a random value of at least 32 characters "
                "in production"
            )
    else:
        public = _read_key(
            cfg.get("JWT_PUBLIC_KEY", ""), cfg.get("JWT_PUBLIC_KEY_FILE", ""), "JWT_PUBLIC_KEY"
        )
        if not public and not cfg.get("JWT_JWKS_URL"):
            raise ConfigError(
                f"JWT_ALGORITHM={algorithm} needs JWT_PUBLIC_KEY, JWT_PUBLIC_KEY_FILE or "
                "JWT_JWKS_URL"
            )
        cfg["JWT_PUBLIC_KEY"] = public
        previous = _read_key(
            cfg.get("JWT_PREVIOUS_PUBLIC_KEY", ""),
            cfg.get("JWT_PREVIOUS_PUBLIC_KEY_FILE", ""),
            "JWT_PREVIOUS_PUBLIC_KEY",
        )
        cfg["JWT_PRIVATE_KEY"] = _read_key(
            cfg.get("JWT_PRIVATE_KEY", ""), cfg.get("JWT_PRIVATE_KEY_FILE", ""), "JWT_PRIVATE_KEY"
        )
    cfg["JWT_ALGORITHM"] = algorithm
    cfg["JWT_DECODE_ALGORITHMS"] = [algorithm]
    cfg["JWT_TOKEN_LOCATION"] = ["headers"]
    cfg["JWT_IDENTITY_CLAIM"] = "sub"
    cfg["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(minutes=int(cfg["JWT_EXPIRE_MINUTES"]))
    cfg["JWT_DECODE_LEEWAY"] = int(cfg.get("JWT_LEEWAY_SECONDS", 30))
    cfg["JWT_ERROR_MESSAGE_KEY"] = "error"
    cfg["JWT_CSRF_PROTECT"] = False
    if cfg.get("JWT_ISSUER"):
        cfg["JWT_DECODE_ISSUER"] = cfg["JWT_ISSUER"]
        cfg["JWT_ENCODE_ISSUER"] = cfg["JWT_ISSUER"]
    if cfg.get("JWT_AUDIENCE"):
        cfg["JWT_DECODE_AUDIENCE"] = cfg["JWT_AUDIENCE"]
        cfg["JWT_ENCODE_AUDIENCE"] = cfg["JWT_AUDIENCE"]
    if production:
        _warn_without_claim_checks(app)
    jwks = _configure_jwks(cfg, algorithm, production)
    jwt.init_app(app)
    state = ingress_state(app)
    state.jwks = jwks
    state.verified_tokens = VerifiedTokens(cfg["JWT_DECODE_LEEWAY"])
    state.previous_jwt_key = previous or None
    state.default_scopes = parse_scopes(cfg.get("JWT_DEFAULT_SCOPES", " ".join(sorted(ALL_SCOPES))))
    unknown = state.default_scopes - ALL_SCOPES
    if unknown:
        raise ConfigError(
            f"JWT_DEFAULT_SCOPES names unknown scopes: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(ALL_SCOPES))})"
        )
    if previous:
        log.info("JWT key rotation: tokens signed with the previous key are still accepted")


def _warn_without_claim_checks(app: Flask) -> None:
    """In production a token should be bound to this service (`aud`) and its issuer
    (`iss`): without them any token the key verifies is accepted. Logged at startup and
    reported by `/health` as a warning (not an error: single-issuer setups exist)."""
    missing = [name for name in ("JWT_AUDIENCE", "JWT_ISSUER") if not app.config.get(name)]
    if not missing:
        return
    message = (
        f"{' and '.join(missing)} not set: tokens are accepted whatever their "
        f"{' and '.join('aud' if m == 'JWT_AUDIENCE' else 'iss' for m in missing)} claim"
    )
    log.warning("token claim checks incomplete in production: %s", message)
    ingress_state(app).health_checks.append(
        lambda: {"token_claims": {"status": "warn", "output": message}}
    )


class JwksKeys(pyjwt.PyJWKClient):
    """The identity provider's signing keys, from its JWKS endpoint (`JWT_JWKS_URL`).

    PyJWT's client caches the set for `JWT_JWKS_CACHE_SECONDS` and fetches it again at
    most once per `JWT_JWKS_REFRESH_COOLDOWN_SECONDS` when a token names a `kid` it does
    not hold (a rotation), so tokens with made-up `kid`s cannot make us hammer the
    provider. On top of that, when a fetch fails (the provider is down or answers
    garbage) the last set fetched successfully stays in use: an outage of the provider
    does not lock out clients whose keys we already know. Only one fetch is in flight
    at a time (`fetch_data`).
    """

    def __init__(self, url: str, *, lifespan: float, cooldown: float, timeout: float):
        super().__init__(
            url, cache_jwk_set=True, lifespan=lifespan, timeout=timeout,
            cooldown_duration=cooldown,
        )
        self._last_good: Any = None  # one reference, read and replaced whole
        self._flight_lock = threading.Lock()
        self._flight: _Fetch | None = None

    def fetch_data(self) -> Any:
        """One fetch in flight: requests that need the set while it is being fetched
        wait for that fetch (at most the fetch timeout) and share its outcome, so a
        hanging provider holds one request's worth of time, not one fetch per request."""
        with self._flight_lock:
            flight = self._flight
            leading = flight is None
            if leading:
                flight = self._flight = _Fetch()
        if leading:
            try:
                flight.result = self._fetch_or_last_good()
            except BaseException as exc:
                flight.error = exc
                raise
            finally:
                with self._flight_lock:
                    self._flight = None
                flight.done.set()
            return flight.result
        if not flight.done.wait(self.timeout):
            raise pyjwt.PyJWKClientError("the key set fetch in flight did not finish in time")
        if flight.error is not None:
            raise pyjwt.PyJWKClientError(str(flight.error)[:300])
        return flight.result

    def _fetch_or_last_good(self) -> Any:
        try:
            data = super().fetch_data()
        except (pyjwt.PyJWKClientError, pyjwt.PyJWKSetError, ValueError) as exc:
            # ValueError: a body that is not JSON at all (PyJWT lets that through)
            last_good = self._last_good
            if last_good is None:
                raise pyjwt.PyJWKClientError(f"no usable key set: {exc}"[:300]) from None
            log.warning(
                "JWKS endpoint unavailable; using the last key set fetched",
                extra={"error": str(exc)[:300]},
            )
            if self.jwk_set_cache is not None:
                self.jwk_set_cache.put(last_good)
            return last_good
        self._last_good = data
        return data

    def key_for(self, header: dict[str, Any]) -> Any:
        """The public key to verify a token with this (unverified) header."""
        try:
            keys = self.get_signing_keys()
        except (pyjwt.PyJWKClientError, pyjwt.PyJWKSetError) as exc:
            # no usable key set at all (never fetched, or the provider serves none):
            # nothing can be verified, which says nothing about this token
            log.error("JWKS endpoint gives no usable key set", extra={"error": str(exc)[:300]})
            raise ServiceUnavailable(
                "the identity provider's signing keys cannot be fetched; retry later",
                retry_after=5,
            ) from None
        kid = header.get("kid")
        if kid is None:
            if len(keys) != 1:
                raise Unauthorized(
                    "invalid token: it names no signing key ('kid') and the key set holds "
                    "several"
                )
            return keys[0].key
        if not isinstance(kid, str):
            raise Unauthorized("invalid token: 'kid' must be a string")
        key = self.match_kid(keys, kid)
        if key is None:
            try:  # fetches the set again, unless within the cooldown
                key = self.get_signing_key(kid)
            except (pyjwt.PyJWKClientError, pyjwt.PyJWKSetError):
                raise Unauthorized(
                    "invalid token: its signing key is not in the key set"
                ) from None
        return key.key


class _Fetch:
    """A key set fetch in flight: its outcome, once `done` is set."""

    __slots__ = ("done", "result", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _configure_jwks(cfg: dict[str, Any], algorithm: str, production: bool) -> JwksKeys | None:
    url = (cfg.get("JWT_JWKS_URL") or "").strip()
    if not url:
        return None
    if algorithm in _SYMMETRIC:
        raise ConfigError(
            f"JWT_JWKS_URL needs an asymmetric JWT_ALGORITHM (RS256, ES256, …), not {algorithm}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"JWT_JWKS_URL={url!r} is not an http(s) URL")
    if production and parts.scheme != "https" and not _is_loopback(parts.hostname):
        raise ConfigError("JWT_JWKS_URL must use https in production")
    return JwksKeys(
        url,
        lifespan=max(1, int(cfg["JWT_JWKS_CACHE_SECONDS"])),
        cooldown=float(cfg["JWT_JWKS_REFRESH_COOLDOWN_SECONDS"]),
        timeout=float(cfg["JWT_JWKS_TIMEOUT_SECONDS"]),
    )


@jwt.decode_key_loader
def _decode_key(header: dict[str, Any], payload: dict[str, Any]) -> Any:
    """The key flask-jwt-extended verifies a token with: from the JWKS when one is set
    (a token without `kid` and a static `JWT_PUBLIC_KEY` falls back to that key)."""
    jwks: JwksKeys | None = ingress_state().jwks
    if jwks is None or ("kid" not in header and current_app.config.get("JWT_PUBLIC_KEY")):
        return jwt_config.decode_key  # flask-jwt-extended's own choice: secret or public key
    return jwks.key_for(header)


def _claims_from_previous_key(token: str | None) -> dict[str, Any] | None:
    """During a key rotation: the claims of a token signed with the previous key.

    The same checks as for the current key (pinned algorithm, leeway, issuer, audience,
    `exp` required); None when no previous key is configured or it does not verify.
    """
    key = ingress_state().previous_jwt_key
    if not key or not token:
        return None
    cfg = current_app.config
    try:
        return pyjwt.decode(
            token,
            key,
            algorithms=cfg["JWT_DECODE_ALGORITHMS"],
            leeway=cfg["JWT_DECODE_LEEWAY"],
            issuer=cfg.get("JWT_DECODE_ISSUER"),
            audience=cfg.get("JWT_DECODE_AUDIENCE"),
            options={"require": ["exp"]},
        )
    except pyjwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except pyjwt.PyJWTError:
        return None


def _unauthorized(detail: str):
    return error_response(401, "Unauthorized", detail, _WWW_AUTH)


@jwt.unauthorized_loader
def _missing_token(reason: str):
    return _unauthorized("a Bearer token is required in the Authorization header")


@jwt.invalid_token_loader
def _invalid_token(reason: str):
    return _unauthorized(f"invalid token: {reason}")


@jwt.expired_token_loader
def _expired_token(header: dict, payload: dict):
    return _unauthorized("the token has expired")


@jwt.revoked_token_loader
def _revoked_token(header: dict, payload: dict):
    return _unauthorized("the token has been revoked")


@jwt.needs_fresh_token_loader
def _not_fresh(header: dict, payload: dict):
    return _unauthorized("a fresh token is required")


@jwt.user_lookup_error_loader
def _user_lookup_error(header: dict, payload: dict):
    return _unauthorized("the token's user is unknown")


# `sub` and `tenant_id` are stored in VARCHAR(255) columns and compared in SQL: a value
# the database cannot hold (too long, NUL, unpaired surrogate) is a bad token, not a 500.
MAX_IDENTITY_LENGTH = 255


def _identity_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_IDENTITY_LENGTH:
        return f"must be at most {MAX_IDENTITY_LENGTH} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode"
    return None


_FAR_FUTURE = 2**53  # seconds: past any clock this process will read, exact as a float


def _is_numeric_date(value: Any) -> bool:
    """A JSON number of seconds since 1970 that a float holds exactly (`exp=10**400` or
    `nbf=-10**400` pass PyJWT's checks but are no time at all)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value <= _FAR_FUTURE
    )


def _check_times(claims: dict[str, Any]) -> None:
    """`exp`, `nbf` and `iat` are numeric dates (PyJWT also takes numeric strings), and
    the token lives at most `JWT_MAX_TOKEN_LIFETIME` seconds (0: no ceiling) from now
    and from its `iat`: a stolen long-lived token is not valid for years."""
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_numeric_date(claims[name]):
            raise Unauthorized(
                f"invalid token: '{name}' must be a number of seconds since 1970 (0 to 2^53)"
            )
    cfg = current_app.config
    ceiling = int(cfg.get("JWT_MAX_TOKEN_LIFETIME", 86_400))
    if ceiling <= 0:
        return
    exp = claims["exp"]
    slack = ceiling + int(cfg.get("JWT_DECODE_LEEWAY", 0))
    if exp > time.time() + slack or ("iat" in claims and exp > claims["iat"] + slack):
        raise Unauthorized(
            f"invalid token: it is valid for longer than the {ceiling} s allowed "
            "(JWT_MAX_TOKEN_LIFETIME)"
        )


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    if "exp" not in claims:
        raise Unauthorized("invalid token: the 'exp' claim is required")
    _check_times(claims)
    sub = claims.get("sub")
    tenant = claims.get("tenant_id")
    problem = _identity_problem(sub)
    if problem:
        raise Unauthorized(f"invalid token: 'sub' {problem}")
    problem = _identity_problem(tenant)
    if problem:
        raise Unauthorized(f"invalid token: 'tenant_id' {problem}")
    if claims.get("type", "access") != "access":
        raise Unauthorized("invalid token: only access tokens are accepted")
    return Principal(user_id=sub, tenant_id=tenant, scopes=_scopes_from_claims(claims))


def parse_scopes(value: str) -> frozenset[str]:
    """A space-separated scope list (commas tolerated) as a set."""
    return frozenset(value.replace(",", " ").split())


def _scopes_from_claims(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068: space-separated string) or `scp` (a list, or a string as some
    identity providers send it); with neither, `JWT_DEFAULT_SCOPES`. Names this service
    does not know are ignored (tokens are often shared with other APIs)."""
    if "scope" in claims:
        value = claims["scope"]
        if not isinstance(value, str):
            raise Unauthorized("invalid token: 'scope' must be a space-separated string")
        return parse_scopes(value)
    if "scp" in claims:
        value = claims["scp"]
        if isinstance(value, str):
            return parse_scopes(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Unauthorized("invalid token: 'scp' must be a list of strings")
        return frozenset(value)
    return default_scopes()


def default_scopes() -> frozenset[str]:
    """`JWT_DEFAULT_SCOPES` (parsed when the app was configured)."""
    scopes = ingress_state().default_scopes
    return ALL_SCOPES if scopes is None else scopes


def require_scope(principal: Principal, scope: str) -> None:
    """403 `{"required_scope": scope}` unless the caller's token carries `scope`."""
    if scope not in principal.scopes:
        raise Forbidden({"required_scope": scope})


class VerifiedTokens:
    """Tokens whose signature and claims were verified, until their `exp`.

    Clients send the same token with many requests; verifying it once per process
    (not once per request) takes JWT decoding off the hot path. A hit needs the exact
    token string, and `exp`/`nbf` are checked against the clock on every use.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, leeway: int):
        self.leeway = leeway
        self._entries: dict[str, tuple[Principal, float, float]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, expires, not_before = entry
        now = time.time()
        if now > expires + self.leeway or now < not_before - self.leeway:
            self._entries.pop(token, None)
            return None
        return principal

    def for_environ(self, environ: dict[str, Any]) -> Principal | None:
        """The caller of a WSGI request whose Bearer token is already verified, else None."""
        token = bearer_token_from(environ)
        return self.get(token) if token else None

    def put(self, token: str, principal: Principal, claims: dict[str, Any]) -> None:
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        # `_check_times` bounded both to what a float holds
        self._entries[token] = (principal, float(claims["exp"]), float(claims.get("nbf", 0)))


def bearer_token_from(environ: dict[str, Any]) -> str | None:
    """The token of a WSGI request's `Authorization: Bearer …` header, if any."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer " and len(header) < 8192:
        return header[7:].strip() or None
    return None


def _bearer_token() -> str | None:
    return bearer_token_from(request.environ)


def authenticate() -> Principal:
    """Verify the request's Bearer token and return the caller."""
    ctx_g = g._get_current_object()  # one context lookup instead of three
    principal = getattr(ctx_g, "principal", None)
    if principal is not None:
        return principal
    verified: VerifiedTokens = ingress_state().verified_tokens
    token = _bearer_token()
    principal = verified.get(token) if token else None
    if principal is None:
        try:
            verify_jwt_in_request()
            claims = get_jwt()
        except pyjwt.InvalidSignatureError:
            claims = _claims_from_previous_key(token)
            if claims is None:
                raise
        principal = _principal_from_claims(claims)
        if token:
            verified.put(token, principal, claims)
    ctx_g.principal = principal
    return principal


def auth_required(view):
    """Decorate a view so it runs only for a valid token; the caller is in `g.principal`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate()
        return view(*args, **kwargs)

    return wrapper


def scope_required(scope: str):
    """Decorate a view (method) so it runs only for a token carrying `scope`.

    Authenticates first (401 before 403), checks before the body is read, and
    documents the operation: a `bearerAuth` security requirement naming the scope,
    `x-required-scope`, and a sentence in the description. The scope is kept on the
    view as `required_scope`.
    """
    from .smorest import Blueprint  # the documenting decorator that adds no wrapper

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            require_scope(authenticate(), scope)
            return view(*args, **kwargs)

        wrapper.required_scope = scope
        return Blueprint.doc(
            security=[{"bearerAuth": [scope]}],
            responses={"403": {
                "description": f"Forbidden (also: the token lacks the `{scope}` scope, "
                '`detail: {"required_scope": "' + scope + '"}`)',
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }},
            **{"x-required-scope": scope},
        )(wrapper)

    return decorator


def issue_token(tenant_id: str, user_id: str, minutes: int | None = None, **claims: Any) -> str:
    """Create an access token for `user_id` in `tenant_id` (operators' CLI, tests)."""
    if current_app.config["JWT_ALGORITHM"] in _ASYMMETRIC and not current_app.config.get(
        "JWT_PRIVATE_KEY"
    ):
        raise ConfigError("issuing RS/ES tokens needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
    expires = timedelta(minutes=minutes) if minutes else None
    return create_access_token(
        identity=user_id,
        additional_claims={"tenant_id": tenant_id, **claims},
        expires_delta=expires
        if expires is not None
        else current_app.config["JWT_ACCESS_TOKEN_EXPIRES"],
    )
