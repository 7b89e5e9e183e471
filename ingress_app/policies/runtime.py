"""The live policy configuration of one process, and how it is reloaded.

- Startup: `POLICIES_FILE` is loaded with its plugins; any error stops the startup
  with a message naming the file, the line, the tenant and the policy — unless a
  last-good copy exists in the instance folder (see below), which is used instead
  and the error is reported in the logs and `/health`.
- Reload: gunicorn `HUP` starts fresh workers, which load the file again; each worker
  also notices a changed file (mtime, checked every `POLICIES_RELOAD_INTERVAL_SECONDS`)
  and swaps engines between requests. A broken file never replaces a working one.
- Every successful load writes `policies.last-good.yaml` to the instance folder; its
  first line names the file it copies, and only that file's failures fall back to it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from ..config import ConfigError
from ..plugin_manager import disabled_plugins, load_plugins
from ..state import ingress_state
from .config import PolicyConfig, load_policy_file, parse_policy_text
from .engine import PolicyEngine

log = logging.getLogger(__name__)

SNAPSHOT_HEADER = "# ingress: last good copy of "

#: What runs when no policies file exists (the seed's three default policies).
BUILTIN_DEFAULTS = """\
version: 1
policies:
  tenant_isolation: {}
  retry_limit: {max_retries: 10}
  timeout: {max_timeout_seconds: 7200}
"""


_broken_file_tolerated = contextvars.ContextVar("broken_policies_file_tolerated", default=False)


@contextmanager
def broken_policies_file_tolerated() -> Iterator[None]:
    """Apps created inside start even when `POLICIES_FILE` is broken (with the built-in
    defaults, the error kept for `/health`): what `policies check` needs to check a file
    exactly when the configured one cannot be loaded. Never used for serving."""
    token = _broken_file_tolerated.set(True)
    try:
        yield
    finally:
        _broken_file_tolerated.reset(token)


def build_engine(app: Flask, config: PolicyConfig) -> PolicyEngine:
    plugins = load_plugins(
        config.plugins,
        origin=config.line_of("plugins"),
        disabled=disabled_plugins(app.config.get("INGRESS_DISABLED_PLUGINS", "")),
        trace=bool(app.config.get("INGRESS_PLUGIN_TRACE")),
    )
    engine = PolicyEngine(config, plugins)
    plugins.startup(app, config)
    return engine


class PolicyRuntime:
    def __init__(self, app: Flask):
        self.app = app
        self.path = Path(app.config["POLICIES_FILE"])
        self.snapshot = Path(app.instance_path) / "policies.last-good.yaml"
        self.interval = float(app.config.get("POLICIES_RELOAD_INTERVAL_SECONDS", 2))
        self.error: str | None = None
        self.loaded_at: datetime | None = None
        self.source: str = str(self.path)
        self._mtime: float | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self.engine = self._load_initial()

    def _read(self) -> tuple[PolicyConfig, float | None]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            if self.app.config.get("POLICIES_FILE_REQUIRED"):
                raise ConfigError(f"{self.path}: file not found (POLICIES_FILE)") from None
            return parse_policy_text(BUILTIN_DEFAULTS, source="<built-in defaults>"), None
        return load_policy_file(self.path), mtime

    def _remember(self, config: PolicyConfig, mtime: float | None) -> None:
        self._mtime = mtime
        self.loaded_at = datetime.now(UTC)
        self.source = config.source
        if mtime is None:
            return
        try:  # atomic replace: concurrent workers never see a half-written copy
            self.snapshot.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.snapshot.parent, prefix=".policies-")
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{SNAPSHOT_HEADER}{self.path.resolve()}\n{config.text}")
            os.replace(tmp, self.snapshot)
        except OSError as exc:
            log.warning(
                "could not keep a last-good copy of the policies", extra={"error": str(exc)}
            )

    def _load_initial(self) -> PolicyEngine:
        try:
            config, mtime = self._read()
            engine = build_engine(self.app, config)
        except ConfigError as exc:
            if not self._has_snapshot():
                if not _broken_file_tolerated.get():
                    raise
                self.error = str(exc)
                config = parse_policy_text(BUILTIN_DEFAULTS, source="<built-in defaults>")
                engine = build_engine(self.app, config)
                self.loaded_at = datetime.now(UTC)
                self.source = config.source
                return engine
            self.error = str(exc)
            log.error(
                "policies file rejected; serving the last good copy: %s",
                self.error,
                extra={"error": self.error},
            )
            config = load_policy_file(self.snapshot)
            engine = build_engine(self.app, config)
            self._mtime = self._current_mtime()
            self.loaded_at = datetime.now(UTC)
            self.source = str(self.snapshot)
            return engine
        self._remember(config, mtime)
        return engine

    def _has_snapshot(self) -> bool:
        """A last-good copy of *this* file (another file's copy is no fallback)."""
        try:
            with self.snapshot.open() as fh:
                first = fh.readline().rstrip("\n")
        except OSError:
            return False
        return first == f"{SNAPSHOT_HEADER}{self.path.resolve()}"

    def _current_mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def reload(self) -> bool:
        """Load the file again; on error keep the current engine. True if swapped."""
        with self._lock:
            try:
                config, mtime = self._read()
                engine = build_engine(self.app, config)
            except Exception as exc:  # whatever the file does, the serving engine stays
                self.error = (
                    str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
                )
                self._mtime = self._current_mtime()  # don't retry the same broken file
                log.error(
                    "policies file rejected; keeping the previous policies: %s",
                    self.error,
                    extra={"error": self.error},
                )
                return False
            self.engine = engine
            self.error = None
            self._remember(config, mtime)
            log.info("policies reloaded", extra={"source": config.source})
            return True

    def maybe_reload(self) -> None:
        """Cheap check between requests: reload when the file's mtime changed."""
        if self.interval <= 0:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.interval
        if self._current_mtime() != self._mtime:
            self.reload()

    def health(self) -> dict[str, Any]:
        check: dict[str, Any] = {
            "status": "warn" if self.error else "pass",
            "source": self.source,
            "time": self.loaded_at.isoformat() if self.loaded_at else None,
        }
        if self.error:
            check["output"] = f"rejected policies file, previous policies kept: {self.error}"
        return {"policies": check}


def policy_engine() -> PolicyEngine:
    return ingress_state().policies.engine


def init_policies(app: Flask) -> PolicyRuntime:
    runtime = PolicyRuntime(app)
    state = ingress_state(app)
    state.policies = runtime
    state.health_checks.append(runtime.health)
    return runtime
