"""Settings (shared/settings.py, SPEC §8): defaults, parsing, host.json values, storage connection."""

from __future__ import annotations

import json

import pytest

from shared.settings import (
    APP_ROOT,
    DEFAULTS,
    Settings,
    SettingsError,
    StorageSettings,
    http_auth_anonymous,
    load_settings,
)

CONN = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k;EndpointSuffix=core.windows.net"
BASE_ENV = {"AzureWebJobsStorage": CONN}
OVERRIDE = "AzureFunctionsJobHost__extensions__queues__maxDequeueCount"


@pytest.fixture
def host_json(tmp_path):
    """Write a host.json with the given extensions; returns its path."""

    def write(extensions: dict | None = None):
        path = tmp_path / "host.json"
        path.write_text(json.dumps({"version": "2.0", **({"extensions": extensions} if extensions else {})}))
        return path

    return write


def test_defaults_match_spec_section_8(host_json):
    s = load_settings(env=BASE_ENV, host_json=host_json())
    assert s.storage == StorageSettings(connection_string=CONN)
    assert s.queue_name == "backgroundoperations" and s.table_name == "backgroundoperations"
    assert s.retry_base_seconds == 30 and s.retry_after_seconds == 10
    assert s.default_ttl_seconds == 7_776_000
    assert s.allow_http_callbacks is False and s.enable_samples is False
    assert s.callback_retry_base_seconds == 2
    assert s.route_prefix == "api"
    assert s.poison_queue_name == "backgroundoperations-poison"


def test_defaults_table_lists_every_spec_setting():
    spec = {"BGOPS_QUEUE_NAME", "BGOPS_TABLE_NAME", "BGOPS_RETRY_BASE_SECONDS", "BGOPS_RETRY_AFTER_SECONDS",
            "BGOPS_DEFAULT_TTL_SECONDS", "BGOPS_PURGE_SCHEDULE", "BGOPS_ALLOW_HTTP_CALLBACKS", "BGOPS_ENABLE_SAMPLES"}
    assert spec <= set(DEFAULTS)


def test_missing_host_json_gives_the_hosts_own_default_of_five_attempts(tmp_path):
    s = load_settings(env=BASE_ENV, host_json=tmp_path / "absent.json")
    assert s.max_attempts == 5 and s.route_prefix == "api"


def test_every_bgops_value_is_parsed(host_json):
    env = {**BASE_ENV,
           "BGOPS_QUEUE_NAME": "q1", "BGOPS_TABLE_NAME": "t1", "BGOPS_RETRY_BASE_SECONDS": "1.5",
           "BGOPS_RETRY_AFTER_SECONDS": "3", "BGOPS_DEFAULT_TTL_SECONDS": "60",
           "BGOPS_PURGE_SCHEDULE": "*/5 * * * * *", "BGOPS_ALLOW_HTTP_CALLBACKS": "true",
           "BGOPS_ENABLE_SAMPLES": "1", "BGOPS_CALLBACK_RETRY_BASE_SECONDS": "0.25"}
    s = load_settings(env=env, host_json=host_json())
    assert (s.queue_name, s.table_name) == ("q1", "t1")
    assert s.retry_base_seconds == 1.5 and isinstance(s.retry_base_seconds, float)
    assert s.retry_after_seconds == 3 and isinstance(s.retry_after_seconds, int)
    assert s.default_ttl_seconds == 60 and isinstance(s.default_ttl_seconds, int)
    assert s.allow_http_callbacks is True and s.enable_samples is True
    assert s.callback_retry_base_seconds == 0.25
    assert s.poison_queue_name == "q1-poison"


@pytest.mark.parametrize("text, expected", [("true", True), ("True", True), ("TRUE", True), (" yes ", True),
                                            ("1", True), ("false", False), ("False", False), ("no", False),
                                            ("0", False), ("", False)])
@pytest.mark.parametrize("name, attr", [("BGOPS_ALLOW_HTTP_CALLBACKS", "allow_http_callbacks"),
                                        ("BGOPS_ENABLE_SAMPLES", "enable_samples")])
def test_bool_settings_accept_the_usual_spellings(host_json, name, attr, text, expected):
    assert getattr(load_settings(env={**BASE_ENV, name: text}, host_json=host_json()), attr) is expected


