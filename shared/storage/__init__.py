"""Adapters to Azure Storage, behind the small interfaces in ``ports``."""
