"""Timers and the admin endpoint through devhost."""

import base64
import contextlib

import requests
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient
from helpers import wait_until


def test_timer_fires_on_schedule_and_never_overlaps_itself(host):
    runs = wait_until(lambda: host.records("slow_tick")[:3] if len(host.records("slow_tick")) >= 3
                      else None, timeout=20, message="three slow_tick runs")
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier["ended"] <= later["started"]


def test_admin_endpoint_runs_a_timer_function_case_insensitively(host):
    before = len(host.records("tick"))  # other tests share this host and run tick too
    r = requests.post(f"{host.base}/admin/functions/TICK", json={"input": ""}, timeout=5)
    assert r.status_code == 202
    assert wait_until(lambda: host.records("tick")[before:], message="tick run") == [{"past_due": False}]


def test_admin_endpoint_runs_only_timers_the_way_the_app_uses_it(host):
    r = requests.post(f"{host.base}/admin/functions/work", json={"input": "{}"}, timeout=5)
    assert r.status_code == 400


def test_admin_endpoint_unknown_function_and_bad_body(host):
    assert requests.post(f"{host.base}/admin/functions/nope", json={"input": ""},
                         timeout=5).status_code == 404
    assert requests.post(f"{host.base}/admin/functions/tick", data="not json",
                         timeout=5).status_code == 400


def test_a_function_disabled_by_its_setting_is_never_triggered_and_the_admin_endpoint_still_runs_it(make_host, azurite):
    # AzureWebJobs.<name>.Disabled, read as .NET's bool.TryParse reads it ("True" too).
    host = make_host(settings={"AzureWebJobs.work.Disabled": "True", "AzureWebJobs.slow_tick.Disabled": "true",
                               "AzureWebJobs.tick.Disabled": "true"})
    queue = QueueClient.from_connection_string(azurite, host.queue_name)
    with contextlib.suppress(ResourceExistsError):  # no listener made it
        queue.create_queue()
    queue.send_message(base64.b64encode(b'{"key": "disabled", "mode": "ok"}').decode())
    assert "work: queueTrigger" in host.log() and "(disabled: AzureWebJobs.work.Disabled)" in host.log()
    assert "slow_tick: timerTrigger (*/1 * * * * *) (disabled: AzureWebJobs.slow_tick.Disabled)" in host.log()
    # The admin endpoint runs a disabled timer, as the host does with its master key.
    assert requests.post(f"{host.base}/admin/functions/tick", json={"input": ""}, timeout=5).status_code == 202
    wait_until(lambda: host.records("tick"), message="the admin endpoint's run of tick")
    # The queue's message, sent before a function that takes a second (two of a listener's 0.5 s polls), was
    # never received, and the every-second timer never fired.
    assert requests.get(f"{host.base}/api/sleep/1", timeout=10).status_code == 200
    [message] = queue.peek_messages(max_messages=32)
    assert message.dequeue_count == 0 and not host.records("disabled") and not host.records("slow_tick")
