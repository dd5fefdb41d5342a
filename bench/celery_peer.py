"""Celery as the bench's peer: the same no-op operation as a Celery task, with kombu's Azure Storage Queues
transport as the broker and Celery's Azure Block Blob result backend, both on the bench's storage.

The worker runs as ``python -m celery -A bench.celery_peer worker`` with the broker, the result backend, the
container and the queue given in the environment (``BENCH_CELERY_*``, set by ``bench.peers``).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

app = Celery("bench", broker=os.environ.get("BENCH_CELERY_BROKER", "memory://"),
             backend=os.environ.get("BENCH_CELERY_BACKEND", "cache+memory://"))
app.conf.update(
    azureblockblob_container_name=os.environ.get("BENCH_CELERY_CONTAINER", "celery"),
    task_default_queue=os.environ.get("BENCH_CELERY_QUEUE", "celery"),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_serializer="json", result_serializer="json", accept_content=["json"],
)


@app.task(name="bench.noop")
def noop(index: int, text: str) -> dict[str, Any]:
    """What sample_Echo does: hand its inputs back."""
    return {"Index": index, "Text": text}
