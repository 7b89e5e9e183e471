"""The front door: one WSGI layer in front of Flask, and which requests skip Flask.

Every request passes `FrontDoor`, which does the cross-cutting work on plain WSGI values:
the correlation id (honoured when sane, generated otherwise, echoed on every response),
the policy file's reload check, the security headers, `Cache-Control: no-store` on the
API and the request metrics (count and latency by route template, method and status).

Two requests are the service's hot paths, and for them Flask's request machinery
(context, hooks, view wrappers) costs as much as the work itself. `FrontDoor.qualify`
is the only place that decides which of them it answers itself; it calls the same
pipeline functions as the Flask views (`runs.api.accept`, `runs.api.read`) and renders
errors with the function behind Flask's error handlers, so both ways give the same
answer. Everything `qualify` refuses goes to Flask unchanged.

Skipping Flask is only safe while every request hook and extension is one whose work
the front door does itself or does not need: `KNOWN_HOOKS` and `KNOWN_EXTENSIONS` list
them. On the first request (after which Flask accepts no new hooks) the front door
checks the app; anything else there (a `before_request`, an instrumenting extension)
turns the shortcuts off, with one log line saying why. `RUN_FRONT_DOOR=false` turns
them off too.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from .body import declared_length, is_json_content_type, parse_json_bytes, read_declared_body
from .errors import BadRequest, handle_unexpected
from .ids import new_id
from .state import ingress_state

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
CORRELATION_KEY = "ingress.correlation_id"
ROUTE_KEY = "ingress.route"
#: The correlation id of the request this thread is serving (for log lines, on both
#: ways through); None outside a request.
current_correlation_id: ContextVar[str | None] = ContextVar("ingress_correlation_id", default=None)
_SANE_CORRELATION = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

API_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI needs its own scripts and styles (served locally) and an inline initialiser.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

#: Request hooks the front door may skip, by module and qualified name, and why.
KNOWN_HOOKS = {
    "ingress_app.frontdoor.before_request":
        "ours: the front door sets the correlation id and route itself; it takes no URL "
        "with a query string or a NUL",
    "flask_limiter.extension.Limiter.__inject_headers":
        "rate-limit headers: the front door takes only tenants without a rate limit",
    "flask_limiter.extension.Limiter.__release_context":
        "resets the limiter's request state: entered only by rate-limited requests",
    "flask_cors.extension.make_after_request_function.<locals>.cors_after_request":
        "CORS headers: with CORS_ORIGINS set, a request with an Origin goes to Flask",
}
#: Extensions whose per-request work (if any) the front door's requests do not need.
#: Application state of our own is named "ingress" (or starts with "ingress_").
KNOWN_EXTENSIONS = frozenset(
    {"cache", "flask-jwt-extended", "flask-smorest", "limiter", "migrate", "sqlalchemy",
     "ingress"}
)
_HOOK_TABLES = (
    "before_request_funcs", "after_request_funcs", "teardown_request_funcs",
    "url_value_preprocessors", "url_default_functions",
)


class IngressFlask(Flask):
    """Flask with `ensure_sync`'s coroutine check memoised per function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_coroutine: dict[Callable, bool] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # Bound methods are made anew on every access (MethodView dispatch), so the
        # answer is keyed on the function underneath; views and hooks are a fixed set.
        key = getattr(func, "__func__", func)
        try:
            is_coroutine = self._is_coroutine[key]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            is_coroutine = iscoroutinefunction(func)
            if len(self._is_coroutine) < 10_000:
                try:
                    self._is_coroutine[key] = is_coroutine
                except TypeError:
                    pass
        return self.async_to_sync(func) if is_coroutine else func


def correlation_id_from(environ: dict[str, Any]) -> str:
    supplied = environ.get("HTTP_X_CORRELATION_ID")
    # An unusable value (too long, odd characters) is replaced rather than refused, so a
    # caller's tracing quirk never blocks a run; the new id is echoed back.
    if supplied and len(supplied) <= 128 and _SANE_CORRELATION.fullmatch(supplied):
        return supplied
    return new_id()


def _hook_name(func: Any) -> str:
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__func__", func)
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def unknown_parts(app: Flask) -> list[str]:
    """The request hooks and extensions of `app` the front door does not know."""
    found = []
    for table in _HOOK_TABLES:
        for funcs in getattr(app, table).values():
            found += [f"{table}: {name}" for name in map(_hook_name, funcs)
                      if name not in KNOWN_HOOKS]
    found += [f"extension: {name}" for name in app.extensions
              if name not in KNOWN_EXTENSIONS and not name.startswith("ingress_")]
    return found


