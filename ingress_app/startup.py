"""Startup failures as one line an operator can act on, not a traceback.

A configuration the service cannot serve (a broken `POLICIES_FILE` without a last good
copy, a missing or weak `JWT_SECRET_KEY`, a malformed setting) raises `ConfigError`,
whose message names the setting or the file and line. `create_app_or_exit` prints that
message as one line on stderr and exits with status 4: gunicorn's "app failed to load",
which makes its master stop instead of starting the worker again and again (any other
status from a booting worker is retried). `flask --app wsgi ...` exits the same way.

`database_error_line` does the same for commands that cannot use the database.
"""

from __future__ import annotations

import sys
from typing import Any

from .config import ConfigError

#: gunicorn's Arbiter.APP_LOAD_ERROR: a worker exiting with it halts the master.
EXIT_CANNOT_START = 4


def startup_error_line(exc: BaseException) -> str:
    """`ingress: cannot start: <what is wrong, naming the setting or file>`."""
    message = " ".join(str(exc).split())  # one line, whatever the message held
    return f"ingress: cannot start: {message}"


def create_app_or_exit(config: dict[str, Any] | None = None):
    """`create_app(config)`, or one line on stderr and exit status 4 when it cannot."""
    from . import create_app

    try:
        return create_app(config)
    except ConfigError as exc:
        print(startup_error_line(exc), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CANNOT_START) from None


def is_database_error(exc: BaseException) -> bool:
    """The database could not be reached, refused the connection, or failed a statement
    for operational reasons (a timeout, a missing table on SQLite): not a bug to trace."""
    from sqlalchemy.exc import OperationalError as SqlAlchemyOperationalError

    try:
        from psycopg import OperationalError as PsycopgOperationalError
    except ImportError:  # pragma: no cover - psycopg is a dependency
        PsycopgOperationalError = SqlAlchemyOperationalError  # noqa: N806
    return isinstance(exc, SqlAlchemyOperationalError | PsycopgOperationalError)


def database_error_line(exc: BaseException, url: str) -> str:
    """`cannot use the database (DATABASE_URL=<url, password hidden>): <reason>`."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True) if url else "(not set)"
    except Exception:  # an unparsable URL: say so without echoing it (it may hold a password)
        shown = "(unparsable)"
    reason = getattr(exc, "orig", None) or exc
    first = next((line.strip() for line in str(reason).splitlines() if line.strip()), "")
    return f"cannot use the database (DATABASE_URL={shown}): {first or type(reason).__name__}"
