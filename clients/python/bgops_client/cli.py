"""``bgops``: the command line (``pip install 'bgops-client[cli]'``). Base URL and key from ``--url`` and ``--key``,
or BGOPS_URL and BGOPS_KEY. Exit codes scripts can rely on: see ``EXIT``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

try:
    import click
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
except ImportError:  # pragma: no cover - the extra is not installed
    def main() -> None:
        sys.exit("bgops needs its command-line extra: pip install 'bgops-client[cli]'")
else:
    from .client import Client, Operation
    from .errors import (
        BgopsError,
        ConnectionFailed,
        NotFound,
        NotTheApp,
        OperationCanceled,
        OperationFailed,
        RequestRefused,
        ServiceError,
        Unauthorized,
        WaitTimedOut,
    )
    from .models import CANCELED, FAILED, OperationInfo, Status

    # Exit codes: 0 done (an operation that succeeded); 2 a command line click cannot read.
    EXIT = {"failed": 1, "canceled": 3, "not found": 4, "refused": 5, "unauthorized": 6, "unreachable": 7,
            "timed out": 8}
    EPILOG = ("Exit codes: 0 succeeded (or done), 1 the operation failed, 2 a bad command line, 3 canceled, 4 not "
              "found, 5 refused by the app (4xx), 6 a wrong key or sign-in, 7 the app unreachable or not answering "
              "as the app, 8 still running when --timeout passed.")
    ERRORS: tuple[tuple[type[BgopsError], str], ...] = (
        (OperationCanceled, "canceled"), (OperationFailed, "failed"), (NotFound, "not found"),
        (RequestRefused, "refused"), (Unauthorized, "unauthorized"), (WaitTimedOut, "timed out"),
        (ConnectionFailed, "unreachable"), (NotTheApp, "unreachable"), (ServiceError, "unreachable"))
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)

    @click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--url", envvar="BGOPS_URL", metavar="URL",
                  help="The app's base URL, https://<app>.azurewebsites.net (env BGOPS_URL).")
    @click.option("--key", envvar="BGOPS_KEY", metavar="KEY", help="A function key (env BGOPS_KEY).")
    @click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds for one request.")
    @click.pass_context
    def cli(ctx: click.Context, url: str | None, key: str | None, timeout: float) -> None:
        """Submit, watch and steer the app's background operations."""
        ctx.obj = {"url": url, "key": key, "timeout": timeout}

    def main() -> None:
        """The ``bgops`` command: a BgopsError is one line on stderr and its exit code, never a traceback."""
        try:
            cli.main(standalone_mode=False)
        except click.exceptions.Abort:
            err.print("Aborted.")
            sys.exit(130)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except BgopsError as e:
            _fail(e)
        sys.exit(0)

    def _fail(error: BgopsError) -> NoReturn:
        kind = next((kind for cls, kind in ERRORS if isinstance(error, cls)), "unreachable")
        err.print(f"[bold red]Error:[/] {error}", markup=True, soft_wrap=True)
        sys.exit(EXIT[kind])

    def _client() -> Client:
        """The client of the group's options, made on first use (so that every --help works without a URL)."""
        ctx = click.get_current_context().find_root()
        if "client" not in ctx.obj:
            if not ctx.obj["url"]:
                raise click.UsageError("Give the app's base URL with --url or BGOPS_URL.")
            try:
                client = Client(ctx.obj["url"], key=ctx.obj["key"], timeout=ctx.obj["timeout"])
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--url") from None
            ctx.obj["client"] = ctx.with_resource(client)
        return ctx.obj["client"]  # type: ignore[no-any-return]

    def _inputs(definition: OperationInfo, pairs: tuple[str, ...]) -> dict[str, Any]:
        """``key=value`` pairs as the operation's inputs, each value read as its parameter's type."""
        types = {p.name: p.type for p in definition.inputs}
        inputs: dict[str, Any] = {}
        for pair in pairs:
            name, equals, text = pair.partition("=")
            if not equals or not name:
                raise click.BadParameter(f"'{pair}' is not key=value.", param_hint="PARAMS")
            inputs[name] = _value(name, text, types.get(name, "any"))
        return inputs

    def _value(name: str, text: str, kind: str) -> Any:
        try:
            if kind == "int":
                return int(text)
            if kind == "number":
                return int(text) if text.lstrip("-").isdigit() else float(text)
            if kind == "bool":
                return {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}[text.lower()]
            if kind in ("object", "array"):
                return json.loads(text)
            if kind == "any":
                try:
                    return json.loads(text)
                except ValueError:
                    return text
        except (ValueError, KeyError):
            raise click.BadParameter(f"{name}={text}: {name} takes a value of type {kind}.",
                                     param_hint="PARAMS") from None
        return text

    def _show(status: Status, as_json: bool) -> None:
        if as_json:
            out.print_json(json.dumps(status.to_json()))
            return
        out.print(f"{status.id}  {status.name}  [bold]{status.label}[/]", markup=True)
        if status.progress_percent is not None and not status.finished:
            out.print(f"  {status.progress_percent}% {status.progress_message}")
        if status.status_code == FAILED or status.status_code == CANCELED:
            out.print(f"  {status.error_code_hex} {status.error_message or ''}".rstrip())
        if status.outputs:
            out.print_json(json.dumps(status.outputs))

    def _ended(status: Status, as_json: bool) -> None:
        """Show a finished operation; exit 1 if it failed, 3 if it was canceled."""
        _show(status, as_json)
        if status.status_code == FAILED:
            sys.exit(EXIT["failed"])
        if status.status_code == CANCELED:
            sys.exit(EXIT["canceled"])

    # A progress bar reads the row this often: the worker writes a handler's progress every 2 s at most.
    BAR_READ_SECONDS = 2.0

    def _watch(operation: Operation, timeout: float | None, as_json: bool) -> None:
        """Wait for the operation to end, then show it: on a terminal with a progress bar, reading the row every
        BAR_READ_SECONDS; otherwise (a script, --json) with held reads (Prefer: wait), a request a minute."""
        if as_json or not err.is_terminal:
            _ended(operation.wait(timeout), as_json)
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task("Waiting", total=100)
            while not (status := operation.status()).finished:
                progress.update(task, completed=status.progress_percent or 0,
                                description=f"{status.label}: {status.progress_message}".rstrip(": "))
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimedOut(f"Operation {operation.id} had not finished after {timeout:g} s.")
                left = BAR_READ_SECONDS if deadline is None else deadline - time.monotonic()
                time.sleep(max(0.0, min(BAR_READ_SECONDS, left)))
        _ended(status, as_json)

    @cli.command(epilog=EPILOG)
    @click.argument("name")
    @click.argument("params", nargs=-1, metavar="[KEY=VALUE]...")
    @click.option("--wait", "wait_", is_flag=True, help="Wait for it to finish: progress, then its outputs.")
    @click.option("--timeout", type=float, help="With --wait: give up (exit 8) after this many seconds.")
    @click.option("--idempotency-key", help="Send again with the same key: the operation it first made.")
    @click.option("--callback-url", help="Where to POST its outcome when it ends.")
    @click.option("--postpone-until", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
                  help="Start it at this time (ISO 8601; UTC unless it says).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def submit(name: str, params: tuple[str, ...], wait_: bool, timeout: float | None, idempotency_key: str | None,
               callback_url: str | None, postpone_until: datetime | None, as_json: bool) -> None:
        """Run operation NAME with KEY=VALUE inputs (each read as the operation declares it)."""
        client = _client()
        operation = client.submit(name, _inputs(client.definition(name), params), callback_url=callback_url,
                                  idempotency_key=idempotency_key, postpone_until=postpone_until)
        if wait_:
            _watch(operation, timeout, as_json)
        elif as_json:
            out.print_json(json.dumps({"id": operation.id, "location": operation.location}))
        else:
            out.print(operation.id)

    @cli.command(epilog=EPILOG)
    @click.argument("operation_id", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def status(operation_id: str, as_json: bool) -> None:
        """Where operation ID stands (exit 0 whatever its state)."""
        _show(_client().operation(operation_id).status(), as_json)

    @cli.command(epilog=EPILOG)
    @click.argument("operation_id", metavar="ID")
    @click.option("--timeout", type=float, help="Give up (exit 8) after this many seconds.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (no progress bar).")
    def watch(operation_id: str, timeout: float | None, as_json: bool) -> None:
        """Follow operation ID: a progress bar with its message while it runs, its outputs when it ends."""
        _watch(_client().operation(operation_id), timeout, as_json)

    @cli.command(name="list", epilog=EPILOG)
    @click.option("--status", "status_", help="Only this status: Succeeded, Failed, In Progress... or its code.")
    @click.option("--name", help="Only operations of this name.")
    @click.option("--filter", "filter_", help="An OData $filter over the row's columns.")
    @click.option("--top", type=click.IntRange(1, 10_000), default=20, show_default=True, help="At most this many.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
    def list_(status_: str | None, name: str | None, filter_: str | None, top: int, as_json: bool) -> None:
        """Operations, newest first."""
        try:
            rows = _client().list(filter=filter_, status=status_, name=name, page_size=min(top, 500))
            shown = [row for _, row in zip(range(top), rows, strict=False)]
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--status") from None
        if as_json:
            for row in shown:
                out.print(json.dumps(row.to_json()), soft_wrap=True)
            return
        table = Table("ID", "Name", "Status", "Created", "Progress", box=None)
        for row in shown:
            created = row.created_on.strftime("%Y-%m-%d %H:%M:%S") if row.created_on else ""
            progress = "" if row.progress_percent is None else f"{row.progress_percent}%"
            table.add_row(row.id, row.name, row.label, created, progress)
        out.print(table)

    def _steer(verb: str, act: Callable[[Operation], None]) -> Callable[[str], None]:
        def command(operation_id: str) -> None:
            operation = _client().operation(operation_id)
            act(operation)
            _show(operation.status(), False)

        command.__doc__ = f"{verb.capitalize()} operation ID; prints where it stands then."
        return command

    for _verb, _act in (("cancel", Operation.cancel), ("pause", Operation.pause), ("resume", Operation.resume)):
        cli.command(name=_verb, epilog=EPILOG)(click.argument("operation_id", metavar="ID")(_steer(_verb, _act)))

    @cli.command(epilog=EPILOG)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def operations(as_json: bool) -> None:
        """The operations the app can run, with their inputs."""
        catalog = _client().operations()
        if as_json:
            out.print_json(json.dumps([{"name": o.name, "displayName": o.display_name, "description": o.description,
                                        "inputs": [vars(p) for p in o.inputs]} for o in catalog]))
            return
        table = Table("Name", "Inputs", "Description", box=None)
        for o in catalog:
            inputs = ", ".join(f"{p.name}{'' if p.required else '?'}: {p.type}" for p in o.inputs)
            table.add_row(o.name, inputs, o.description)
        out.print(table)
