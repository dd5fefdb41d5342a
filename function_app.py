"""The Azure Functions app: registers the blueprints. No logic lives here."""

import azure.functions as func

from shared.functions import http_api, maintenance, worker

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(http_api.bp)
app.register_functions(worker.bp)
app.register_functions(maintenance.bp)