@pytest.mark.parametrize("name", ["BGOPS_ALLOW_HTTP_CALLBACKS", "BGOPS_ENABLE_SAMPLES"])
@pytest.mark.parametrize("text", ["maybe", "2", "on?", "tru"])
def test_bad_bool_is_a_settings_error_naming_the_setting(host_json, name, text):
    with pytest.raises(SettingsError, match=name):
        load_settings(env={**BASE_ENV, name: text}, host_json=host_json())


@pytest.mark.parametrize("name, text", [
    ("BGOPS_RETRY_BASE_SECONDS", "thirty"), ("BGOPS_RETRY_BASE_SECONDS", "-1"),
    ("BGOPS_RETRY_AFTER_SECONDS", "ten"), ("BGOPS_RETRY_AFTER_SECONDS", "1.5"), ("BGOPS_RETRY_AFTER_SECONDS", "-2"),
    ("BGOPS_DEFAULT_TTL_SECONDS", "0"), ("BGOPS_DEFAULT_TTL_SECONDS", "90d"), ("BGOPS_DEFAULT_TTL_SECONDS", ""),
    ("BGOPS_CALLBACK_RETRY_BASE_SECONDS", "x"), ("BGOPS_CALLBACK_RETRY_BASE_SECONDS", "-0.5"),
    ("BGOPS_MAX_SUBSCRIPTIONS", "201"),  # an event kept for paused subscribers is a row with a column for each
])
def test_bad_number_is_a_settings_error_naming_the_setting(host_json, name, text):
    with pytest.raises(SettingsError, match=name):
        load_settings(env={**BASE_ENV, name: text}, host_json=host_json())


@pytest.mark.parametrize("text", ["nan", "inf"])
def test_non_finite_retry_base_is_a_settings_error(host_json, text):
    with pytest.raises(SettingsError, match="BGOPS_RETRY_BASE_SECONDS"):
        load_settings(env={**BASE_ENV, "BGOPS_RETRY_BASE_SECONDS": text}, host_json=host_json())


def test_max_attempts_comes_from_host_json_max_dequeue_count(host_json):
    s = load_settings(env=BASE_ENV, host_json=host_json({"queues": {"maxDequeueCount": 7}}))
    assert s.max_attempts == 7


def test_max_dequeue_count_override_in_the_environment_wins_over_host_json(host_json):
    path = host_json({"queues": {"maxDequeueCount": 7}})
    assert load_settings(env={**BASE_ENV, OVERRIDE: "2"}, host_json=path).max_attempts == 2


def test_max_dequeue_count_override_applies_without_host_json(tmp_path):
    assert load_settings(env={**BASE_ENV, OVERRIDE: "3"}, host_json=tmp_path / "none.json").max_attempts == 3


@pytest.mark.parametrize("bad", ["four", "-1"])
def test_bad_max_dequeue_count_is_a_settings_error_naming_it(host_json, bad):
    with pytest.raises(SettingsError, match="maxDequeueCount"):
        load_settings(env={**BASE_ENV, OVERRIDE: bad}, host_json=host_json())


def test_route_prefix_comes_from_host_json_without_slashes(host_json):
    path = host_json({"http": {"routePrefix": "/v1/"}})
    assert load_settings(env=BASE_ENV, host_json=path).route_prefix == "v1"
    assert load_settings(env=BASE_ENV, host_json=host_json({"http": {"routePrefix": ""}})).route_prefix == ""


def test_the_repos_own_host_json_gives_four_attempts_and_the_api_prefix():
    s = load_settings(env=BASE_ENV)
    assert (APP_ROOT / "host.json").exists()
    assert s.max_attempts == 4
    assert s.route_prefix == "api"


def test_connection_string_is_trimmed_and_kept_out_of_repr(host_json):
    s = load_settings(env={"AzureWebJobsStorage": f"  {CONN}  "}, host_json=host_json())
    assert s.storage.connection_string == CONN
    assert "AccountKey" not in repr(s) and "AccountKey" not in repr(s.storage)


def test_account_name_identity_setting(host_json):
    s = load_settings(env={"AzureWebJobsStorage__accountName": "acct"}, host_json=host_json())
    assert s.storage == StorageSettings(account_name="acct")


def test_service_uri_identity_settings_with_credential_and_client_id(host_json):
    env = {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net",
           "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
           "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net",
           "AzureWebJobsStorage__credential": "managedidentity",
           "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555"}
    s = load_settings(env=env, host_json=host_json())
    assert s.storage == StorageSettings(table_service_uri="https://acct.table.core.windows.net",
                                        queue_service_uri="https://acct.queue.core.windows.net",
                                        blob_service_uri="https://acct.blob.core.windows.net",
                                        credential="managedidentity",
                                        client_id="11111111-2222-3333-4444-555555555555")


