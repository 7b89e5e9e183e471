"""Regenerate the checked-in OpenAPI document and the Python client from the app.

    python clients/generate.py           # write clients/openapi.json and clients/python/
    python clients/generate.py --check   # exit 1 if either is stale (CI, tests)

The document comes from `create_app()` itself (no server, no database connection): the
same one `GET /openapi.json` serves. The client is made by openapi-python-client (the
version pinned in setup.cfg's dev extra), then `clients/README.python.md` becomes its
README (the usage example).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent
ROOT = CLIENTS.parent
DOCUMENT = CLIENTS / "openapi.json"
PYTHON_CLIENT = CLIENTS / "python"
CONFIG = CLIENTS / "openapi-python-client.yaml"
README = CLIENTS / "README.python.md"


def build_document() -> str:
    """The app's OpenAPI document as JSON text (stable key order, trailing newline)."""
    sys.path.insert(0, str(ROOT))
    from ingress_app import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "TESTING": True,
                "JWT_SECRET_KEY": "document-only-" + "x" * 32,
                "DATABASE_URL": f"sqlite:///{instance}/ingress.db",
                "KAFKA_BOOTSTRAP_SERVERS": "",
                "OUTBOX_RELAY_ENABLED": False,
                "LOG_FORMAT": "text",
            }
        )
        with app.test_request_context():
            spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def generate_client(document: Path, output: Path) -> None:
    """Run openapi-python-client on `document` into `output` (replaced)."""
    if output.exists():
        shutil.rmtree(output)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(output),
            "--config",
            str(CONFIG),
            "--meta",
            "pdm",
            "--fail-on-warning",
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    shutil.copyfile(README, output / "README.md")


def _differences(left: Path, right: Path) -> list[str]:
    """Files that differ between two trees (missing on either side included)."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        found.extend(prefix + name for name in cmp.left_only + cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        found.extend(prefix + name for name in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=["__pycache__"]), "")
    return sorted(found)


def stale() -> list[str]:
    """What `generate.py` would change: [] when the checked-in files are current."""
    document = build_document()
    problems = []
    if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != document:
        problems.append(str(DOCUMENT.relative_to(ROOT)))
    with tempfile.TemporaryDirectory() as scratch:
        fresh_document = Path(scratch) / "openapi.json"
        fresh_document.write_text(document, encoding="utf-8")
        fresh = Path(scratch) / "python"
        generate_client(fresh_document, fresh)
        if not PYTHON_CLIENT.exists():
            problems.append(str(PYTHON_CLIENT.relative_to(ROOT)))
        else:
            rel = PYTHON_CLIENT.relative_to(ROOT)
            problems.extend(f"{rel}/{name}" for name in _differences(fresh, PYTHON_CLIENT))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for name in problems:
            print(f"stale: {name}", file=sys.stderr)
        if problems:
            print("run: python clients/generate.py", file=sys.stderr)
        return 1 if problems else 0
    DOCUMENT.write_text(build_document(), encoding="utf-8")
    generate_client(DOCUMENT, PYTHON_CLIENT)
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {PYTHON_CLIENT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
