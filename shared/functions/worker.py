"""Queue-triggered functions (SPEC §4): the worker, the poison-queue handler, and event delivery."""

import asyncio

import azure.functions as func

from ..bootstrap import get_pools, get_services
from ..services.events import notify
from ..services.worker import QueueDelivery, fail_poisoned, process_message
from ..telemetry.spans import invocation_of

bp = func.Blueprint()

@bp.function_name("worker")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%", connection="AzureWebJobsStorage")
def worker(msg: func.QueueMessage, context: func.Context) -> None:
    """Run one attempt of the operation whose id the message holds (in its trace, linked to this invocation's)."""
    process_message(get_services(), QueueDelivery(id=msg.id or "", pop_receipt=msg.pop_receipt or "",
                                                  dequeue_count=msg.dequeue_count or 1,
                                                  body=msg.get_body().decode("utf-8", "replace"),
                                                  invocation=invocation_of(context)))


@bp.function_name("poison")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%-poison", connection="AzureWebJobsStorage")
def poison(msg: func.QueueMessage) -> None:
    """The host gave up on an operation's message: mark the operation Failed and call back."""
    fail_poisoned(get_services(), msg.get_body().decode("utf-8", "replace"))


@bp.function_name("notify")
@bp.queue_trigger(arg_name="msg", queue_name="%BGOPS_QUEUE_NAME%-events", connection="AzureWebJobsStorage")
async def notify_subscriber(msg: func.QueueMessage) -> None:
    """One attempt at a completion event for one subscriber, or at a callback. ``async def``, its body in a pool
    of its own (services.pools): however many subscribers hang, they never hold a thread of the pool operations
    run in (PYTHON_THREADPOOL_THREAD_COUNT)."""
    body = msg.get_body().decode("utf-8", "replace")
    await asyncio.get_running_loop().run_in_executor(get_pools().deliveries, lambda: notify(get_services(), body))
