"""A tiny app for the devhost tests: each function records what it saw in
``$FIXTURE_RECORD_DIR/<key>.jsonl`` so tests can poll for it."""

import json
import os
import time

import azure.functions as func
from azure.storage.queue import QueueClient
from blueprint import bp


def record(key: str, **fields) -> None:
    """Append one JSON line to the record file ``key``."""
    path = os.path.join(os.environ["FIXTURE_RECORD_DIR"], f"{key}.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields) + "\n")


app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


@app.route(route="things({id})", methods=["GET"])
def get_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({
        "id": req.route_params["id"], "url": req.url, "params": dict(req.params),
        "method": req.method}), mimetype="application/json")


@app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> str:
    return "open"


@app.route(route="echo/{rest}", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), status_code=201,
                             headers={"X-Rest": req.route_params.get("rest", ""),
                                      "X-Seen-Header": req.headers.get("x-custom", "")},
                             mimetype="application/octet-stream")


@app.route(methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    return "plain"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom")


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ("FIXTURE_FROM_FILE", "FIXTURE_OVERRIDDEN")
    return func.HttpResponse(json.dumps({n: os.environ.get(n) for n in names}))


@app.route(route="sleep/{seconds}")
def sleep(req: func.HttpRequest) -> func.HttpResponse:
    record("sleep", seconds=req.route_params["seconds"])
    time.sleep(int(req.route_params["seconds"]))
    return func.HttpResponse("slept")


@app.queue_trigger(arg_name="msg", queue_name="%FIXTURE_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    """Modes: ok; fail_until (fail while dequeue_count < n); always_fail;
    self_visibility (first attempt hides its own message for 2 s, then
    returns - the host's delete then meets a stale pop receipt)."""
    job = json.loads(msg.get_body())
    record(job["key"], dequeue_count=msg.dequeue_count, id=msg.id,
           body=msg.get_body().decode())
    mode = job.get("mode", "ok")
    if mode == "always_fail" or (mode == "fail_until" and msg.dequeue_count < job["n"]):
        raise RuntimeError(f"attempt {msg.dequeue_count} fails")
    if mode == "self_visibility" and msg.dequeue_count == 1:
        queue = QueueClient.from_connection_string(
            os.environ["AzureWebJobsStorage"], os.environ["FIXTURE_QUEUE"])
        queue.update_message(msg.id, msg.pop_receipt, visibility_timeout=2)
