"""The Azure Functions app: checks its settings and operations (a bad one fails indexing, naming it) and registers
the blueprints. No logic lives here."""

import azure.functions as func

from shared import bootstrap
from shared.functions import http_api, maintenance, worker

bootstrap.check_app()

app = func.FunctionApp(http_auth_level=http_api.API_AUTH_LEVEL)
app.register_functions(http_api.bp)
app.register_functions(worker.bp)
app.register_functions(maintenance.bp)
