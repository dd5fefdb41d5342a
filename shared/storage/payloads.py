"""Inputs and outputs too large for a Table property, kept as blobs in the same account.

A Table string property holds 64 KiB (32K UTF-16 code units) and an entity 1 MiB in all, while an
operation's inputs and outputs may each take up to 1 MiB. A parameters column whose text does not
fit is written to the blob ``<id>/<column>-<sha256 of the text>.json`` in the container
``<table>-payloads`` before the row, and the column holds ``@blob:<name>`` instead (Key/Value JSON
always starts with ``[``, so the two never mix). The name follows the content: a write that
repeats a value repeats the name, and a store that has written or read a name skips the upload.
The expiry marker of a row with blobs says so, and purge deletes them with the row.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

REFERENCE = "@blob:"
PARAMETER_COLUMNS = ("inputparameters", "outputparameters")
INLINE_CHARS = 32_000  # UTF-16 code units a Table string property holds (64 KiB)
_REMEMBERED = 4096  # blob names a store remembers having written or read


def container_name(table_name: str) -> str:
    """The container a table's large parameters live in (lower case, at most 63 characters)."""
    return f"{table_name.lower()[:54]}-payloads"


def blob_name(operation_id: str, column: str, text: str) -> str:
    """Where ``text``, the value of ``column`` of operation ``operation_id``, is kept."""
    return f"{operation_id}/{column}-{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"


def stored_length(text: str) -> int:
    """The length of ``text`` as Table Storage counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


class BlobPayloads:
    """Large parameter values in one container; errors are the SDK's (the table store translates them)."""

    def __init__(self, service: BlobServiceClient, container: str) -> None:
        self._container: ContainerClient = service.get_container_client(container)
        self._lock = threading.Lock()
        self._known: OrderedDict[str, None] = OrderedDict()

    def ensure_container(self) -> None:
        """Create the container unless it exists."""
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass

    def put(self, name: str, text: str) -> None:
        """Write ``text`` under ``name`` unless this store already wrote or read it."""
        if self._remembers(name):
            return
        self._container.upload_blob(name, text.encode(), overwrite=True)
        self._remember(name)

    def get(self, name: str) -> str | None:
        """The text under ``name``; None when there is none (deleted by hand, or purged meanwhile)."""
        try:
            text = self._container.download_blob(name).readall().decode()
        except ResourceNotFoundError:
            return None
        self._remember(name)
        return text

    def delete_operation(self, operation_ids: Iterable[str]) -> None:
        """Delete every blob of these operations (there are a few at most: one per value written)."""
        for operation_id in operation_ids:
            for blob in self._container.list_blobs(name_starts_with=f"{operation_id}/"):
                try:
                    self._container.delete_blob(blob.name)
                except ResourceNotFoundError:
                    pass

    def _remembers(self, name: str) -> bool:
        with self._lock:
            return name in self._known

    def _remember(self, name: str) -> None:
        with self._lock:
            self._known[name] = None
            while len(self._known) > _REMEMBERED:
                self._known.popitem(last=False)
