"""Run requests accepted in front of Flask: the write hot path.

Starting runs is what the service is for, and for a plain request the work of
`POST /v1/runs` is small: parse the body, validate the flow, apply the policies, write
one statement. Flask's request machinery around it (request context, routing, hooks,
view wrappers, request and response objects) cost about as much again, so this WSGI
layer calls the same pipeline (`body.parse_json_bytes`, `schemas.parse_run_body`,
`service.accept_run`) itself, but only when every condition of a plain request holds:

- `POST /v1/runs` with no query string;
- `Content-Type: application/json` (or with `; charset=utf-8`) and a `Content-Length` of 1 to
  `MAX_CONTENT_LENGTH` (chunked bodies, other media types and over-long bodies go to
  Flask, which answers 413/415 or parses them);
- a Bearer token this process has already verified in full, whose `exp`/`nbf` still
  hold (the cache `auth.authenticate` fills; a new token goes to Flask, which verifies
  it);
- no `Origin` header when CORS is configured (Flask-Cors decides those);
- no rate limit for the caller's tenant (Flask-Limiter counts those).

Anything else goes to Flask unchanged. Errors raised by the pipeline are rendered by the
same function Flask's error handlers use (`errors.handle_unexpected`), so a 400, 403,
422 or 503 is the same envelope, status and headers on both paths. `EdgeMiddleware`
wraps this layer, so correlation id, security headers and metrics are the same too;
`tests/integration/test_fast_accept.py` compares the two paths answer for answer.
`RUN_ACCEPT_FAST_PATH=false` turns it off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

from flask import Flask

from ..body import parse_json_bytes
from ..edge import CORRELATION_KEY, ROUTE_KEY, correlation_id_from
from ..errors import handle_unexpected
from ..jsonutil import dumps
from ..security import cors_origins
from .api import run_request
from .schemas import parse_run_body
from .service import accept_run

ROUTE = "/v1/runs"
# What clients send (JSON is UTF-8 by definition; Flask's path ignores the parameter too).
_JSON_TYPES = frozenset({"application/json", "application/json;charset=utf-8"})


class DirectAccepts:
    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app = app
        self.wsgi_app = wsgi_app
        self.verified = app.extensions["ingress"].verified_tokens
        self.policies = app.extensions["ingress"].policies
        self.cors = bool(cors_origins(app.config))
        self.max_length = app.config.get("MAX_CONTENT_LENGTH")

    def _principal(self, environ: dict[str, Any]):
        """The caller, if this request qualifies for the direct path (else None)."""
        if environ.get("QUERY_STRING"):
            return None
        content_type = environ.get("CONTENT_TYPE")
        if content_type != "application/json" and (
            content_type is None or content_type.lower().replace(" ", "") not in _JSON_TYPES
        ):
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) == 0:
            return None
        if self.max_length is not None and int(length) > self.max_length:
            return None
        if self.cors and "HTTP_ORIGIN" in environ:
            return None
        principal = self.verified.for_environ(environ)
        if principal is None:
            return None
        runtime = self.policies
        runtime.maybe_reload()
        if runtime.engine.chain(principal.tenant_id).rate_limit is not None:
            return None
        return principal

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == ROUTE and environ.get("REQUEST_METHOD") == "POST":
            principal = self._principal(environ)
            if principal is not None:
                return self._accept(environ, start_response, principal)
        return self.wsgi_app(environ, start_response)

    def _accept(self, environ, start_response, principal) -> Iterable[bytes]:
        length = int(environ["CONTENT_LENGTH"])
        data = environ["wsgi.input"].read(length)
        if len(data) < length:  # Flask answers a truncated body (400)
            environ["wsgi.input"] = BytesIO(data)
            return self.wsgi_app(environ, start_response)
        environ[ROUTE_KEY] = ROUTE
        with self.app.app_context():
            try:
                req = run_request(
                    parse_run_body(parse_json_bytes(data)), environ.get("HTTP_IDEMPOTENCY_KEY")
                )
                cid = environ.get(CORRELATION_KEY) or correlation_id_from(environ)
                accepted = accept_run(req, principal, cid)
            except Exception as exc:  # noqa: BLE001 - rendered as Flask's handlers would
                response = handle_unexpected(exc)
                return response(environ, start_response)
        body = dumps(accepted.body())
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Location", f"/v1/runs/{accepted.run_id}"),
        ]
        if accepted.replayed:
            headers.append(("Idempotent-Replayed", "true"))
        start_response("202 ACCEPTED", headers)
        return [body]


def init_fast_accept(app: Flask) -> None:
    """Install in front of Flask (call before `edge.init_edge`, which wraps it)."""
    if app.config.get("RUN_ACCEPT_FAST_PATH", True):
        app.wsgi_app = DirectAccepts(app, app.wsgi_app)  # type: ignore[method-assign]
