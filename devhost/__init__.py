"""A small local Azure Functions host for Python v2-model apps, for machines where Core Tools cannot be
installed: ``python -m devhost`` runs ``function_app.py`` with the Functions host's semantics (routes, keys,
``%SETTING%`` expressions, queue triggers with their poison queue, NCRONTAB timers, the admin endpoint)."""

from .host import Host

__all__ = ["Host"]
