"""A custom API called in a URL (shared/api/calls.py): the segment, a function's parameters and aliases typed
as declared, and the form an operation is called in (bound or not, function or action)."""

from __future__ import annotations

import pytest

from shared.api.calls import Call, check_form, function_inputs, how_to_call, literal, parse_segment
from shared.domain.errors import InvalidRequest, MethodNotAllowed
from shared.operations.registry import Kind, OperationRegistry, Parameter, ParamType


def _definitions():
    registry = OperationRegistry()
    noop = lambda inputs, context: {}  # noqa: E731
    registry.operation("x_Act", inputs=[Parameter("A", ParamType.INT)])(noop)
    registry.operation("x_Fun", kind=Kind.FUNCTION, inputs=[Parameter("A", ParamType.INT),
                                                            Parameter("B", ParamType.STRING)])(noop)
    registry.operation("x_Bound", kind=Kind.FUNCTION, bound_to="systemuser")(noop)
    registry.operation("x_BoundAct", bound_to="account")(noop)
    return {d.name: d for d in registry}


@pytest.mark.parametrize("segment, expected", [
    ("sample_Echo", Call("sample_Echo")),
    ("Microsoft.Dynamics.CRM.sample_IsSystemAdmin", Call("sample_IsSystemAdmin")),
    ("mscrm.sample_IsSystemAdmin()", Call("sample_IsSystemAdmin", {}, True)),
    ("x_Fun(A=@a,B='it''s, fine')", Call("x_Fun", {"A": "@a", "B": "'it''s, fine'"}, True)),
    ("x_Fun(A=[1,2],B={\"k\":1})", Call("x_Fun", {"A": "[1,2]", "B": '{"k":1}'}, True)),
    ("0 or anything", Call("0 or anything")),  # no such operation: the registry's 404, not a 400 here
])
def test_a_segment_reads_as_the_operation_and_its_arguments(segment, expected):
    assert parse_segment(segment) == expected


@pytest.mark.parametrize("segment, words", [
    ("x_Fun(A=1", "cannot be read as an operation call"), ("x_Fun(A)", "not Parameter=value"),
    ("x_Fun(A=1,A=2)", "given twice"), ("(A=1)", "cannot be read"), ("x_Fun(A b=1)", "not Parameter=value"),
])
def test_a_segment_that_is_no_call_is_400_showing_the_form(segment, words):
    with pytest.raises(InvalidRequest, match=words):
        parse_segment(segment)


def test_arguments_and_aliases_are_read_as_declared():
    fun = _definitions()["x_Fun"]
    call = parse_segment("x_Fun(A=@a,B=@b)")
    assert function_inputs(call, fun.inputs, {"@a": "42", "@b": "'O''Neil'"}) == {"A": 42, "B": "O'Neil"}
    assert function_inputs(parse_segment("x_Fun(A=null)"), fun.inputs, {}) == {"A": None}
    with pytest.raises(InvalidRequest, match=r"@b, which the query string gives no value: add \?@b=value"):
        function_inputs(call, fun.inputs, {"@a": "1"})
    with pytest.raises(InvalidRequest, match="The parameter A is ''42'': write a whole number"):
        function_inputs(call, fun.inputs, {"@a": "'42'", "@b": "'x'"})


@pytest.mark.parametrize("text, kind, value", [
    ("true", ParamType.BOOL, True), ("False", ParamType.BOOL, False), ("-3", ParamType.INT, -3),
    ("2.5e3", ParamType.NUMBER, 2500.0), ("2031-06-01T00:00:00Z", ParamType.DATETIME, "2031-06-01T00:00:00Z"),
    ("'2031-06-01T00:00:00Z'", ParamType.DATETIME, "2031-06-01T00:00:00Z"),
    ('{"a": [1]}', ParamType.OBJECT, {"a": [1]}), ("[1, 2]", ParamType.ARRAY, [1, 2]), ("'x'", ParamType.ANY, "x"),
    ("7", ParamType.ANY, 7), ("''", ParamType.STRING, ""),
])
def test_literals_typed_as_the_parameter_declares(text, kind, value):
    assert literal(text, Parameter("P", kind)) == value


