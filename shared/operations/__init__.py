"""The public API for operation authors: everything a handler module imports, from one place.

    from shared.operations import NonRetryableError, OperationContext, OperationError, Parameter, ParamType, operation

    @operation("contoso_RecalculateInvoices", display_name="Recalculate invoices",
               inputs=[Parameter("Year", ParamType.INT, required=True)],
               outputs=[Parameter("Recalculated", ParamType.INT)])
    def recalculate_invoices(inputs: dict, context: OperationContext) -> dict:
        ...

``@operation`` registers into ``APP_OPERATIONS``; the app loads ``shared/operations/custom.py`` when
``function_app.py`` is imported, so a broken or duplicate operation stops the app from loading.
"""

from ..domain.errors import NonRetryableError, OperationError
from .context import OperationContext
from .registry import Kind, OperationDefinition, OperationRegistry, Parameter, ParamType

# Your operations: what ``@operation`` registers into.
APP_OPERATIONS = OperationRegistry()
operation = APP_OPERATIONS.operation

__all__ = ["APP_OPERATIONS", "Kind", "NonRetryableError", "OperationContext", "OperationDefinition",
           "OperationError", "OperationRegistry", "ParamType", "Parameter", "operation"]
