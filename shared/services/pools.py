"""The app's thread pools: built once per process by ``shared.bootstrap`` and handed to what runs work on them.
Nothing starts a pool at import; a pool's threads start on its first use."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from ..storage.clients import POOL_SIZE
from ..storage.table_store import shard_pool

# HTTP functions are ``async def``: the Python worker runs those on its event loop, not in the thread pool its
# synchronous functions share (PYTHON_THREADPOOL_THREAD_COUNT), so the queue-triggered worker's long handlers,
# however many, never hold the threads requests need. A request's blocking work (its storage calls) runs here.
HTTP_THREADS = 16
# ``notify`` is ``async def`` too: deliveries wait on other people's servers, never in the operations' pool.
DELIVERY_THREADS = 16  # each waits 2 s at most for an attempt (services.events)
ATTEMPT_THREADS = 32  # event POSTs at once: waiting on a socket costs a thread nothing else
SEND_THREADS = POOL_SIZE  # ExecuteMultiple's messages sent at once, one connection each (services.multiple)


@dataclass(frozen=True)
class Pools:
    """Who runs what, each in a pool of its own so that none waits for another."""

    http: Executor  # a request's body (api.handling)
    deliveries: Executor  # the notify function's body (functions.worker)
    attempts: Executor  # one POST of an event, waited for at most PATIENCE_SECONDS (services.events)
    sends: Executor  # a wave of ExecuteMultiple's queue sends (services.multiple)
    shards: Executor  # a table's partitions read or written at once (storage.table_store, storage.table_lines)


def build_pools() -> Pools:
    """The pools, with no thread started yet."""
    return Pools(http=ThreadPoolExecutor(HTTP_THREADS, thread_name_prefix="bgops-http"),
                 deliveries=ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="bgops-deliveries"),
                 attempts=ThreadPoolExecutor(ATTEMPT_THREADS, thread_name_prefix="bgops-attempts"),
                 sends=ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="bgops-sends"),
                 shards=shard_pool())
