"""``make deps-check``: the app against the lowest and the highest versions requirements.txt allows.

For each of Python 3.11 and 3.13 (``PYTHON311``/``PYTHON313``, else found on PATH or under pyenv), and each
of *lowest* (every runtime requirement at the least version its bounds allow) and *highest* (whatever pip
picks within them), builds a virtualenv under ``.deps-check/``, installs the runtime requirements, the unit
tests' tools and, on 3.13, the Python worker Azure runs there (``azure-functions-runtime``), then runs the
unit tests and the worker's indexing of function_app.py (``scripts/index_app.py``). Prints one line each
and exits 1 if any failed. Not part of CI: it downloads every version it tries.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".deps-check"
# What the unit tests import besides the app: their tools, and the project's client (tests/unit/test_client_flows.py).
TEST_TOOLS = ["pytest", "pytest-timeout", "hypothesis", "standardwebhooks==1.1.0", "jsonschema", "./clients/python"]
PYTHONS = {"3.11": "PYTHON311", "3.13": "PYTHON313"}


def interpreter(version: str) -> str | None:
    """The given Python: from its variable, PATH, or pyenv's versions."""
    found = os.environ.get(PYTHONS[version]) or shutil.which(f"python{version}")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    return candidates[-1] if candidates else None


def requirements() -> list[Requirement]:
    """requirements.txt, comments left out."""
    lines = (line.split("#", 1)[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def lowest_constraints(version: str) -> list[str]:
    """``name==least`` for each runtime requirement that applies on this Python."""
    pins = []
    for requirement in requirements():
        if requirement.marker and not requirement.marker.evaluate({"python_version": version}):
            continue
        floors = [s.version for s in requirement.specifier if s.operator in (">=", "~=", "==")]
        if floors:
            pins.append(f"{requirement.name}=={floors[0]}")
    return pins


def check(version: str, python: str, bound: str) -> bool:
    """Build one environment and run the checks in it; print how it went."""
    venv = WORK / f"py{version}-{bound}"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    extra = ["azure-functions-runtime"] if version >= "3.13" else []
    if bound == "lowest":
        constraints = venv / "lowest.txt"
        constraints.write_text("\n".join(lowest_constraints(version)) + "\n")
        pip += ["-c", str(constraints)]
    steps = [pip + ["-r", str(REPO / "requirements.txt"), *TEST_TOOLS, *extra],
             [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-x", "tests/unit"],
             [str(venv / "bin" / "python"), "scripts/index_app.py"]]
    for step in steps:
        done = subprocess.run(step, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"Python {version}, {bound}: FAILED at {' '.join(step[2:5])}\n"
                  f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
            return False
    versions = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                              capture_output=True, text=True).stdout
    names = {requirement.name.lower() for requirement in requirements()}
    chosen = [line for line in versions.splitlines() if line.split("==")[0].lower() in names]
    print(f"Python {version}, {bound}: unit tests and indexing passed with {', '.join(chosen)}")
    return True


def main() -> int:
    WORK.mkdir(exist_ok=True)
    ok = True
    for version in PYTHONS:
        python = interpreter(version)
        if python is None:
            print(f"Python {version}: not found (set {PYTHONS[version]})")
            ok = False
            continue
        for bound in ("lowest", "highest"):
            ok = check(version, python, bound) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
