"""Who is calling (domain.callers): principal headers count only when the platform vouches for them."""

from __future__ import annotations

import base64
import json

import pytest
from helpers import ADMIN_ROLE, principal

from shared.domain.callers import EVERYONE, Caller, caller_from, roles_of
from shared.domain.errors import Unauthenticated


def _claims(payload) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_without_platform_authentication_every_caller_is_everyone_whatever_it_sends():
    headers = dict(principal("mallory", ADMIN_ROLE).headers)
    assert caller_from(headers, platform_authentication=False, admin_role=ADMIN_ROLE) is EVERYONE


def test_with_platform_authentication_the_caller_is_the_principal_and_admin_only_with_the_role():
    as_user = dict(principal("alice", "Reader").headers)
    as_admin = dict(principal("bob", "Reader", ADMIN_ROLE).headers)
    assert caller_from(as_user, platform_authentication=True, admin_role=ADMIN_ROLE) == Caller("alice", False)
    assert caller_from(as_admin, platform_authentication=True, admin_role=ADMIN_ROLE) == Caller("bob", True)
    assert caller_from(as_admin, platform_authentication=True, admin_role="Ops") == Caller("bob", False)


def test_with_platform_authentication_a_request_without_a_principal_is_unauthenticated():
    with pytest.raises(Unauthenticated, match="signed-in principal"):
        caller_from({"X-MS-CLIENT-PRINCIPAL-ID": "  "}, platform_authentication=True, admin_role=ADMIN_ROLE)


def test_entra_roles_claims_count_whatever_role_typ_says():
    payload = {"claims": [{"typ": "roles", "val": "A"}, {"typ": "custom/role", "val": "B"},
                          {"typ": "groups", "val": "C"}], "role_typ": "custom/role"}
    assert roles_of(_claims(payload)) == {"A", "B"}


@pytest.mark.parametrize("encoded", [
    "", "not base64!", base64.b64encode(b"not json").decode(), _claims([1, 2]), _claims({"claims": "x"}),
    _claims({"claims": [1, {"typ": "roles"}, {"val": "x"}]}), "A" * 20_000,
], ids=["empty", "not-base64", "not-json", "a-list", "claims-not-a-list", "claims-malformed", "huge"])
def test_an_unreadable_claims_header_grants_no_role_and_never_fails(encoded):
    assert roles_of(encoded) == frozenset()


def test_a_caller_sees_its_own_operations_and_an_admin_everyones():
    assert Caller("alice", False).may_see("alice") and not Caller("alice", False).may_see("bob")
    assert Caller("ops", True).may_see("bob") and EVERYONE.may_see("")
    assert (Caller("alice", False).owner, Caller("ops", True).owner) == ("alice", None)
