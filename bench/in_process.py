"""The app's services in the bench's own process, on the bench's Azurite, and the one operation every section
submits: what sections 1, 2 and 10 call instead of going through HTTP."""

from __future__ import annotations

import uuid

from shared.bootstrap import build_services
from shared.services.container import Services
from shared.services.submission import Submission
from shared.settings import load_settings
from shared.storage.metering import TransactionCounter


def services(connection_string: str, prefix: str, *, counter: TransactionCounter | None = None,
             **settings: str) -> Services:
    """The app's services on a queue and a table of their own (``<prefix><8 hex>``), samples on."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    return build_services(load_settings({"AzureWebJobsStorage": connection_string, "BGOPS_QUEUE_NAME": name,
                                         "BGOPS_TABLE_NAME": name, "BGOPS_ENABLE_SAMPLES": "true", **settings}),
                          counter=counter)


def echo(index: int, callback_url: str | None = None) -> Submission:
    """The bench's no-op operation: ``sample_Echo`` handing back its inputs."""
    return Submission(name="sample_Echo", inputs={"Index": index, "Text": "bench"}, base_url="http://bench.invalid",
                      callback_url=callback_url)
