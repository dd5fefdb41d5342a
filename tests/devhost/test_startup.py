"""Settings precedence, start-up errors and shutdown of ``python -m devhost``."""

import signal
import threading
import time

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


def test_sigterm_while_a_handler_runs_on_exits_after_the_grace_and_stops_taking_requests_at_once(make_host):
    """A handler that outlasts the grace (10 s) does not keep the host alive: it stops answering at once and
    exits within 15 s of the signal, as the Functions host stops its worker, whatever the handler does."""
    running = make_host()
    threading.Thread(target=_call, args=(f"{running.base}/api/sleep/60",), daemon=True).start()
    wait_until(lambda: running.records("sleep"), message="the handler to start")
    signalled = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    wait_until(lambda: _refused(f"{running.base}/api/plain"), timeout=5, message="HTTP to stop at once")
    assert running.process.wait(15) == 0 and time.monotonic() - signalled < 15
    assert "Host stopped" in running.log()


def _call(url: str) -> None:
    try:
        requests.get(url, timeout=70)
    except requests.RequestException:
        pass  # the host stopped while it ran: what the test is about


def _refused(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.ConnectionError:
        return True
    return False