@pytest.mark.parametrize("text, kind", [
    ("yes", ParamType.BOOL), ("1.5", ParamType.INT), ("x", ParamType.STRING), ("'a'b'", ParamType.STRING),
    ("[1]", ParamType.OBJECT), ("tomorrow", ParamType.DATETIME), ("bare", ParamType.ANY),
    ("9223372036854775808", ParamType.INT), ("1e999", ParamType.NUMBER), ("-1e999", ParamType.NUMBER),
    ("1e999", ParamType.ANY), ("NaN", ParamType.ANY), ("[Infinity]", ParamType.ARRAY)])
def test_a_literal_of_another_type_is_400_naming_the_form(text, kind):
    with pytest.raises(InvalidRequest, match="The parameter P is"):
        literal(text, Parameter("P", kind))


def test_the_form_to_call_each_kind_in():
    ops = _definitions()
    assert how_to_call(ops["x_Act"]) == "POST /api/data/v9.2/x_Act with its parameters in a JSON body"
    assert how_to_call(ops["x_Fun"]) == "GET /api/data/v9.2/x_Fun(A=@A,B=@B)?@A=value&@B=value"
    assert how_to_call(ops["x_Bound"]) == \
        "GET /api/data/v9.2/systemusers(<systemuserid>)/Microsoft.Dynamics.CRM.x_Bound()"
    assert how_to_call(ops["x_BoundAct"]) == \
        "POST /api/data/v9.2/accounts(<accountid>)/Microsoft.Dynamics.CRM.x_BoundAct with its parameters in a JSON body"


@pytest.mark.parametrize("name, method, entity_set, error, words", [
    ("x_Act", "GET", None, MethodNotAllowed, "'x_Act' is an action: call it as POST"),
    ("x_Fun", "POST", None, MethodNotAllowed, "'x_Fun' is a function: call it as GET"),
    ("x_Act", "POST", "systemusers", InvalidRequest, "'x_Act' is not bound to a table"),
    ("x_Bound", "GET", None, InvalidRequest, "'x_Bound' is bound to systemusers: call it on one of its rows"),
    ("x_Bound", "GET", "accounts", InvalidRequest, "bound to systemusers"),
    ("x_Bound", "POST", "systemusers", MethodNotAllowed, "is a function"),
])
def test_a_call_in_a_form_the_operation_has_not_is_refused_naming_the_form(name, method, entity_set, error, words):
    with pytest.raises(error, match=words) as raised:
        check_form(_definitions()[name], method, entity_set)
    if error is MethodNotAllowed:
        assert raised.value.allow == ("POST" if method == "GET" else "GET",)


def test_a_call_in_its_own_form_passes():
    ops = _definitions()
    for name, method, entity_set in (("x_Act", "POST", None), ("x_Fun", "get", None), ("x_Bound", "GET", "SystemUsers"),
                                     ("x_BoundAct", "POST", "accounts")):
        check_form(ops[name], method, entity_set)


def test_a_bound_operation_takes_its_row_as_target_and_declares_no_input_of_that_name():
    bound = _definitions()["x_Bound"]
    assert bound.validate({"Target": {"LogicalName": "systemuser", "Id": "1"}})
    with pytest.raises(InvalidRequest, match="needs the parameter 'Target'"):
        bound.validate({})
    with pytest.raises(ValueError, match="declare no input of that name"):
        OperationRegistry().operation("y", bound_to="account", inputs=[Parameter("Target")])
    with pytest.raises(ValueError, match="a table's logical name is lower case"):
        OperationRegistry().operation("y", bound_to="Account")


@pytest.mark.parametrize("text, kind", [('{"a": [18446744073709551616]}', ParamType.OBJECT),
                                        ("[18446744073709551616]", ParamType.ARRAY),
                                        ("18446744073709551616", ParamType.ANY)])
def test_a_json_literal_holding_a_whole_number_beyond_64_bits_is_refused_as_in_a_body(text, kind):
    with pytest.raises(InvalidRequest, match="is too large: whole numbers must be"):
        literal(text, Parameter("P", kind))
