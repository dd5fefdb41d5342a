"""The app fails when it loads, not on its first request, when an operation is broken."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import REPO

from shared.bootstrap import build_registry
from shared.operations import APP_OPERATIONS, Parameter, ParamType, operation

GOOD = '''
from . import Parameter, ParamType, operation


@operation("contoso_Double", display_name="Double", inputs=[Parameter("N", ParamType.INT, required=True)])
def double(inputs, context):
    return {"N": inputs["N"] * 2}
'''


def _import_app_with(tmp_path, custom: str, **settings: str) -> subprocess.CompletedProcess:
    """Import function_app.py, as the host indexes it, with this custom.py and these app settings."""
    shutil.copy(REPO / "function_app.py", tmp_path)
    shutil.copytree(REPO / "shared", tmp_path / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "shared/operations/custom.py").write_text(custom)
    code = "import function_app; from shared.bootstrap import build_registry; " \
           "print(sorted(d.name for d in build_registry(enable_samples=False).public()))"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
                               "AzureWebJobsStorage": "UseDevelopmentStorage=true", **settings})


def test_an_operation_written_in_custom_py_is_registered_when_the_app_loads(tmp_path):
    loaded = _import_app_with(tmp_path, GOOD)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "['contoso_Double']"


@pytest.mark.parametrize("custom, error", [
    (GOOD.replace("contoso_Double", "sample_Echo"), "An operation named 'sample_Echo' is already registered"),
    (GOOD + GOOD.replace("def double", "def double_again").split("\n\n\n")[1], "already registered"),
    ("from . import operation\nraise RuntimeError('broken handler module')\n", "broken handler module"),
])
def test_a_duplicate_or_broken_operation_stops_the_app_from_loading(tmp_path, custom, error):
    loaded = _import_app_with(tmp_path, custom, BGOPS_ENABLE_SAMPLES="true")
    assert loaded.returncode != 0 and error in loaded.stderr


@pytest.mark.parametrize("name, value", [("BGOPS_MAX_SUBSCRIPTIONS", "500"), ("BGOPS_DEFAULT_TTL_SECONDS", "0"),
                                         ("BGOPS_ENABLE_SAMPLES", "maybe")])
def test_a_bad_setting_stops_the_app_from_loading_naming_it(tmp_path, name, value):
    loaded = _import_app_with(tmp_path, GOOD, **{name: value})
    assert loaded.returncode != 0 and "SettingsError" in loaded.stderr and name in loaded.stderr


def test_the_registry_holds_your_operations_and_the_samples_only_when_enabled():
    assert {d.name for d in build_registry(enable_samples=True)} >= {"sample_Echo", "sample_Fail"}
    assert not {d.name for d in build_registry(enable_samples=False)} & {"sample_Echo"}


def test_the_public_decorator_registers_into_the_apps_operations():
    @operation("test_Temporary", inputs=[Parameter("A", ParamType.STRING)])
    def temporary(inputs, context):
        """Does nothing."""
        return {}

    try:
        assert APP_OPERATIONS.get("test_temporary").description == "Does nothing."
    finally:
        APP_OPERATIONS._by_key.pop("test_temporary")


POOLS_AT_IMPORT = '''
import gc, pkgutil, importlib, threading
from concurrent.futures import ThreadPoolExecutor
import shared
for module in pkgutil.walk_packages(shared.__path__, "shared."):
    if not module.name.startswith(("shared.bootstrap", "shared.functions")):
        importlib.import_module(module.name)
print(sum(isinstance(o, ThreadPoolExecutor) for o in gc.get_objects()), threading.active_count())
import function_app
from shared.bootstrap import get_pools
pools = {id(p) for p in vars(get_pools()).values()}
print(sorted(id(o) in pools for o in gc.get_objects() if isinstance(o, ThreadPoolExecutor)), threading.active_count())
'''


def test_no_module_starts_a_pool_at_import_and_the_app_gets_its_pools_from_bootstrap_with_no_thread_started(tmp_path):
    loaded = _import_app_with(tmp_path, GOOD)
    assert loaded.returncode == 0, loaded.stderr
    probe = subprocess.run([sys.executable, "-c", POOLS_AT_IMPORT], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
                                            "AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert probe.returncode == 0, probe.stderr
    modules_alone, with_the_app = probe.stdout.splitlines()
    assert modules_alone == "0 1"  # every module but the wiring imported: no pool, no thread
    assert with_the_app == "[True, True, True, True, True] 1"  # the five pools bootstrap built, no thread yet
