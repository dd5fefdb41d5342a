"""Queue-triggered functions (SPEC §4): the worker, the poison-queue handler, and event delivery."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func

from ..bootstrap import get_services
from ..services.events import notify
from ..services.worker import QueueDelivery, fail_poisoned, process_message

bp = func.Blueprint()

# Deliveries wait on other people's servers. ``notify`` is ``async def``, so the Python worker runs it on its
# event loop, and its attempt runs in this pool of its own: however many subscribers hang, they never hold a
# thread of the pool operations run in (PYTHON_THREADPOOL_THREAD_COUNT). Threads start on first use.
DELIVERY_THREADS = 16  # each waits 2 s at most for an attempt (services.events)
_DELIVERIES = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="bgops-deliveries")


@bp.function_name("worker")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%", connection="AzureWebJobsStorage")
def worker(msg: func.QueueMessage) -> None:
    """Run one attempt of the operation whose id the message holds."""
    process_message(get_services(), QueueDelivery(id=msg.id or "", pop_receipt=msg.pop_receipt or "",
                                                  dequeue_count=msg.dequeue_count or 1,
                                                  body=msg.get_body().decode("utf-8", "replace")))


@bp.function_name("poison")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%-poison", connection="AzureWebJobsStorage")
def poison(msg: func.QueueMessage) -> None:
    """The host gave up on an operation's message: mark the operation Failed and call back."""
    fail_poisoned(get_services(), msg.get_body().decode("utf-8", "replace"))


@bp.function_name("notify")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%-events", connection="AzureWebJobsStorage")
async def notify_subscriber(msg: func.QueueMessage) -> None:
    """One attempt at a completion event for one subscriber, or at a callback (fanned out here, in a pool of
    their own, so that none waits for another and no operation waits for any)."""
    body = msg.get_body().decode("utf-8", "replace")
    await asyncio.get_running_loop().run_in_executor(_DELIVERIES, lambda: notify(get_services(), body))
