"""The local host: loads settings and the app, serves HTTP, polls queues,
fires timers; ``start()`` / ``stop()`` for use in-process or from the CLI."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path

import azure.functions as func

from . import app_loader, config, storage
from .app_loader import FunctionSpec
from .http_server import FunctionsHttpServer
from .invoker import Invoker
from .queue_listener import MIN_RENEWAL_SECONDS, VISIBILITY_TIMEOUT_SECONDS, QueueListener
from .routing import Route, Router, RouteTemplate
from .timers import TimerRunner

log = logging.getLogger("devhost")

DEFAULT_GRACE_SECONDS = 10.0


class Host:
    """Runs ``function_app.py`` from ``app_dir`` with the Functions host's
    semantics. ``port=0`` picks a free port; read it back from ``.port``."""

    def __init__(self, app_dir: str | Path = ".", *, port: int = 7071, host: str = "127.0.0.1",
                 environ: MutableMapping[str, str] | None = None,
                 grace_seconds: float = DEFAULT_GRACE_SECONDS):
        self.app_dir = Path(app_dir).resolve()
        self.bind_host, self.requested_port = host, port
        self.environ = os.environ if environ is None else environ
        self.grace_seconds = grace_seconds
        self.functions: dict[str, FunctionSpec] = {}
        self._server: FunctionsHttpServer | None = None
        self._listeners: list[QueueListener] = []
        self._timers: dict[str, TimerRunner] = {}
        self._invoker: Invoker | None = None

    @property
    def port(self) -> int:
        """The port the HTTP server listens on (after ``start()``)."""
        assert self._server is not None, "host not started"
        return self._server.server_address[1]

    def start(self) -> Host:
        """Load everything, then serve; raises SettingError/AppLoadError/
        RouteTemplateError before anything listens if the app is invalid."""
        config.load_local_settings(self.app_dir, self.environ)
        host_config = config.load_host_config(self.app_dir, self.environ)
        queues_options = config.QueuesOptions.from_host_config(host_config)
        prefix = config.http_route_prefix(host_config)
        specs = app_loader.load(self.app_dir, self.environ)
        self.functions = {s.name.lower(): s for s in specs}

        clients = storage.QueueClients(self.environ)
        self._invoker = Invoker(max_workers=config.python_thread_count(self.environ))
        router = Router(self._route(s, prefix) for s in specs if s.trigger_type == app_loader.HTTP)
        timers = {s.name.lower(): TimerRunner(s, self._invoker.invoke)
                  for s in specs if s.trigger_type == app_loader.TIMER}
        lease = config.message_lease_seconds(self.environ, VISIBILITY_TIMEOUT_SECONDS)
        listeners = []
        for spec in (s for s in specs if s.trigger_type == app_loader.QUEUE and s.queue_name):
            connection, queue_name = spec.trigger.connection, str(spec.queue_name)
            poison_name = storage.poison_queue_name(queue_name)
            listeners.append(QueueListener(
                spec, clients.queue(connection, queue_name),
                clients.queue(connection, poison_name) if poison_name else None,
                queues_options, self._invoker.invoke,
                visibility_timeout=lease, minimum_renewal_interval=min(MIN_RENEWAL_SECONDS, lease / 2)))

        self._server = FunctionsHttpServer((self.bind_host, self.requested_port), router,
                                           self._invoke_http, self._run_admin,
                                           function_key=config.function_key(self.environ))
        threading.Thread(target=self._server.serve_forever, name="devhost-http",
                         daemon=True).start()
        self._listeners, self._timers = listeners, timers
        for listener in listeners:
            listener.start()
        for timer in timers.values():
            timer.start()
        self._print_banner(router, prefix)
        return self

    def stop(self) -> None:
        """Stop HTTP, polling and timers; give running functions up to
        ``grace_seconds`` to finish."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for timer in self._timers.values():
            timer.stop()
        # One grace period for everything, not one per listener.
        deadline = time.monotonic() + self.grace_seconds
        for listener in self._listeners:
            listener.stop(max(0.0, deadline - time.monotonic()))
        if self._invoker is not None:
            self._invoker.shutdown(max(0.0, deadline - time.monotonic()))
        log.info("Host stopped")

    def _route(self, spec: FunctionSpec, prefix: str) -> Route:
        # No route means the function name (ScriptHost route registration).
        template = (spec.trigger.route or spec.name).strip("/")
        methods = spec.trigger.methods
        allowed = frozenset(str(m).upper() for m in methods) if methods else None
        return Route(RouteTemplate(f"{prefix}/{template}" if prefix else template),
                     allowed, spec)

    def _invoke_http(self, spec: FunctionSpec, request: func.HttpRequest) -> object:
        if self._invoker is None:
            raise RuntimeError("the host has not started")
        return self._invoker.invoke(
            spec, request, reason="HTTP request",
            quiet=True)

    def _run_admin(self, name: str, payload: str) -> int:
        spec = self.functions.get(name.lower())
        if spec is None:
            return 404
        if spec.trigger_type != app_loader.TIMER:
            return 400  # the app runs only its timer this way (deviation: the host would run any function)
        threading.Thread(target=self._timers[spec.name.lower()].run_now, name=f"devhost-admin-{spec.name}",
                         daemon=True).start()
        return 202

    def _print_banner(self, router: Router, prefix: str) -> None:
        address = f"http://{self.bind_host}:{self.port}"
        lines = ["", "Functions:", ""]
        for spec in self.functions.values():
            if spec.trigger_type == app_loader.HTTP:
                route = next(r for r in router.routes if r.target is spec)
                methods = ",".join(sorted(route.methods)) if route.methods else "*"
                lines.append(f"        {spec.name}: [{methods}] {address}/{route.template.template}")
            elif spec.trigger_type == app_loader.QUEUE:
                lines.append(f"        {spec.name}: queueTrigger ({spec.queue_name})")
            else:
                nxt = self._timers[spec.name.lower()].next_occurrences(1)[0]
                lines.append(f"        {spec.name}: timerTrigger ({spec.schedule}; "
                             f"next {nxt.isoformat(timespec='seconds')})")
        print("\n".join(lines + ["", "Host started", ""]), flush=True)
