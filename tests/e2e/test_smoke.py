"""The first thing a newcomer tries: submit, poll the Location, get the outputs."""

import requests
from helpers import wait_until


def test_submitted_echo_succeeds_and_the_location_returns_its_outputs(app):
    response = app.submit("sample_Echo", {"Greeting": "hello"})
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    final = wait_until(lambda: (r := requests.get(location, timeout=10)).status_code == 200 and r,
                       message="the operation to finish")
    body = final.json()
    assert body["backgroundOperationStatusCode"] == 30
    assert body["Greeting"] == "hello"
