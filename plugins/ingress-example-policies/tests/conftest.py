"""Let the tests import the package from src/ when it is not installed."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("ingress_example_policies") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
