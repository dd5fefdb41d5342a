"""Helpers the tests share: bounded polling, free ports, a private Azurite."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import requests
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from shared.services.worker import QueueDelivery
from shared.storage.clients import DEVSTORE_KEY as ACCOUNT_KEY  # Azurite's well-known key

REPO = Path(__file__).resolve().parents[1]
# Every column the API can return, in its order (written out here, not imported from the app).
ALL_COLUMNS = (
    "backgroundoperationid", "name", "displayname", "backgroundoperationstatecode",
    "backgroundoperationstatuscode", "inputparameters", "outputparameters", "starttime", "endtime",
    "retrycount", "errorcode", "errormessage", "runas", "createdon", "modifiedon", "ttlinseconds",
    "postponeuntil", "progresspercent", "progressmessage", "recurrencepattern", "recentruns", "callbackstate",
    "attemptstarts", "attempts", "dependencytoken", "waitingbehind", "traceparent",
)
LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)")


@cache
def http_functions() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(name, route, METHODS) of each HTTP function the app registers, read from its FunctionApp.

    Read once per process: ``get_functions()`` can be called only once on an app (a second call finds its own
    names already taken and raises), as the worker calls it once when it indexes the app."""
    with mock.patch.dict(os.environ, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}):  # it checks them
        import function_app  # the repo root is on the test path

    found = []
    for function in function_app.app.get_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "httpTrigger":
            methods = tuple(str(getattr(m, "value", m)).upper() for m in trigger.methods)
            found.append((function.get_function_name(), trigger.route, methods))
    return tuple(found)


def wait_until(condition, timeout: float = 20.0, interval: float = 0.1, message: str = ""):
    """Poll ``condition`` until it returns something truthy; TimeoutError after ``timeout`` seconds.

    The one bounded wait of the tests and the bench alike.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {message or condition}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def azurite_command() -> list[str]:
    """Azurite as ``make test`` installs it (node_modules), or AZURITE_BIN."""
    for candidate in (os.environ.get("AZURITE_BIN"), REPO / "node_modules/.bin/azurite", shutil.which("azurite")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    # Tests run against a real Azurite or fail; they are never skipped.
    raise RuntimeError("Azurite not found: run 'make test' or 'make bench', which install it.")


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Ask a child we started to stop (SIGTERM), wait for it, kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Azurite:
    """A private Azurite on free ports with its own data folder, for the tests and the bench.

    A context manager that always stops it, even when start-up fails or is interrupted.
    ``debug_log`` makes Azurite log every request it serves to that file.
    """

    def __init__(self, location: Path, log_path: Path | None = None, *, debug_log: Path | None = None,
                 in_memory: bool = False) -> None:
        self.location, self.debug_log, self.in_memory = location, debug_log, in_memory
        self.log_path = log_path or location / "azurite.log"
        self.process: subprocess.Popen | None = None
        self.connection_string = ""

    def __enter__(self) -> Azurite:
        with open(self.log_path, "w") as log:  # a file, so Azurite can never block on a full pipe
            self.process = subprocess.Popen(
                azurite_command() + ["--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
                                     "--blobPort", "0", "--queuePort", "0", "--tablePort", "0"]
                # In memory: nothing on disk, so no save of the whole database every 5 s (Azurite refuses a
                # --location then: it runs in it instead).
                + (["--inMemoryPersistence"] if self.in_memory else ["--location", str(self.location)])
                + (["--debug", str(self.debug_log)] if self.debug_log else []),
                cwd=self.location, stdout=log, stderr=subprocess.STDOUT)
        try:
            ports = wait_until(self._listening, timeout=60, message="Azurite to listen")
        except BaseException:
            self.stop()
            raise
        self.connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{ports['Blob']}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{ports['Queue']}/devstoreaccount1;"
            f"TableEndpoint=http://127.0.0.1:{ports['Table']}/devstoreaccount1")
        return self

    def _listening(self) -> dict[str, str] | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"Azurite exited: {self.log_path.read_text()}")
        found = dict(LISTENING.findall(self.log_path.read_text()))
        return found if len(found) == 3 else None

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop it and wait for it to exit."""
        if self.process is not None:
            stop_process(self.process)


