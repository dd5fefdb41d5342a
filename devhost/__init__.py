"""A small local Azure Functions host for Python v2-model apps.

``python -m devhost`` runs ``function_app.py`` with the Functions host's
semantics (routes, ``%SETTING%`` expressions, queue polling with
``dequeue_count``/visibility/poison queue, NCRONTAB timers and the
``/admin/functions/<name>`` endpoint) against Azurite or a storage account,
for machines where Azure Functions Core Tools cannot be installed.
"""

from .host import Host

__all__ = ["Host"]
