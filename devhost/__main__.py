"""Command line: ``python -m devhost [--app-dir DIR] [--port N] [--host ADDR]``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .app_loader import AppLoadError
from .config import SettingError
from .host import Host
from .routing import RouteTemplateError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; the port defaults to $PORT, then 7071."""
    parser = argparse.ArgumentParser(prog="python -m devhost", description="Run an Azure Functions Python app.")
    parser.add_argument("--app-dir", default=os.getcwd(), help="where function_app.py is (default: here)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 7071), help="$PORT, or 7071")
    parser.add_argument("--host", default="127.0.0.1", help="the address to bind (default 127.0.0.1)")
    parser.add_argument("--use-https", "--useHttps", action="store_true",
                        help="serve HTTPS, as func start --useHttps, with a certificate from a local authority")
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the host until SIGINT/SIGTERM (then stop taking requests and messages at once, and give running
    functions the host's grace, 10 s); 0 on a clean stop, 1 on a start-up error."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # it logs every storage request, headers too, at INFO

    stopping = threading.Event()

    def stop(*_: object) -> None:
        if stopping.is_set():  # a second Ctrl-C: now
            os._exit(1)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        host = Host(args.app_dir, port=args.port, host=args.host, https=args.use_https).start()
    except (SettingError, AppLoadError, RouteTemplateError, OSError) as e:
        # With the app's own traceback when importing function_app.py failed.
        logging.getLogger("devhost").error("Host failed to start: %s", e, exc_info=e.__cause__ is not None)
        return 1
    while not stopping.wait(0.5):
        pass
    logging.getLogger("devhost").info("Stopping host")
    host.stop()
    return 0


def exit_now(code: int) -> None:
    """Leave without waiting for the app's threads: a handler still running after the grace, and the thread
    pools the app keeps, would otherwise hold the interpreter open. Their messages come back once their
    lease lapses, as when the Functions host stops its worker process."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