class CallbackServer:
    """A real HTTP server on 127.0.0.1 that records every POST by path (query string aside).

    ``respond[path]`` lists the status codes to answer in turn, 200 after them;
    ``new_url(answers)`` makes a fresh SAS-style URL that answers ``answers``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, list[dict]] = defaultdict(list)
        self._raw: dict[str, list[tuple[dict[str, str], bytes]]] = defaultdict(list)
        self.respond: dict[str, list[int]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                with server._lock:
                    answers = server.respond.get(path, [])
                    status = answers.pop(0) if answers else 200
                    server._calls[path].append({"status": status, "content_type": self.headers.get("Content-Type"),
                                                "host": self.headers.get("Host"),
                                                "body": json.loads(body or b"null")})
                    server._raw[path].append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                if 300 <= status < 400:  # a redirect, to see that nobody follows it
                    self.send_header("Location", f"{server.base}/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._http.server_port}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def new_url(self, answers: tuple[int, ...] = ()) -> str:
        """A callback URL of its own (with a SAS-style query) that answers ``answers`` in turn, then 200."""
        path = f"/cb/{uuid.uuid4().hex}"
        with self._lock:
            self.respond[path] = list(answers)
        return f"{self.base}{path}?sig=secret"

    def calls(self, url_or_path: str) -> list[dict]:
        """What was POSTed to this URL or path."""
        path = url_or_path.removeprefix(self.base).split("?")[0]
        with self._lock:
            return list(self._calls[path])

    def raw_calls(self, url_or_path: str) -> list[tuple[dict[str, str], bytes]]:
        """Every request's headers (lower-case names) and exact body, as a receiver verifies them."""
        path = url_or_path.removeprefix(self.base).split("?")[0]
        with self._lock:
            return list(self._raw[path])

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def warm_subscription_cache(svc) -> None:
    """Read the subscription list as a running app has it: once per 30 s, not once per operation."""
    from datetime import datetime

    from shared.domain.ids import new_operation_id
    from shared.domain.operation import Operation
    from shared.domain.states import Status

    now = datetime.now(UTC)
    svc.subscription_cache.matching(Operation(id=new_operation_id(now), name="x", displayname="x",
                                              status=Status.SUCCEEDED, inputs={}, createdon=now, modifiedon=now,
                                              ttlinseconds=1))


class HostQueue:
    """The work queue as the Functions host sees it: receives with real pop receipts and dequeue counts."""

    def __init__(self, connection_string: str, queue_name: str) -> None:
        self.client = QueueClient.from_connection_string(connection_string, queue_name,
                                                         message_decode_policy=TextBase64DecodePolicy())

    def receive(self, *, visibility_timeout: int = 30, timeout: float = 15):
        return wait_until(lambda: self.client.receive_message(visibility_timeout=visibility_timeout),
                          timeout=timeout, message=f"a message on {self.client.queue_name}")

    def try_receive(self):
        return self.client.receive_message(visibility_timeout=30)

    def count(self) -> int:
        return self.client.get_queue_properties().approximate_message_count


def delivery(message) -> QueueDelivery:
    """What the worker function builds from the trigger's ``func.QueueMessage``."""
    return QueueDelivery(id=message.id, pop_receipt=message.pop_receipt, dequeue_count=message.dequeue_count,
                         body=message.content)


