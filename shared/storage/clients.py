"""Building Table, Queue and Blob clients from the storage settings.

Three ways in, as the Functions host allows (SPEC §8): a connection string;
``UseDevelopmentStorage=true`` (Azurite on 127.0.0.1); or identity-based
settings, with ``DefaultAzureCredential`` (no network call until first use).
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.blob import ExponentialRetry as BlobRetry
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


def blob_service_uri(storage: StorageSettings) -> str:
    """The blob endpoint for identity-based settings."""
    return storage.blob_service_uri or f"https://{storage.account_name}.blob.core.windows.net"


POOL_SIZE = 32  # connections kept per endpoint: the worker's batch (16) and its new batch (8), plus HTTP calls


def _transport() -> RequestsTransport:
    """The HTTP transport of one client: a kept-alive pool as large as the app's concurrency.

    Unless the environment names a proxy, the session reads the environment once, here, not
    on each request: ``requests`` otherwise looks for a ``.netrc`` file and the proxy and CA
    variables every time, about a tenth of the CPU a storage call costs (storage auth never
    comes from .netrc; a CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE still applies).
    """
    session = requests.Session()
    session.trust_env = bool(urllib.request.getproxies())
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE)
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(session=session, session_owner=False)


def build_service_clients(storage: StorageSettings, *, counter: TransactionCounter | None = None,
                          ) -> tuple[TableServiceClient, QueueServiceClient]:
    """Table and queue service clients (see ``work_queue`` for the message encoding).

    With a ``counter``, every request either client sends is counted.
    """
    # Fewer, shorter retries than the SDKs' defaults (which add up to a minute and
    # more): an HTTP caller should get its 503 quickly, and the host retries messages.
    table_options: dict[str, Any] = {"retry_total": 3, "retry_backoff_factor": 0.5, "retry_backoff_max": 4,
                                      "transport": _transport()}
    queue_options: dict[str, Any] = {"retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2,
                                                                       retry_total=3), "transport": _transport()}
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


def build_blob_client(storage: StorageSettings, *, counter: TransactionCounter | None = None) -> BlobServiceClient:
    """The blob service client large inputs and outputs are kept with (``payloads``)."""
    options: dict[str, Any] = {"retry_policy": BlobRetry(initial_backoff=1, increment_base=2, retry_total=3),
                               "transport": _transport()}
    if counter:
        options["raw_request_hook"] = counter.hook("blob")
    if storage.connection_string:
        return BlobServiceClient.from_connection_string(normalize_connection_string(storage.connection_string),
                                                        **options)
    return BlobServiceClient(account_url=blob_service_uri(storage), credential=_credential(storage), **options)
