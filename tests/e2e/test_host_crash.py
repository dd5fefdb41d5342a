"""A host that dies mid-run loses nothing: the message comes back and the next host finishes the job."""

from __future__ import annotations

import json

import requests
from helpers import wait_until

# devhost keeps a received message invisible for 10 minutes, as the real host does;
# this shortens it so the dead host's message comes back within seconds.
LEASE = {"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": "3"}


def test_operation_running_on_a_killed_host_is_recovered_and_finished_by_another(make_app, callbacks):
    first = make_app(**LEASE)
    url = callbacks.new_url()
    response = requests.post(first.url("data/v9.2/sample_Sleep"), json={"Seconds": 3},
                             headers={"Prefer": f'respond-async, odata.callback; url="{url}"'})
    op_id = response.json()["backgroundOperationId"]
    first.wait_for_status(op_id, 20)
    first.kill()

    second = make_app(name=first.queue_name, **LEASE)
    row = second.wait_for_status(op_id, (30, 31), timeout=45)
    assert row["backgroundoperationstatuscode"] == 30
    assert row["retrycount"] == 1  # attempt 1 died with the host; attempt 2 finished
    assert json.loads(row["outputparameters"]) == [{"Key": "SleptSeconds", "Value": 3}]
    calls = wait_until(lambda: callbacks.calls(url))
    assert [c["body"]["backgroundOperationStatusCode"] for c in calls] == [30]
    assert "stopped before it finished" in second.log()  # the recovery, as the second host logged it