class AppProcess:
    """``python -m devhost`` serving this repo's app on a free port, with a queue and a table of its own.

    For the end-to-end tests and the bench alike. ``settings`` are app settings on top of the
    storage connection, the names and a purge schedule that never fires in a test (the settings the
    bindings need, which a fresh clone has no local.settings.json for); any BGOPS_* or host.json
    override in the environment is left out, so only what is given applies. It stops (``stop``, or
    leaving the ``with`` block), and it does so even when it fails to start.
    """

    def __init__(self, connection_string: str, log_path: Path, *, name: str | None = None,
                 settings: dict[str, str] | None = None, https: bool = False, app_dir: Path = REPO,
                 port: int | None = None) -> None:
        self.port = port or free_port()  # a port of its own, or one a stopped host had (its clients come back)
        self.base = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self.ca = REPO / ".devhost" / "devhost-ca.pem" if https else None  # what a client must trust (--use-https)
        self.queue_name = self.table_name = name or f"ops{uuid.uuid4().hex[:8]}"
        self.connection_string, self.log_path = connection_string, log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BGOPS_", "AzureFunctionsJobHost__"))}
        env.update({"AzureWebJobsStorage": connection_string, "BGOPS_QUEUE_NAME": self.queue_name,
                    "BGOPS_TABLE_NAME": self.table_name, "BGOPS_PURGE_SCHEDULE": "0 0 0 1 1 *",
                    "PYTHONDONTWRITEBYTECODE": "1", **(settings or {})})
        if app_dir != REPO:  # another copy of the app: its own shared/ first, devhost from here
            env["PYTHONPATH"] = str(REPO)
        self._log = open(log_path, "w")  # a file, so the host can never block on a full pipe
        self.process = subprocess.Popen([sys.executable, "-m", "devhost", "--app-dir", str(app_dir),
                                         "--port", str(self.port), *(["--use-https"] if https else [])],
                                        cwd=app_dir, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._answers, timeout=60, message="the app to answer /api/health")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"devhost exited:\n{self.log()[-4000:]}")
        try:
            verify = str(self.ca) if self.ca else True
            return requests.get(f"{self.base}/api/health", timeout=2, verify=verify).status_code == 200
        except (requests.ConnectionError, OSError):  # not listening yet, or (HTTPS) its authority not made yet
            return False

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """An absolute URL under the app's ``/api`` prefix."""
        return f"{self.base}/api/{path.lstrip('/')}"

    def log(self) -> str:
        """What the host and the app logged so far."""
        return self.log_path.read_text()

    def stop(self) -> None:
        """SIGTERM, as the host gets it; killed if it lingers."""
        stop_process(self.process, timeout=20)
        self._log.close()

    def kill(self) -> None:
        """Stop the host the hard way, as a crash or a scale-in would: nothing gets to clean up."""
        self.process.kill()
        self.process.wait(10)
        self._log.close()


ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
ADMIN_ROLE = "BackgroundOperations.Admin"  # BGOPS_ADMIN_ROLE's default


def principal(user: str, *roles: str) -> requests.Session:
    """A session that arrives as App Service's front end hands a signed-in ``user`` on, with its app roles:
    ``X-MS-CLIENT-PRINCIPAL-ID`` and the claims, base64 JSON, in ``X-MS-CLIENT-PRINCIPAL``
    (learn.microsoft.com/azure/app-service/configure-authentication-user-identities)."""
    claims = [{"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": user},
              *({"typ": ROLE_CLAIM, "val": role} for role in roles)]
    payload = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": ROLE_CLAIM}
    session = requests.Session()
    session.headers.update({"X-MS-CLIENT-PRINCIPAL-ID": user, "X-MS-CLIENT-PRINCIPAL-NAME": f"{user}@contoso.com",
                            "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
                            "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(payload).encode()).decode()})
    return session


def queue_down(svc):
    """``svc`` with its work queue pointed at a port nobody listens on: every queue call fails as in an outage."""
    import dataclasses

    from azure.storage.queue import QueueServiceClient

    from shared.storage.work_queue import StorageWorkQueue

    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"QueueEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1")
    dead = QueueServiceClient.from_connection_string(conn, retry_total=0)
    return dataclasses.replace(svc, queue=StorageWorkQueue(dead, svc.settings.queue_name))
