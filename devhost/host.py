"""The local host: loads settings and the app, serves HTTP, polls queues, fires timers; ``start()`` and
``stop()``, in-process or from the command line."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path

import azure.functions as func

from . import app_loader, config, storage, tls
from .app_loader import FunctionSpec
from .http_server import FunctionsHttpServer
from .invoker import Invoker
from .queue_listener import MIN_RENEWAL_SECONDS, VISIBILITY_TIMEOUT_SECONDS, QueueListener
from .routing import Route, Router, RouteTemplate
from .timers import TimerRunner

log = logging.getLogger("devhost")

DEFAULT_GRACE_SECONDS = 10.0


class Host:
    """Runs ``function_app.py`` from ``app_dir`` with the Functions host's semantics. ``port=0`` picks a free
    port; read it back from ``.port``."""

    def __init__(self, app_dir: str | Path = ".", *, port: int = 7071, host: str = "127.0.0.1",
                 environ: MutableMapping[str, str] | None = None, grace_seconds: float = DEFAULT_GRACE_SECONDS,
                 https: bool = False):
        self.app_dir, self.bind_host, self.requested_port = Path(app_dir).resolve(), host, port
        self.https = https  # --use-https: TLS with a certificate from the machine's own authority (devhost.tls)
        self.environ = os.environ if environ is None else environ
        self.grace_seconds = grace_seconds
        self.functions: dict[str, FunctionSpec] = {}
        self._server: FunctionsHttpServer | None = None
        self._listeners: list[QueueListener] = []
        self._timers: dict[str, TimerRunner] = {}
        self._invoker: Invoker | None = None

    @property
    def tls_folder(self) -> Path:
        """Where the machine's own certificate authority is kept (``--use-https``)."""
        return self.app_dir / ".devhost"

    @property
    def port(self) -> int:
        """The port the HTTP server listens on (after ``start()``)."""
        assert self._server is not None, "host not started"
        return self._server.server_address[1]

    def start(self) -> Host:
        """Load everything, then serve; SettingError, AppLoadError or RouteTemplateError before anything
        listens if the app is invalid."""
        config.load_local_settings(self.app_dir, self.environ)
        host_config = config.load_host_config(self.app_dir, self.environ)
        options, prefix = config.QueuesOptions.from_host_config(host_config), config.http_route_prefix(host_config)
        specs = app_loader.load(self.app_dir, self.environ)
        self.functions = {s.name.lower(): s for s in specs}
        self._invoker = invoker = Invoker(max_workers=config.python_thread_count(self.environ), app_dir=self.app_dir)
        router = Router(_route(s, prefix) for s in specs if s.trigger_type == app_loader.HTTP)
        triggered = [s for s in specs if not config.disabled(self.environ, s.name)]
        self._timers = {s.name.lower(): TimerRunner(s, invoker.invoke)
                        for s in specs if s.trigger_type == app_loader.TIMER}
        lease = config.message_lease_seconds(self.environ, VISIBILITY_TIMEOUT_SECONDS)
        for spec in (s for s in triggered if s.trigger_type == app_loader.QUEUE and s.queue_name):
            connection, poison = spec.trigger.connection, storage.poison_queue_name(str(spec.queue_name))
            self._listeners.append(QueueListener(
                spec, storage.queue_client(self.environ, connection, str(spec.queue_name)),
                storage.queue_client(self.environ, connection, poison) if poison else None, options,
                invoker.invoke, visibility_timeout=lease, minimum_renewal_interval=min(MIN_RENEWAL_SECONDS, lease / 2)))
        context = tls.server_context(self.tls_folder, [self.bind_host, "localhost", "127.0.0.1"]) if self.https \
            else None
        self._server = FunctionsHttpServer((self.bind_host, self.requested_port), router, self._invoke_http,
                                           self._run_admin, function_key=config.function_key(self.environ), tls=context)
        threading.Thread(target=self._server.serve_forever, name="devhost-http", daemon=True).start()
        for listener in self._listeners:
            listener.start()
        for timer in (t for t in self._timers.values() if t.spec in triggered):
            timer.start()  # the admin endpoint runs a disabled one all the same, as the host does
        address = f"{self._server.scheme}://{self.bind_host}:{self.port}"
        trust = [f"HTTPS, certificates from {self.tls_folder / tls.CA_FILE}: trust it (for Python clients, "
                 f"REQUESTS_CA_BUNDLE={self.tls_folder / tls.CA_FILE})", ""] if self.https else []
        print("\n".join(["", "Functions:", "", *(f"        {s.name}: {_shown(s, router, address, s not in triggered)}"
                                                   for s in specs),
                         "", *trust, "Host started", ""]), flush=True)
        return self

    def stop(self) -> None:
        """Stop HTTP, polling and timers at once; give running functions up to ``grace_seconds`` in all."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for timer in self._timers.values():
            timer.stop()
        deadline = time.monotonic() + self.grace_seconds
        for listener in self._listeners:
            listener.stop(max(0.0, deadline - time.monotonic()))
        if self._invoker is not None:
            self._invoker.shutdown(max(0.0, deadline - time.monotonic()))
        log.info("Host stopped")

    def _invoke_http(self, spec: FunctionSpec, request: func.HttpRequest) -> object:
        assert self._invoker is not None, "host not started"
        return self._invoker.invoke(spec, request, reason="HTTP request", quiet=True,
                                    traceparent=request.headers.get("traceparent"),
                                    tracestate=request.headers.get("tracestate") or "")

    def _run_admin(self, name: str, payload: str) -> int:
        spec = self.functions.get(name.lower())
        if spec is None:
            return 404
        if spec.trigger_type != app_loader.TIMER:
            return 400  # the app runs only its timer this way (deviation: the host would run any function)
        threading.Thread(target=self._timers[spec.name.lower()].run_now, name=f"devhost-admin-{spec.name}",
                         daemon=True).start()
        return 202


def _route(spec: FunctionSpec, prefix: str) -> Route:
    template = (spec.trigger.route or spec.name).strip("/")  # no route: the function's name (ScriptHost)
    methods = frozenset(str(m).upper() for m in spec.trigger.methods) if spec.trigger.methods else None
    return Route(RouteTemplate(f"{prefix}/{template}" if prefix else template), methods, spec, spec.name)


def _shown(spec: FunctionSpec, router: Router, address: str, disabled: bool) -> str:
    """A function as the start-up banner lists it."""
    if spec.trigger_type == app_loader.HTTP:
        route = next(r for r in router.routes if r.target is spec)
        return f"[{','.join(sorted(route.methods)) if route.methods else '*'}] {address}/{route.template.template}"
    shown = f"queueTrigger ({spec.queue_name})" if spec.queue_name else f"timerTrigger ({spec.schedule})"
    return f"{shown} (disabled: AzureWebJobs.{spec.name}.Disabled)" if disabled else shown
