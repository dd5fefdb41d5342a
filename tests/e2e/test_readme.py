"""The README's examples run as a newcomer would run them: every code block marked ``<!-- runnable: ... -->``.

- ``custom.py``: pasted into shared/operations/custom.py of a copy of the app, served as ``make run`` serves it;
- ``shell``: run by bash against that app (its address for 127.0.0.1:7071, a free port for the callback's 9000);
- ``unit test``: run by pytest beside the unit tests' fixtures, with the operation registered.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

from helpers import REPO, free_port

RUNNABLE = re.compile(r"<!-- runnable: ([\w. ]+) -->\n```\w+\n(.*?)\n```", re.S)
BLOCKS = RUNNABLE.findall((REPO / "README.md").read_text())
SHELL = [code for kind, code in BLOCKS if kind == "shell"]
OPERATION = next(code for kind, code in BLOCKS if kind == "custom.py")


def test_the_readme_marks_the_walk_through_the_operation_its_call_and_its_test_as_runnable():
    assert [kind for kind, _ in BLOCKS] == ["shell", "custom.py", "shell", "unit test"]


def test_the_operation_pasted_into_custom_py_is_served_and_each_shell_example_runs_as_it_says(make_app, tmp_path):
    folder = tmp_path / "app"  # a copy of the app, the README's operation pasted into custom.py
    folder.mkdir()
    for name in ("function_app.py", "host.json"):
        shutil.copy(REPO / name, folder)
    shutil.copytree(REPO / "shared", folder / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "shared" / "operations" / "custom.py").write_text(OPERATION + "\n")
    app = make_app(app_dir=folder)
    for script in SHELL:
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:7071", app.base)
                              .replace("9000", str(free_port()))],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"{script[:200]}\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
        # The walk-through prints the finished status and then the callback; the operation's call, its outputs.
        called_back = "callback" in script
        assert ran.stdout.count('"backgroundOperationStatusCode": 30') == (2 if called_back else 1), ran.stdout
        assert called_back or '"Recalculated": 2, "Total": 170.0' in ran.stdout, ran.stdout


def test_the_unit_test_example_passes_with_the_operation_registered(tmp_path):
    test = next(code for kind, code in BLOCKS if kind == "unit test")
    operation = OPERATION.replace("from . import", "from shared.operations import")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util

        _spec = importlib.util.spec_from_file_location("unit_conftest", {str(REPO / "tests/unit/conftest.py")!r})
        _unit = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_unit)
        globals().update({{k: v for k, v in vars(_unit).items() if not k.startswith("__")}})
    """))
    (tmp_path / "test_readme_example.py").write_text(f"{operation}\n\n\n{test}\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(REPO / "pyproject.toml"), "--rootdir",
                          str(REPO), str(tmp_path / "test_readme_example.py")], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-3000:]
