"""Purging finished operations past their time to live (SPEC §7)."""

from __future__ import annotations

import itertools
import logging

from .container import Services

log = logging.getLogger(__name__)
CHUNK = 1000


def purge_expired(svc: Services) -> int:
    """Delete every finished row whose createdon + ttlinseconds has passed; returns how many.

    The rows are found through their expiry markers (see ``domain.ids``), so the
    cost grows with the number of expired rows, not with the size of the table.
    """
    expired = svc.store.list_expired(svc.clock())
    deleted = 0
    while chunk := list(itertools.islice(expired, CHUNK)):
        deleted += svc.store.delete_expired(chunk)
    log.info("Purge deleted %d expired operation(s).", deleted)
    return deleted
