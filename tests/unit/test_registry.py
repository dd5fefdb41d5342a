"""The operation registry and input validation (shared/operations/registry.py, SPEC §5)."""

from __future__ import annotations

import pytest

from shared.domain.errors import InvalidRequest, UnknownOperation
from shared.operations.registry import Binding, Kind, OperationDefinition, OperationRegistry, Parameter, ParamType
from shared.operations.samples import register_samples


def handler(inputs, context):
    """A handler that does nothing."""
    return {}


def definition(*inputs: Parameter, open_inputs: bool = False) -> OperationDefinition:
    return OperationDefinition(name="op", handler=handler, inputs=inputs, open_inputs=open_inputs)


# One value of each JSON type a request body can carry, keyed by what it is.
VALUES = {
    "string": "text",
    "iso-datetime": "2024-05-06T07:08:09Z",
    "int": 7,
    "negative-int": -3,
    "float": 1.5,
    "true": True,
    "false": False,
    "object": {"a": 1},
    "array": [1, 2],
}
ACCEPTS = {
    ParamType.STRING: {"string", "iso-datetime"},
    ParamType.INT: {"int", "negative-int"},
    ParamType.NUMBER: {"int", "negative-int", "float"},
    ParamType.BOOL: {"true", "false"},
    ParamType.DATETIME: {"iso-datetime"},
    ParamType.OBJECT: {"object"},
    ParamType.ARRAY: {"array"},
    ParamType.ANY: set(VALUES),
}
CASES = [(t, k) for t in ParamType for k in VALUES]


@pytest.mark.parametrize("ptype, kind", CASES, ids=[f"{t.value}-{k}" for t, k in CASES])
def test_each_param_type_accepts_exactly_its_json_type(ptype, kind):
    op = definition(Parameter("P", ptype))
    value = VALUES[kind]
    if kind in ACCEPTS[ptype]:
        assert op.validate({"P": value}) == {"P": value}
    else:
        with pytest.raises(InvalidRequest, match="Parameter 'P' must be"):
            op.validate({"P": value})


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("ptype", [ParamType.INT, ParamType.NUMBER])
def test_a_bool_is_not_a_number(ptype, value):
    with pytest.raises(InvalidRequest, match=f"of type {ptype.value}, not bool"):
        definition(Parameter("P", ptype)).validate({"P": value})


@pytest.mark.parametrize("value", ["2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00+02:00",
                                   "2024-01-01T00:00:00.5Z"])
def test_datetime_accepts_iso_8601_strings(value):
    assert definition(Parameter("D", ParamType.DATETIME)).validate({"D": value}) == {"D": value}


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "", 1700000000])
def test_datetime_refuses_other_values_saying_iso_8601(value):
    with pytest.raises(InvalidRequest, match="ISO 8601"):
        definition(Parameter("D", ParamType.DATETIME)).validate({"D": value})


@pytest.mark.parametrize("inputs", [{}, {"Other": 1}, {"Seconds": None}])
def test_missing_required_parameter_is_refused_naming_it_and_its_type(inputs):
    op = definition(Parameter("Seconds", ParamType.NUMBER, required=True), Parameter("Other"))
    with pytest.raises(InvalidRequest, match=r"needs the parameter 'Seconds' \(number\)"):
        op.validate(inputs)


def test_optional_parameter_may_be_absent_or_null():
    op = definition(Parameter("N", ParamType.INT))
    assert op.validate({}) == {}
    assert op.validate({"N": None}) == {"N": None}


def test_unknown_parameters_are_refused_listing_what_is_accepted():
    op = definition(Parameter("A", ParamType.INT), Parameter("B", ParamType.STRING))
    with pytest.raises(InvalidRequest) as info:
        op.validate({"A": 1, "Zed": 1, "Yo": 2})
    message = str(info.value)
    assert "'Yo', 'Zed'" in message and "it accepts: A, B" in message


def test_unknown_parameters_are_refused_even_with_no_declared_inputs():
    with pytest.raises(InvalidRequest, match="it accepts: none"):
        definition().validate({"X": 1})


def test_parameter_names_are_case_sensitive_in_inputs():
    op = definition(Parameter("Seconds", ParamType.NUMBER, required=True))
    with pytest.raises(InvalidRequest):
        op.validate({"seconds": 1})


