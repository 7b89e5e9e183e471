"""Ingress: the front door of an AI-agent flow orchestration framework.

`create_app(config=None)` is the only place that wires the service:
configuration → logging → extensions → plugins/policies → blueprints.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask, send_from_directory

from .config import ConfigError, is_production, load_config, normalise_database_url
from .dbdeadlines import network_timeout_ms
from .frontdoor import IngressFlask
from .state import KEY as STATE_KEY
from .state import IngressState

__all__ = ["create_app", "ConfigError"]

log = logging.getLogger(__name__)


def _migrations_directory(config: dict[str, Any]) -> str:
    """The repository's `migrations/`: in the working directory, beside the package (a
    source checkout), or where `pip install` put them (`<prefix>/share/ingress/`)."""
    if config.get("MIGRATIONS_DIR"):
        return config["MIGRATIONS_DIR"]
    candidates = [
        Path.cwd() / "migrations",
        Path(__file__).resolve().parent.parent / "migrations",
        Path(sys.prefix) / "share" / "ingress" / "migrations",
    ]
    for candidate in candidates:
        if (candidate / "env.py").exists():
            return str(candidate)
    return str(candidates[0])


def _database_settings(app: Flask) -> None:
    cfg = app.config
    if not cfg.get("DATABASE_URL") and is_production(cfg):
        # the embedded SQLite file is for trying the service out: in production it would
        # keep every run on one container's disk, unseen by the other replicas
        raise ConfigError(
            "DATABASE_URL is required in production (INGRESS_ENV=production), e.g. "
            "postgresql://user:password@host:5432/ingress"
        )
    url = cfg.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'ingress.db'}"
    url = normalise_database_url(url)
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("postgresql"):
        connect_args = {
            "connect_timeout": cfg["DB_CONNECT_TIMEOUT_SECONDS"],
            "application_name": "ingress",
            # statement_timeout bounds server work; tcp_user_timeout bounds a network that
            # drops packets; a server that answers nothing is cut by `dbdeadlines`
            "options": f"-c statement_timeout={int(cfg['DB_STATEMENT_TIMEOUT_MS'])}",
            "tcp_user_timeout": network_timeout_ms(cfg),
            "keepalives": 1,
            "keepalives_idle": 30,
        }
        engine = {
            "pool_size": cfg["DB_POOL_SIZE"],
            "max_overflow": cfg["DB_MAX_OVERFLOW"],
            "pool_timeout": cfg["DB_POOL_TIMEOUT_SECONDS"],
            "pool_recycle": 1800,
            "connect_args": connect_args,
        }
    else:
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 15}}
    cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine)
    cfg["SQLALCHEMY_TRACK_MODIFICATIONS"] = False


def _cache_settings(app: Flask) -> None:
    cfg = app.config
    cfg.setdefault("CACHE_DEFAULT_TIMEOUT", cfg["REDIS_CACHE_TTL"])
    cfg.setdefault("CACHE_KEY_PREFIX", "ingress:")
    if "CACHE_TYPE" in cfg:
        return
    if cfg.get("REDIS_URL"):
        timeout = cfg["REDIS_SOCKET_TIMEOUT_SECONDS"]
        cfg["CACHE_TYPE"] = "RedisCache"
        cfg["CACHE_REDIS_URL"] = cfg["REDIS_URL"]
        cfg["CACHE_OPTIONS"] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    else:
        cfg["CACHE_TYPE"] = "SimpleCache"
        cfg.setdefault("CACHE_THRESHOLD", 10_000)


def _openapi_settings(app: Flask) -> None:
    cfg = app.config
    cfg.setdefault("API_TITLE", "Ingress")
    cfg.setdefault("API_VERSION", "1")
    cfg.setdefault("OPENAPI_VERSION", "3.0.3")
    cfg.setdefault("OPENAPI_URL_PREFIX", "/")
    cfg.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    cfg.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    cfg.setdefault("OPENAPI_SWAGGER_UI_URL", "/docs/assets/")
    cfg.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "license": {
                    "name": "Apache-2.0",
                    "url": "https://www.apache.org/licenses/LICENSE-2.0",
                },
                "description": "Start and follow AI-agent flow runs. Every error body is "
                '`{"error": "...", "detail": ...}`.'
            },
            "servers": [{"url": "/", "description": "The server this document came from"}],
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    )


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI from the installed `swagger-ui-bundle` (no CDN needed)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - dependency missing
        return

    def docs_asset(filename: str):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    app.add_url_rule("/docs/assets/<path:filename>", "docs_asset", docs_asset)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Ingress application; `config` overrides the environment (tests)."""
    app = IngressFlask(
        __name__,
        static_folder=None,
        instance_path=os.environ.get("INGRESS_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    settings = load_config()
    settings.update(config or {})
    app.config.update(settings)
    app.extensions[STATE_KEY] = IngressState()
    if is_production(app.config) and (app.debug or app.config.get("DEBUG")):
        raise ConfigError("debug mode is not allowed in production (INGRESS_ENV=production)")

    from .logging import configure_logging

    if not app.config.get("TESTING"):
        configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])

    _database_settings(app)
    _cache_settings(app)
    _openapi_settings(app)
    app.json.sort_keys = False
    app.json.compact = True

    # every table joins `db.metadata` when its model module is imported (migrations,
    # `create_all` in development), so all of them are imported before the first use
    from .audit import models as _audit_models  # noqa: F401
    from .auth import configure_jwt
    from .callbacks import models as _callback_models  # noqa: F401
    from .errors import register_error_handlers
    from .extensions import cache, db, migrate
    from .outbox import models as _outbox_models  # noqa: F401
    from .ratelimit import init_rate_limits
    from .registry import models as _registry_models  # noqa: F401
    from .runs import models as _runs_models  # noqa: F401
    from .webhooks import models as _webhook_models  # noqa: F401

    db.init_app(app)
    from .dbdeadlines import install as install_db_deadlines

    with app.app_context():
        install_db_deadlines(app, db.engine)
    from .policies.runtime import init_policies

    init_policies(app)  # loads plugins; fails startup on a bad policies.yaml
    init_rate_limits(app)
    migrate.init_app(app, db, directory=_migrations_directory(app.config), render_as_batch=True)
    cache.init_app(app)
    configure_jwt(app)
    # flask-smorest's Api keeps one app's spec, so each app gets its own.
    from .smorest import Api

    api = Api(app)

    from .metrics import init_metrics
    from .security import init_security

    init_metrics(app)
    init_security(app)
    from .audit.api import blp as audit_blp
    from .callbacks.api import callbacks_blp, run_callbacks_blp, subscriptions_blp
    from .health import blp as health_blp
    from .registry.api import blp as registry_blp
    from .runs.api import blp as runs_blp
    from .webhooks.api import configs_blp as webhook_configs_blp
    from .webhooks.api import intake_blp as webhook_intake_blp
    from .webhooks.cli import webhooks as webhooks_cli
    from .webhooks.crypto import init_secret_box
    from .webhooks.service import check_public_base_url

    init_secret_box(app)  # fails startup on a malformed WEBHOOK_SECRET_KEY
    check_public_base_url(app)
    api.register_blueprint(health_blp)
    api.register_blueprint(runs_blp)
    api.register_blueprint(audit_blp)
    api.register_blueprint(registry_blp)
    api.register_blueprint(webhook_configs_blp)
    api.register_blueprint(webhook_intake_blp)
    api.register_blueprint(callbacks_blp)
    api.register_blueprint(subscriptions_blp)
    api.register_blueprint(run_callbacks_blp)
    app.cli.add_command(webhooks_cli)
    _register_docs_assets(app)
    register_error_handlers(app)

    from .outbox.health import register_health_checks

    register_health_checks(app)

    from .cli import register_cli

    register_cli(app)
    from .frontdoor import init_front_door

    init_front_door(app)  # last: it checks the app's hooks and extensions
    return app
