"""`python -m ingress_app`: run Ingress on its embedded default (or on what the environment says).

With no environment at all: SQLite in the instance folder (migrated on start), the
in-process cache, an outbox that keeps messages until Kafka is configured, and a
development JWT secret; a ready-to-use development token is printed.
"""

from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication

from . import serving


class _Server(BaseApplication):
    def __init__(self, app, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def main() -> int:
    from flask_migrate import upgrade

    from . import create_app
    from .auth import issue_token

    app = create_app()
    cfg = app.config
    with app.app_context():
        if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            upgrade()
        banner = [f"Ingress listening on http://{cfg['API_HOST']}:{cfg['API_PORT']}  (docs: /docs)"]
        if cfg.get("INGRESS_DEV_SECRET"):
            token = issue_token("dev-tenant", "dev-user", 60 * 24)
            banner += [
                "Development mode: JWT secret generated in the instance folder.",
                "Development token (tenant dev-tenant, user dev-user, 24 h):",
                f"  export TOKEN={token}",
            ]
        from .extensions import db

        db.engine.dispose()  # connections are made again in the worker, after fork
    print("\n".join(banner), file=sys.stderr, flush=True)
    options = {
        "bind": f"{cfg['API_HOST']}:{cfg['API_PORT']}",
        "workers": 1 if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else cfg["API_WORKERS"],
        "worker_class": "ingress_app.serving.JsonErrorThreadWorker",
        "threads": cfg["API_THREADS"],
        "timeout": 30,
        "accesslog": None,
        "post_worker_init": serving.post_worker_init,
        "worker_exit": serving.worker_exit,
    }
    _Server(app, options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