def test_open_inputs_accepts_undeclared_parameters_but_still_checks_declared_ones():
    op = definition(Parameter("A", ParamType.INT), open_inputs=True)
    assert op.validate({"A": 1, "Anything": [1]}) == {"A": 1, "Anything": [1]}
    with pytest.raises(InvalidRequest):
        op.validate({"A": "one", "Anything": 1})


@pytest.mark.parametrize("inputs", [None, [], "text", 3, [{"Key": "A", "Value": 1}]])
def test_inputs_that_are_not_a_json_object_are_refused(inputs):
    with pytest.raises(InvalidRequest, match="must be a JSON object"):
        definition().validate(inputs)


def test_validate_returns_a_copy():
    inputs = {"A": 1}
    result = definition(Parameter("A", ParamType.INT)).validate(inputs)
    assert result == inputs and result is not inputs


def test_type_error_message_shows_a_short_value():
    with pytest.raises(InvalidRequest) as info:
        definition(Parameter("S", ParamType.INT)).validate({"S": "x" * 500})
    assert len(str(info.value)) < 150 and "..." in str(info.value)


def test_lookup_is_case_insensitive():
    registry = OperationRegistry()
    registry.operation("sample_Echo", display_name="Echo")(handler)
    for name in ("sample_Echo", "SAMPLE_ECHO", "sample_echo"):
        assert registry.get(name).name == "sample_Echo"


def test_registering_a_name_twice_is_refused_regardless_of_case():
    registry = OperationRegistry()
    registry.operation("Thing")(handler)
    with pytest.raises(ValueError, match="already registered"):
        registry.operation("thing")(handler)
    with pytest.raises(ValueError):
        registry.register(OperationDefinition(name="THING", handler=handler))
    assert len(registry) == 1


def test_unknown_operation_is_an_error_naming_it():
    registry = OperationRegistry()
    with pytest.raises(UnknownOperation, match="'nope'") as info:
        registry.get("nope")
    assert info.value.name == "nope"


def test_decorator_returns_the_handler_and_records_its_declaration():
    registry = OperationRegistry()
    params = [Parameter("A", ParamType.INT, required=True)]
    assert registry.operation("op", inputs=params, outputs=[Parameter("B")])(handler) is handler
    op = registry.get("op")
    assert op.handler is handler and op.display_name == "op"
    assert op.inputs == tuple(params) and op.outputs == (Parameter("B"),)
    assert op.description == "A handler that does nothing."
    assert list(registry) == [op]


def test_samples_register_the_four_spec_operations_and_the_two_functions_with_their_declared_inputs():
    registry = OperationRegistry()
    register_samples(registry)
    assert {op.name for op in registry} == {"sample_Echo", "sample_Sleep", "sample_Fail",
                                            "sample_SyncRecordsToExternalSystem", "sample_Repeat",
                                            "sample_IsSystemAdmin"}
    assert (registry.get("sample_IsSystemAdmin").kind, registry.get("sample_IsSystemAdmin").bound) == \
        (Kind.FUNCTION, Binding("systemuser"))
    assert (registry.get("sample_Repeat").kind, registry.get("sample_Repeat").bound) == (Kind.FUNCTION, None)
    assert registry.get("sample_Echo").open_inputs
    assert registry.get("sample_Echo").validate({"x": 1, "y": [2]}) == {"x": 1, "y": [2]}
    sleep = registry.get("sample_Sleep")
    with pytest.raises(InvalidRequest, match="Seconds"):
        sleep.validate({})
    assert sleep.validate({"Seconds": 0.5}) == {"Seconds": 0.5}
    fail = registry.get("sample_Fail")
    assert fail.validate({"FailTimes": 2, "NonRetryable": False, "ErrorCode": -1})
    with pytest.raises(InvalidRequest):
        fail.validate({"FailTimes": True})
    with pytest.raises(InvalidRequest):
        fail.validate({"FailTimes": 1.5})
    sync = registry.get("sample_SyncRecordsToExternalSystem")
    declared = {p.name for p in sync.inputs}
    assert declared == {"EntityName", "SyncMode", "ExternalSystemUrl", "LastSyncDate", "BatchSize"}
