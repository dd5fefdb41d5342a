"""JSON shapes of operations in responses (shared/api/views.py, SPEC §3.2-3.3)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.api.views import COLUMNS, EXTRA_COLUMNS, FORMATTED, accepted, entity, iso, monitor
from shared.domain.states import Status

LOCATION = "https://app.example.com/api/backgroundoperation/x"
SECRET = "https://example.com/cb?sig=TOPSECRET"
T0 = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
# SPEC §3.3, in its order.
SPEC_COLUMNS = ["backgroundoperationid", "name", "displayname", "backgroundoperationstatecode",
                "backgroundoperationstatuscode", "inputparameters", "outputparameters", "starttime", "endtime",
                "retrycount", "errorcode", "errormessage", "runas", "createdon", "modifiedon", "ttlinseconds",
                "postponeuntil"]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def full_op(make_op):
    return make_op(status=Status.SUCCEEDED, inputs={"A": 1}, outputs={"B": "two"}, createdon=T0,
                   modifiedon=T0 + timedelta(seconds=9), starttime=T0 + timedelta(seconds=1),
                   endtime=T0 + timedelta(seconds=8), postponeuntil=T0 + timedelta(days=1), retrycount=2,
                   errorcode=-1, errormessage="earlier failure", runas="principal-1", callbackurl=SECRET,
                   progresspercent=100, progressmessage="done", messageid="m", baseurl="https://app.example.com")


def test_entity_has_exactly_the_spec_columns_by_default(full_op):
    assert list(entity(full_op)) == ["@odata.etag", *SPEC_COLUMNS]
    assert list(COLUMNS) == SPEC_COLUMNS


def test_entity_values_come_from_the_row(full_op):
    row = entity(full_op.with_changes(versionnumber=7))
    assert row["@odata.etag"] == 'W/"7"'  # Dataverse's form: the row's version number, not a storage ETag
    assert row["backgroundoperationid"] == full_op.id
    assert (row["name"], row["displayname"], row["runas"]) == ("sample_Echo", "Echo", "principal-1")
    assert (row["backgroundoperationstatecode"], row["backgroundoperationstatuscode"]) == (3, 30)
    assert (row["retrycount"], row["errorcode"], row["errormessage"]) == (2, -1, "earlier failure")
    assert row["ttlinseconds"] == 7_776_000


def test_entity_parameters_are_json_strings_of_key_value_pairs(full_op):
    row = entity(full_op)
    assert json.loads(row["inputparameters"]) == [{"Key": "A", "Value": 1}]
    assert json.loads(row["outputparameters"]) == [{"Key": "B", "Value": "two"}]


def test_entity_outputs_are_null_until_there_are_outputs(make_op):
    assert entity(make_op())["outputparameters"] is None


@pytest.mark.parametrize("column", ["createdon", "modifiedon", "starttime", "endtime", "postponeuntil"])
def test_entity_times_are_iso_8601_utc_with_z(full_op, column):
    text = entity(full_op)[column]
    assert ISO_Z.match(text), text
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(parsed - getattr(full_op, column)) < timedelta(seconds=1)


def test_entity_times_not_set_are_null(make_op):
    row = entity(make_op())
    assert row["starttime"] is None and row["endtime"] is None and row["postponeuntil"] is None


def test_iso_renders_utc_with_a_z():
    assert iso(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2030-01-02T03:04:05Z"
    assert iso(None) is None


def test_iso_converts_a_time_with_another_offset_to_utc():
    moment = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2030-01-02T03:04:05Z"


def test_entity_never_contains_the_callback_url_even_when_every_column_is_selected(full_op):
    every = COLUMNS + EXTRA_COLUMNS
    for select in (COLUMNS, every):
        row = entity(full_op, select)
        assert not any("callback" in key for key in row if key != "callbackstate")  # where it stands, only
        assert row.get("callbackstate", "delivered") in ("unsent", "pending", "sending", "delivered", "failed")
        assert "TOPSECRET" not in json.dumps(row)


def test_entity_select_narrows_to_the_chosen_columns_in_order(full_op):
    assert entity(full_op, ("name", "backgroundoperationid")) == {"@odata.etag": 'W/"0"', "name": "sample_Echo",
                                                                 "backgroundoperationid": full_op.id}


def test_entity_extra_progress_and_recurrence_columns_only_when_selected(full_op):
    assert "progresspercent" not in entity(full_op) and "recentruns" not in entity(full_op)
    assert entity(full_op, EXTRA_COLUMNS) == {"@odata.etag": 'W/"0"', "progresspercent": 100,
                                              "progressmessage": "done", "recurrencepattern": None,
                                              "recentruns": None, "callbackstate": full_op.callbackstate.value
                                              or "unsent", "attemptstarts": None, "attempts": None,
                                              "dependencytoken": None, "waitingbehind": None,
                                              "traceparent": None}


def test_monitor_flattens_outputs_on_success(make_op):
    op = make_op(status=Status.SUCCEEDED, outputs={"Attempts": 3, "Nested": {"a": 1}})
    body = monitor(op, LOCATION)
    assert body == {"backgroundOperationId": op.id, "location": LOCATION, "backgroundOperationStateCode": 3,
                    "backgroundOperationStatusCode": 30, "Attempts": 3, "Nested": {"a": 1}}


def test_monitor_outputs_never_overwrite_the_status_fields(make_op):
    op = make_op(status=Status.SUCCEEDED, outputs={"backgroundOperationStatusCode": 99, "location": "evil"})
    body = monitor(op, LOCATION)
    assert body["backgroundOperationStatusCode"] == 30 and body["location"] == LOCATION


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.SUCCEEDED], ids=lambda s: s.name)
def test_monitor_does_not_flatten_outputs_unless_succeeded(make_op, status):
    op = make_op(status=status, outputs={"Leaked": 1}, errorcode=-7, errormessage="bad")
    body = monitor(op, LOCATION)
    assert "Leaked" not in body
    assert ("backgroundOperationErrorCode" in body) == (status is Status.FAILED)


def test_monitor_of_a_failure_carries_the_error(make_op):
    body = monitor(make_op(status=Status.FAILED, errorcode=-5, errormessage="boom"), LOCATION)
    assert body["backgroundOperationErrorCode"] == -5 and body["backgroundOperationErrorMessage"] == "boom"


def test_monitor_never_contains_the_callback_url(make_op):
    op = make_op(status=Status.SUCCEEDED, outputs={"x": 1}, callbackurl=SECRET)
    assert "TOPSECRET" not in json.dumps(monitor(op, LOCATION))


def test_accepted_body_has_codes_and_their_formatted_labels(make_op):
    op = make_op()
    body = accepted(op, LOCATION)
    assert body == {
        "backgroundOperationId": op.id, "location": LOCATION,
        "backgroundOperationStateCode": 0, "backgroundOperationStatusCode": 0,
        "backgroundOperationStateCode@OData.Community.Display.V1.FormattedValue": "Ready",
        "backgroundOperationStatusCode@OData.Community.Display.V1.FormattedValue": "Waiting For Resources",
    }
    assert FORMATTED == "@OData.Community.Display.V1.FormattedValue"


def test_accepted_body_of_a_postponed_operation_says_suspended_waiting(make_op):
    body = accepted(make_op(status=Status.WAITING), LOCATION)
    assert body["backgroundOperationStateCode"] == 1 and body["backgroundOperationStatusCode"] == 10
    assert body["backgroundOperationStateCode" + FORMATTED] == "Suspended"
    assert body["backgroundOperationStatusCode" + FORMATTED] == "Waiting"
