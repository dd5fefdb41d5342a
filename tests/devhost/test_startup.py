"""Settings precedence, start-up errors and shutdown of ``python -m devhost``."""

import requests
from helpers import wait_until


def test_process_environment_wins_over_local_settings(host):
    values = requests.get(f"{host.base}/api/settings", timeout=5).json()
    assert values == {"FIXTURE_FROM_FILE": "file", "FIXTURE_OVERRIDDEN": "env"}


def test_unknown_binding_expression_setting_is_a_startup_error_naming_it(make_host):
    broken = make_host(settings={"FIXTURE_QUEUE": None}, wait=False)
    wait_until(lambda: broken.process.poll() is not None, message="devhost to exit")
    assert broken.process.returncode == 1
    assert "FIXTURE_QUEUE" in broken.log()


def test_sigterm_stops_the_host_cleanly(make_host):
    running = make_host()
    wait_until(lambda: "Host started" in running.log(), message="start-up banner")
    assert running.stop() == 0
    assert "Host stopped" in running.log()
