"""Fault figures for the app: ``python -m faults`` (``make faults``): lost, stuck and duplicated work."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The app (shared/) and the tests' Azurite helpers (tests/helpers.py), whatever the working directory.
for _path in (str(REPO), str(REPO / "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
