"""Your operations: write them here (see README, "Writing an operation").

    from . import OperationContext, OperationError, Parameter, ParamType, operation

    @operation("contoso_RecalculateInvoices", display_name="Recalculate invoices",
               inputs=[Parameter("Year", ParamType.INT, required=True)],
               outputs=[Parameter("Recalculated", ParamType.INT)])
    def recalculate_invoices(inputs: dict, context: OperationContext) -> dict:
        ...
        return {"Recalculated": 42}

This module is imported when the app loads; an error here, or two operations with one name,
stops the app from loading rather than failing its first request.
"""
