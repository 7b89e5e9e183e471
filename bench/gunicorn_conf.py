"""gunicorn settings for the benchmark: exactly the repository's gunicorn.conf.py, plus
one guard. Both servers (the app and the bare baseline) are started with this file, so
they always share the same settings.

Guard: gunicorn shallow-merges `logconfig_dict` over its defaults, whose `root` logger
points at a `console` handler; a `logconfig_dict` that replaces `handlers` without
giving `root` makes gunicorn exit with "Unable to configure root logger". When that is
the case the root logger gets no handler here (the app installs its own), otherwise the
file is used unchanged.
"""

import runpy
from pathlib import Path

_settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
globals().update({k: v for k, v in _settings.items() if not k.startswith("__")})

_lc = globals().get("logconfig_dict")
if _lc and "root" not in _lc and "console" not in _lc.get("handlers", {}):
    _lc = dict(_lc)
    _lc["root"] = {"level": "WARNING", "handlers": []}
    logconfig_dict = _lc
    GUARD_APPLIED = True
else:
    GUARD_APPLIED = False
