"""Your operations: register handlers here (see README, "Writing an operation").

    @registry.operation("contoso_RecalculateInvoices", display_name="Recalculate invoices",
                        inputs=[Parameter("Year", ParamType.INT, required=True)],
                        outputs=[Parameter("Recalculated", ParamType.INT)])
    def recalculate_invoices(inputs, context):
        ...
        return {"Recalculated": 42}
"""

from .registry import OperationRegistry, Parameter, ParamType  # noqa: F401 - for your handlers

registry = OperationRegistry()
