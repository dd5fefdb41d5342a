"""The catalog's shapes (shared/api/catalog.py): each parameter type as JSON Schema."""

from __future__ import annotations

import pytest

from shared.api.catalog import SCHEMA_OF, definition_view, schema
from shared.operations.registry import OperationDefinition, Parameter, ParamType


def test_every_parameter_type_has_a_json_schema():
    assert set(SCHEMA_OF) == set(ParamType)


@pytest.mark.parametrize("kind, expected", [(ParamType.INT, {"type": "integer", "format": "int64"}),
                                            (ParamType.DATETIME, {"type": "string", "format": "date-time"}),
                                            (ParamType.BOOL, {"type": "boolean"}), (ParamType.ANY, {})])
def test_a_parameter_becomes_a_property_of_its_json_type(kind, expected):
    shaped = schema((Parameter("P", kind, description="what P is"),))
    assert shaped["properties"]["P"] == {**expected, "description": "what P is", "x-ms-summary": "P"}
    assert "required" not in shaped and shaped["additionalProperties"] is False


def test_required_parameters_are_listed_and_open_inputs_admit_more():
    shaped = schema((Parameter("A", required=True), Parameter("B")), open_properties=True)
    assert shaped["required"] == ["A"] and "additionalProperties" not in shaped


def test_the_view_names_the_request_parameters_and_response_properties():
    definition = OperationDefinition(name="contoso_X", handler=lambda i, c: {}, display_name="X",
                                     inputs=(Parameter("Year", ParamType.INT, required=True),),
                                     outputs=(Parameter("Count", ParamType.INT),), description="Does X.")
    view = definition_view(definition)
    assert view["requestParameters"] == [{"name": "Year", "type": "int", "description": "", "required": True}]
    assert view["responseProperties"] == [{"name": "Count", "type": "int", "description": ""}]
    assert (view["name"], view["displayName"], view["description"]) == ("contoso_X", "X", "Does X.")