class FrontDoor:
    """The WSGI layer around the Flask app (see the module's docstring)."""

    def __init__(self, app: Flask, observe: Callable[[str, str, int, float], None]):
        from .runs import api as runs_api
        from .security import cors_origins

        self.app = app
        self.wsgi_app = app.wsgi_app
        self.observe = observe
        # What the front door reads of the app's state, read here once.
        state = ingress_state(app)
        self.verified = state.verified_tokens
        self.policies = state.policies
        self.cors = bool(cors_origins(app.config))
        self.max_length = app.config.get("MAX_CONTENT_LENGTH")
        self.wanted = app.config.get("RUN_FRONT_DOOR", True)
        self.accept, self.read = runs_api.accept, runs_api.read
        self.open: bool | None = None  # decided on the first request
        self._deciding = threading.Lock()
        self.routes: Any = None

    def _decide(self) -> bool:
        with self._deciding:
            if self.open is None:
                unknown = unknown_parts(self.app) if self.wanted else []
                if unknown:
                    log.warning(
                        "front door off, every request goes through Flask: the app has "
                        "request hooks or extensions it does not know: %s", "; ".join(unknown)
                    )
                self.routes = self.app.url_map.bind("localhost")
                self.open = bool(self.wanted) and not unknown
        return self.open

    def qualify(self, environ: dict[str, Any]) -> tuple[str, Callable[[], Any]] | None:
        """The route template and the answer of a request the front door takes; None
        sends the request to Flask. Taken: `POST /v1/runs` and `GET /v1/runs/{run_id}`
        with no query string, a Bearer token this process has already verified in full
        (`exp`/`nbf` rechecked), and no CORS decision to make; a POST also needs a JSON
        `Content-Type`, a `Content-Length` of 1 to `MAX_CONTENT_LENGTH` and a tenant
        without a rate limit (Flask-Limiter counts those)."""
        if environ.get("QUERY_STRING") or (self.cors and "HTTP_ORIGIN" in environ):
            return None
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if not path.startswith("/v1/runs") or "\x00" in path or method not in ("GET", "POST"):
            return None
        try:
            rule, args = self.routes.match(path, method, return_rule=True)
        except (HTTPException, RoutingException):
            return None
        principal = self.verified.for_environ(environ)
        if principal is None:
            return None
        cid = environ[CORRELATION_KEY]
        if rule.endpoint == "runs.RunById" and method == "GET":
            return rule.rule, lambda: self.read(args["run_id"], principal)
        if rule.endpoint != "runs.Runs" or method != "POST":
            return None
        from .ratelimit import rate_limit_of

        length = declared_length(environ, self.max_length)
        if (
            not length
            or not is_json_content_type(environ.get("CONTENT_TYPE"))
            or rate_limit_of(principal.tenant_id, self.policies.engine) is not None
        ):
            return None
        return rule.rule, lambda: self.accept(
            parse_json_bytes(read_declared_body(environ, length)),
            environ.get("HTTP_IDEMPOTENCY_KEY"), principal, cid,
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        cid = environ[CORRELATION_KEY] = correlation_id_from(environ)
        path: str = environ.get("PATH_INFO", "")
        is_api = path.startswith("/v1/")
        is_docs = path.startswith("/docs")
        secure = environ.get("wsgi.url_scheme") == "https"
        seen: list[str] = []

        def edge_start_response(status: str, headers: list, exc_info: Any = None):
            seen.append(status)
            has_csp = has_cache_control = False
            for name, _ in headers:
                lowered = name.lower()
                if lowered == "content-security-policy":
                    has_csp = True
                elif lowered == "cache-control":
                    has_cache_control = True
            headers.append((CORRELATION_HEADER, cid))
            headers.extend(API_HEADERS)
            if not has_csp:
                headers.append(("Content-Security-Policy", DOCS_CSP if is_docs else API_CSP))
            if is_api and not has_cache_control:
                headers.append(("Cache-Control", "no-store"))
            if secure:
                headers.append(HSTS)
            return start_response(status, headers, exc_info)

        token = current_correlation_id.set(cid)
        try:
            self.policies.maybe_reload()
            taken = self.qualify(environ) if (self.open or self._decide()) else None
            if taken is None:
                result = self.wsgi_app(environ, edge_start_response)
            else:
                environ[ROUTE_KEY], answer = taken
                with self.app.app_context():
                    try:
                        result = answer().send(edge_start_response)
                    except Exception as exc:  # noqa: BLE001 - as Flask's handlers would
                        result = handle_unexpected(exc)(environ, edge_start_response)
        finally:
            current_correlation_id.reset(token)
        if seen:
            try:
                code = int(seen[-1][:3])
            except ValueError:
                code = 0
            self.observe(
                environ.get("REQUEST_METHOD", ""),
                environ.get(ROUTE_KEY, "unmatched"),
                code,
                time.perf_counter() - started,
            )
        return result


def before_request() -> None:
    """Flask's half: the route for the metrics, the correlation id in `g`, and no NUL."""
    req = request._get_current_object()  # one context lookup instead of five
    environ = req.environ
    rule = req.url_rule
    environ[ROUTE_KEY] = rule.rule if rule is not None else "unmatched"
    cid = environ.get(CORRELATION_KEY)
    if cid is None:  # the app was called without the front door (a bare request context)
        cid = environ[CORRELATION_KEY] = correlation_id_from(environ)
    g.correlation_id = cid
    # A NUL in the path or query can never name anything, and PostgreSQL cannot even
    # compare it (a DataError, i.e. a 500): refuse it up front with a 400.
    if "\x00" in req.path or b"%00" in req.query_string:
        raise BadRequest("NUL characters are not allowed in the URL")


GC_THRESHOLDS = (10_000, 20, 20)


def tune_gc_for_serving() -> None:
    """Garbage-collector settings for a serving worker (gunicorn `post_worker_init`).

    `gc.freeze()` moves everything alive after start-up (modules, the app, its
    extensions: hundreds of thousands of objects) out of the collector's sight, so a
    full collection no longer walks them all. A request allocates thousands of objects
    but makes almost no reference cycles, so the first generation is collected every
    10,000 allocations instead of every 700. Measured in-process: about 10 % less CPU
    per accepted run. The price is a little more memory held by cyclic garbage between
    collections.
    """
    import gc

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def init_front_door(app: Flask) -> None:
    """Put the front door around the app's WSGI callable (last, after every hook)."""
    from .metrics import observe_request

    app.before_request(before_request)
    app.wsgi_app = FrontDoor(app, observe_request)  # type: ignore[method-assign]
