"""What a PATCH body asks for (api/changes.parse_change), as OData clients send it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.api.changes import parse_change
from shared.domain.errors import InvalidRequest
from shared.domain.states import Event

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_an_odata_type_annotation_added_by_the_client_is_ignored():
    body = {"@odata.type": "Microsoft.Dynamics.CRM.backgroundoperation",
            "backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22}
    assert parse_change(body, NOW).event is Event.CANCEL


def test_a_body_of_annotations_alone_asks_for_nothing_and_is_refused():
    with pytest.raises(InvalidRequest, match="must be a JSON object with one of"):
        parse_change({"@odata.type": "x"}, NOW)


def test_a_column_that_cannot_change_is_refused_naming_it():
    with pytest.raises(InvalidRequest, match="Cannot change name"):
        parse_change({"name": "x", "backgroundoperationstatecode": 0}, NOW)


def test_a_status_alone_names_its_state_as_a_client_sending_only_changed_columns_does():
    assert parse_change({"backgroundoperationstatuscode": 22}, NOW).event is Event.CANCEL
    with pytest.raises(InvalidRequest):
        parse_change({"backgroundoperationstatuscode": 23}, NOW)
