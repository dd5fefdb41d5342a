"""Building Table and Queue clients from the storage settings.

Three ways in, as the Functions host allows (SPEC §8): a connection string;
``UseDevelopmentStorage=true`` (Azurite on 127.0.0.1); or identity-based
settings, with ``DefaultAzureCredential`` (no network call until first use).
"""

from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.storage.queue import ExponentialRetry, QueueServiceClient

from ..settings import StorageSettings
from .metering import TransactionCounter

# Azurite's well-known development account (public, documented by Microsoft).
DEVSTORE_ACCOUNT = "devstoreaccount1"
DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEVSTORE_CONNECTION = (
    "DefaultEndpointsProtocol=http;"
    f"AccountName={DEVSTORE_ACCOUNT};AccountKey={DEVSTORE_KEY};"
    f"BlobEndpoint=http://127.0.0.1:10000/{DEVSTORE_ACCOUNT};"
    f"QueueEndpoint=http://127.0.0.1:10001/{DEVSTORE_ACCOUNT};"
    f"TableEndpoint=http://127.0.0.1:10002/{DEVSTORE_ACCOUNT}"
)


def normalize_connection_string(text: str) -> str:
    """Expand ``UseDevelopmentStorage=true`` and drop empty segments.

    azure-data-tables refuses ``UseDevelopmentStorage=true;`` with its trailing
    semicolon, and neither SDK accepts the shorthand in every version.
    """
    parts = [p.strip() for p in text.strip().split(";") if p.strip()]
    if any(p.lower() == "usedevelopmentstorage=true" for p in parts):
        return DEVSTORE_CONNECTION
    return ";".join(parts)


def _credential(storage: StorageSettings) -> TokenCredential:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (storage.credential or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=storage.client_id) if storage.client_id \
            else ManagedIdentityCredential()
    return DefaultAzureCredential(managed_identity_client_id=storage.client_id)


def service_uris(storage: StorageSettings) -> tuple[str, str]:
    """The table and queue endpoints for identity-based settings."""
    if storage.table_service_uri and storage.queue_service_uri:
        return storage.table_service_uri, storage.queue_service_uri
    account = storage.account_name
    return f"https://{account}.table.core.windows.net", f"https://{account}.queue.core.windows.net"


def build_service_clients(storage: StorageSettings, *, counter: TransactionCounter | None = None,
                          ) -> tuple[TableServiceClient, QueueServiceClient]:
    """Table and queue service clients (see ``work_queue`` for the message encoding).

    With a ``counter``, every request either client sends is counted.
    """
    # Fewer, shorter retries than the SDKs' defaults (which add up to a minute and
    # more): an HTTP caller should get its 503 quickly, and the host retries messages.
    table_options: dict[str, Any] = {"retry_total": 3, "retry_backoff_factor": 0.5, "retry_backoff_max": 4}
    queue_options: dict[str, Any] = {"retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2,
                                                                       retry_total=3)}
    if counter:
        table_options["raw_request_hook"] = counter.hook("table")
        queue_options["raw_request_hook"] = counter.hook("queue")
    if storage.connection_string:
        conn = normalize_connection_string(storage.connection_string)
        return (TableServiceClient.from_connection_string(conn, **table_options),
                QueueServiceClient.from_connection_string(conn, **queue_options))
    credential = _credential(storage)
    table_uri, queue_uri = service_uris(storage)
    return (TableServiceClient(endpoint=table_uri, credential=credential, **table_options),
            QueueServiceClient(account_url=queue_uri, credential=credential, **queue_options))