def test_a_connection_string_wins_over_identity_settings(host_json):
    env = {**BASE_ENV, "AzureWebJobsStorage__accountName": "acct"}
    s = load_settings(env=env, host_json=host_json())
    assert s.storage.connection_string == CONN and s.storage.account_name is None


@pytest.mark.parametrize("env", [
    {},
    {"AzureWebJobsStorage": "   "},
    {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net"},
    {"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"},
    {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net",
     "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"},  # no blob endpoint
    {"AzureWebJobsStorage__credential": "managedidentity"},
])
def test_missing_storage_is_a_settings_error_naming_the_setting(host_json, env):
    with pytest.raises(SettingsError, match="AzureWebJobsStorage") as info:
        load_settings(env=env, host_json=host_json())
    assert "UseDevelopmentStorage=true" in str(info.value)


def test_settings_are_frozen(host_json):
    s = load_settings(env=BASE_ENV, host_json=host_json())
    assert isinstance(s, Settings)
    with pytest.raises(AttributeError):
        s.queue_name = "x"


def test_host_json_values_and_their_overrides_are_matched_regardless_of_case(tmp_path):
    host = tmp_path / "host.json"
    host.write_text('{"Extensions": {"Queues": {"MaxDequeueCount": 3}, "HTTP": {"routePrefix": ""}}}')
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    settings = load_settings(env, host)
    assert (settings.max_attempts, settings.route_prefix) == (3, "")
    env["AZUREFUNCTIONSJOBHOST__EXTENSIONS__QUEUES__MAXDEQUEUECOUNT"] = "6"
    assert load_settings(env, host).max_attempts == 6
    assert load_settings({"AzureWebJobsStorage": "x"}, tmp_path / "none.json").max_attempts == 5  # host default


def test_public_base_url_defaults_to_none_and_the_platform_host_name_is_read(host_json):
    s = load_settings(env={**BASE_ENV, "WEBSITE_HOSTNAME": "func-ops.azurewebsites.net"}, host_json=host_json())
    assert s.public_base_url == "" and s.public_host_name == "func-ops.azurewebsites.net"


def test_public_base_url_loses_a_trailing_slash(host_json):
    s = load_settings(env={**BASE_ENV, "BGOPS_PUBLIC_BASE_URL": "https://ops.contoso.com/"}, host_json=host_json())
    assert s.public_base_url == "https://ops.contoso.com"


@pytest.mark.parametrize("value", ["ops.contoso.com", "ftp://ops.contoso.com", "https://ops.contoso.com/api",
                                   "https://ops.contoso.com?code=1", "https://"])
def test_public_base_url_that_is_not_a_scheme_and_host_is_refused_naming_it(host_json, value):
    with pytest.raises(SettingsError, match="BGOPS_PUBLIC_BASE_URL must be an absolute http"):
        load_settings(env={**BASE_ENV, "BGOPS_PUBLIC_BASE_URL": value}, host_json=host_json())


def test_the_defaults_of_settings_are_those_of_the_app_settings_table():
    """One table says each setting's default; an app with none set gets exactly the typed defaults."""
    read = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, host_json=APP_ROOT / "missing.json")
    assert read == Settings(storage=read.storage)


@pytest.mark.parametrize("env, anonymous", [
    ({}, False), ({"BGOPS_SIGN_IN_REPLACES_KEYS": "false", "WEBSITE_AUTH_ENABLED": "true"}, False),
    ({"BGOPS_SIGN_IN_REPLACES_KEYS": "true", "WEBSITE_AUTH_ENABLED": "True"}, True)])
def test_the_api_takes_no_function_key_only_when_sign_in_replaces_keys_and_authentication_is_on(env, anonymous):
    assert http_auth_anonymous(env) is anonymous


@pytest.mark.parametrize("auth", ["", "false"])
def test_sign_in_replacing_keys_without_authentication_is_refused_rather_than_open_to_anyone(auth):
    with pytest.raises(SettingsError, match="needs App Service Authentication on"):
        http_auth_anonymous({"BGOPS_SIGN_IN_REPLACES_KEYS": "true", "WEBSITE_AUTH_ENABLED": auth})
    with pytest.raises(SettingsError, match="BGOPS_SIGN_IN_REPLACES_KEYS must be true or false"):
        http_auth_anonymous({"BGOPS_SIGN_IN_REPLACES_KEYS": "sometimes"})
