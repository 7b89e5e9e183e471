"""`ingress` and `python -m ingress_app`: serve Ingress, or run an operator command.

- No arguments, or `serve`: run the service under gunicorn (`serve --server granian`:
  under granian) on its embedded default (or on what the environment says). With no environment at all: SQLite in the instance
  folder (migrated on start), the in-process cache, an outbox that keeps messages until
  Kafka is configured, and a development JWT secret; a ready-to-use development token is
  printed.
- Anything else: the operator commands of `flask --app wsgi ...` (`db upgrade`,
  `outbox relay`, `events consume`, `kafka init-topics`, `policies check`, `tokens
  issue`, ...), from any directory: the app is built from the environment by
  `create_app()`, and the migrations are installed with the package.

A configuration that cannot be served, or a database that cannot be reached, ends the
command with one line naming the setting or file, not a traceback.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, routes_command, shell_command
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


def _create_app():
    from .startup import create_app_or_exit

    return create_app_or_exit()


def serve(server: str = "gunicorn") -> int:
    """Run Ingress under gunicorn (what `ingress` and `python -m ingress_app` do alone) or
    under granian's WSGI interface."""
    from flask_migrate import upgrade

    from .auth import issue_token

    if server == "granian":
        _metrics_directory()  # before any metric exists in this process
    app = _create_app()
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
    workers = 1 if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else cfg["API_WORKERS"]
    if server == "granian":
        return _serve_granian(cfg, workers)
    options = {
        "bind": f"{cfg['API_HOST']}:{cfg['API_PORT']}",
        "workers": workers,
        "worker_class": "ingress_app.serving.JsonErrorThreadWorker",
        "threads": cfg["API_THREADS"],
        "timeout": 30,
        "accesslog": None,
        "post_worker_init": serving.post_worker_init,
        "worker_exit": serving.worker_exit,
    }
    _Server(app, options).run()
    return 0


def _metrics_directory() -> None:
    """Metrics of all workers are merged through files, as under gunicorn: an empty
    PROMETHEUS_MULTIPROC_DIR (a new temporary one when unset)."""
    import os
    import shutil
    import tempfile

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)  # stale files would double-count
        os.makedirs(path, exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ingress-metrics-")


def _serve_granian(cfg, workers: int) -> int:
    """granian's WSGI server, `workers` processes; each worker builds the app (and starts
    its relays) itself (`serving.granian_app`). Threads: `serving.granian_blocking_threads`."""
    import os
    import shutil

    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError:
        raise click.ClickException(
            "granian is not installed: pip install '.[granian]' in a checkout "
            "(the granian extra of ingress-app)"
        ) from None
    from .serving import granian_blocking_threads

    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    try:
        Granian(
            "ingress_app.serving:granian_app",
            factory=True,
            interface=Interfaces.WSGI,
            address=cfg["API_HOST"],
            port=int(cfg["API_PORT"]),
            workers=workers,
            blocking_threads=granian_blocking_threads(cfg),
            log_access=False,
        ).serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


class IngressGroup(FlaskGroup):
    """Flask's command group, building the app with `create_app()` (no `--app` needed) and
    turning a database that cannot be used (unreachable, timed out, not migrated) into
    one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from .startup import database_error_line, is_database_error

        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not is_database_error(exc):
                raise
            from flask.cli import ScriptInfo

            app = ctx.ensure_object(ScriptInfo).load_app()  # built already: returned as is
            url = app.config.get("SQLALCHEMY_DATABASE_URI", "")
            raise click.ClickException(database_error_line(exc, url)) from None


cli = IngressGroup(
    name="ingress",
    help="Serve Ingress (no command, or `serve`) or run an operator command.",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)


@cli.command("serve", with_appcontext=False)
@click.option(
    "--server",
    type=click.Choice(["gunicorn", "granian"]),
    default="gunicorn",
    show_default=True,
    help="granian: its WSGI interface (pip install '.[granian]' in a checkout).",
)
def serve_command(server: str) -> None:
    """Run Ingress (API_HOST, API_PORT, API_WORKERS, API_THREADS)."""
    raise SystemExit(serve(server))


cli.add_command(shell_command)
cli.add_command(routes_command)


def _add_app_free_commands() -> None:
    # Found without loading the app (so they work when its configuration is broken).
    from .cli import policies

    cli.add_command(policies)


_add_app_free_commands()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        return serve()
    return cli.main(args, prog_name="ingress")


if __name__ == "__main__":
    sys.exit(main())
