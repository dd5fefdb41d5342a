"""Settings, host.json, overrides and binding expressions (pure)."""

import json
from datetime import UTC

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError

from devhost import storage
from devhost.app_loader import AppLoadError, describe_functions
from devhost.config import (
    QueuesOptions,
    SettingError,
    http_route_prefix,
    load_host_config,
    load_local_settings,
    parse_timespan,
    resolve_expression,
)
from devhost.queue_listener import PollingBackoff
from devhost.timers import checked_schedule, next_after
from shared.storage.clients import DEVSTORE_CONNECTION


def test_local_settings_fill_only_unset_variables(tmp_path):
    (tmp_path / "local.settings.json").write_text(json.dumps(
        {"IsEncrypted": False, "Values": {"A": "file", "B": "file", "FLAG": True, "N": 3}}))
    env = {"B": "env"}
    assert sorted(load_local_settings(tmp_path, env)) == ["A", "FLAG", "N"]
    assert env == {"A": "file", "B": "env", "FLAG": "true", "N": "3"}


def test_missing_local_settings_is_fine(tmp_path):
    assert load_local_settings(tmp_path, {}) == []


def test_host_json_overrides_from_environment_are_case_insensitive(tmp_path):
    (tmp_path / "host.json").write_text(json.dumps(
        {"extensions": {"queues": {"maxPollingInterval": "00:01:00", "batchSize": 4}}}))
    env = {"AzureFunctionsJobHost__Extensions__Queues__MaxPollingInterval": "00:00:02",
           "azurefunctionsjobhost__extensions__http__routePrefix": "",
           "UNRELATED": "x"}
    cfg = load_host_config(tmp_path, env)
    options = QueuesOptions.from_host_config(cfg)
    assert options.max_polling_interval_seconds == 2
    assert options.batch_size == 4
    assert http_route_prefix(cfg) == ""


def test_queue_option_defaults_match_the_webjobs_extension():
    options = QueuesOptions.from_host_config({})
    assert (options.batch_size, options.max_dequeue_count, options.max_polling_interval_seconds,
            options.visibility_timeout_seconds, options.message_encoding) == (16, 5, 60, 0, "base64")
    assert http_route_prefix({}) == "api"


@pytest.mark.parametrize("queues", [{"batchSize": 33}, {"maxDequeueCount": 0},
                                    {"maxPollingInterval": "00:00:00.05"},
                                    {"messageEncoding": "utf8"}])
def test_invalid_queue_options_are_startup_errors(queues):
    with pytest.raises(SettingError):
        QueuesOptions.from_host_config({"extensions": {"queues": queues}})


@pytest.mark.parametrize("text,seconds", [("00:00:02", 2), ("00:01:00", 60), ("1.02:00:00", 93600),
                                          ("00:00:00.5", 0.5), ("01:30", 5400), ("2", 172800)])
def test_timespans_parse_like_dotnet(text, seconds):
    assert parse_timespan(text) == seconds


def test_binding_expressions_resolve_from_settings_and_name_unknown_ones():
    env = {"Q": "work", "ENV": "dev"}
    assert resolve_expression("%Q%", env, what="f") == "work"
    assert resolve_expression("%Q%-%ENV%", env, what="f") == "work-dev"
    with pytest.raises(SettingError, match="MISSING"):
        resolve_expression("%MISSING%", env, what="f")


def test_connection_setting_resolution():
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true;", "AzureWebJobsOther": "a=b;"}
    assert storage.connection_string(None, env) == DEVSTORE_CONNECTION
    assert storage.connection_string("Other", env) == "a=b"  # AzureWebJobs<name> fallback
    with pytest.raises(SettingError, match="Nope"):
        storage.connection_string("Nope", env)
    with pytest.raises(SettingError, match="identity-based"):
        storage.connection_string("Id", {"Id__queueServiceUri": "https://x"})


def _error(status, code):
    error = HttpResponseError(message="x")
    error.status_code, error.error_code = status, code
    return error


@pytest.mark.parametrize("status,code,ignored", [
    (400, "PopReceiptMismatch", True), (404, "MessageNotFound", True),
    (404, "QueueNotFound", True), (409, "QueueBeingDeleted", True),
    (409, "QueueDisabled", False), (500, "InternalError", False), (403, "AuthFailure", False)])
def test_errors_meaning_message_no_longer_ours(status, code, ignored):
    assert storage.lost_ownership(_error(status, code)) is ignored


def test_poison_queue_name():
    assert storage.poison_queue_name("work") == "work-poison"
    assert storage.poison_queue_name("work-poison") is None
    assert storage.poison_queue_name("q" * 60) is None


def test_polling_backoff_grows_to_the_maximum_and_resets_after_messages():
    backoff = PollingBackoff(maximum=2.0)
    delays = [backoff.next_delay(False) for _ in range(8)]
    assert delays[0] == 0.1
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] == 2.0
    assert backoff.next_delay(True) == 0.1


def test_ncrontab_schedules_have_seconds_first():
    from datetime import datetime
    base = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert next_after(checked_schedule("*/15 * * * * *", "t"), base) == base.replace(second=15)
    assert next_after(checked_schedule(" 0 0 * * * * ", "t"), base) == base.replace(hour=1)
    for bad in ("0 * * * *", "x * * * * *", "00:05:00"):  # the app's timer takes NCRONTAB only
        with pytest.raises(SettingError, match="function 'purge'"):
            checked_schedule(bad, "function 'purge'")


def test_message_lease_defaults_to_the_hosts_ten_minutes_and_can_be_shortened_for_tests():
    from devhost.config import SettingError, message_lease_seconds

    assert message_lease_seconds({}, 600.0) == 600.0
    assert message_lease_seconds({"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": "3"}, 600.0) == 3.0
    for bad in ("soon", "1"):
        with pytest.raises(SettingError):
            message_lease_seconds({"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": bad}, 600.0)


def _app_with(register):
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    register(app)
    return app


def _output_binding(app):
    @app.route(route="x")
    @app.queue_output(arg_name="out", queue_name="q", connection="AzureWebJobsStorage")
    def f(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        return func.HttpResponse()


def _unbound_parameter(app):
    @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
    def f(msg: func.QueueMessage, extra: str) -> None:
        pass


@pytest.mark.parametrize("register,named", [(_output_binding, "binding 'queue'"),
                                            (_unbound_parameter, "['extra']")])
def test_what_the_app_does_not_use_is_refused_when_the_app_loads(register, named):
    with pytest.raises(AppLoadError) as refused:
        describe_functions(_app_with(register), {})
    assert named in str(refused.value) and "not supported by the local host" in str(refused.value)
