"""Python client for Background Operations for Azure Functions: submit, wait for, steer and list operations.

    from bgops_client import Client

    with Client("https://<app>.azurewebsites.net", key="<function key>") as ops:
        outputs = ops.submit("sample_Echo", {"Text": "hi"}).result(timeout=60)

``AsyncClient`` does the same for asyncio; ``bgops_client.webhooks.verify`` checks a signed callback; the ``bgops``
command line (``pip install 'bgops-client[cli]'``) wraps it all.
"""

from .aio import AsyncClient, AsyncOperation
from .client import Client, Operation
from .errors import (
    BgopsError,
    ConnectionFailed,
    NotFound,
    NotTheApp,
    OperationCanceled,
    OperationFailed,
    RequestRefused,
    ServiceError,
    Unauthorized,
    WaitTimedOut,
)
from .models import OperationInfo, Parameter, Status

__all__ = ["AsyncClient", "AsyncOperation", "BgopsError", "Client", "ConnectionFailed", "NotFound", "NotTheApp",
           "Operation", "OperationCanceled", "OperationFailed", "OperationInfo", "Parameter", "RequestRefused",
           "ServiceError", "Status", "Unauthorized", "WaitTimedOut"]
