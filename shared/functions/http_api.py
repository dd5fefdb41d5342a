"""HTTP-triggered functions (SPEC §3): each route bound straight to its endpoint in ``api``.

One row per Functions function; an alias is a row of its own pointing at the same endpoint. The host tries the
routes in the order of the functions' names, the first match winning (however specific a later route is), so a
route that takes any name (``data/v9.2/{name}``) belongs to a function whose name sorts after every route it
would otherwise shadow: tests/deploy/test_routes.py checks that each route is reached.
The endpoints' docstrings say what each does; ``api.openapi.ROUTES`` documents them, and a test
checks that the two tables list the same routes and methods.
"""

import azure.functions as func

from ..api import batch, catalog, charts, endpoints, entitydefinitions, resources, web, webhooks
from ..settings import http_auth_anonymous

# A function key on every route, unless App Service Authentication checks every caller instead (settings); the
# FunctionApp's http_auth_level is what the routes get (function_app.py), the blueprint's says the same.
API_AUTH_LEVEL = func.AuthLevel.ANONYMOUS if http_auth_anonymous() else func.AuthLevel.FUNCTION
bp = func.Blueprint(http_auth_level=API_AUTH_LEVEL)

HTTP_FUNCTIONS = (  # (function name, route, methods, endpoint)
    ("submit_webapi", "data/v9.2/{name}", ("POST",), endpoints.submit_webapi),
    ("webapi_function", "data/v9.2/{name}", ("GET",), endpoints.call_function),
    ("webapi_bound_operation", "data/v9.2/{entityset}({id})/{operation}", ("GET", "POST"), endpoints.call_bound),
    ("submit_operations", "operations/{name}", ("POST",), endpoints.submit_webapi),
    ("operations_catalog", "operations", ("GET",), catalog.list_definitions),
    ("operation_definition", "operations/{name}", ("GET",), catalog.get_definition),
    ("openapi", "openapi.json", ("GET",), catalog.openapi_document),
    ("execute_background_operation", "ExecuteBackgroundOperation", ("POST",),
     endpoints.execute_background_operation),
    ("execute_async", "ExecuteAsync", ("POST",), endpoints.execute_async),
    ("execute_multiple", "ExecuteMultiple", ("POST",), endpoints.execute_multiple),
    ("status_monitor", "backgroundoperation/{id}", ("GET", "DELETE"), endpoints.status_monitor),
    ("service_document", "data/v9.2", ("GET",), resources.service_document),
    ("batch", "data/v9.2/$batch", ("POST",), batch.execute_batch),
    ("metadata", "data/v9.2/$metadata", ("GET",), resources.metadata_document),
    ("entity_webapi", "data/v9.2/backgroundoperations({id})", ("GET", "PATCH"), resources.entity),
    ("entity", "backgroundoperations/{id}", ("GET", "PATCH"), resources.entity),
    ("list_webapi", "data/v9.2/backgroundoperations", ("GET",), resources.list_operations),
    ("list", "backgroundoperations", ("GET",), resources.list_operations),
    ("count_webapi", "data/v9.2/backgroundoperations/$count", ("GET",), resources.count_operations),
    ("count_system_jobs", "data/v9.2/asyncoperations/$count", ("GET",), resources.count_system_jobs),
    ("system_job", "data/v9.2/asyncoperations({id})", ("GET", "PATCH"), resources.system_job),
    ("system_jobs", "data/v9.2/asyncoperations", ("GET",), resources.list_system_jobs),
    ("entity_definitions", "data/v9.2/EntityDefinitions", ("GET", "POST"), entitydefinitions.definitions),
    ("entity_definition", "data/v9.2/EntityDefinitions({key})", ("GET", "PATCH", "PUT", "DELETE"),
     entitydefinitions.definition),
    ("entity_attributes", "data/v9.2/EntityDefinitions({key})/Attributes", ("GET", "POST"),
     entitydefinitions.attributes),
    ("entity_attributes_of_type", "data/v9.2/EntityDefinitions({key})/Attributes/{cast}", ("GET",),
     entitydefinitions.attributes_of_type),
    ("subscribe", "webhooks/{event}", ("POST",), webhooks.subscribe),
    ("subscriptions", "webhooks", ("GET",), webhooks.list_subscriptions),
    ("subscription", "webhooks/{id}", ("GET", "DELETE"), webhooks.subscription),
    ("throughput", "throughput", ("GET",), charts.throughput),
)

for _name, _route, _methods, _endpoint in HTTP_FUNCTIONS:
    bp.function_name(_name)(bp.route(route=_route, methods=list(_methods))(_endpoint))

# Anonymous, for load balancers and uptime probes: 200 when the table and the queue answer.
bp.function_name("health")(bp.route(route="health", methods=["GET"],
                                    auth_level=func.AuthLevel.ANONYMOUS)(endpoints.health))

# Anonymous too: the System Jobs page and its two files hold no data (the page reads the API with the
# operator's own key or sign-in).
bp.function_name("system_jobs_page")(bp.route(route="systemjobs", methods=["GET"],
                                              auth_level=func.AuthLevel.ANONYMOUS)(web.page))
bp.function_name("system_jobs_asset")(bp.route(route="systemjobs/{file}", methods=["GET"],
                                               auth_level=func.AuthLevel.ANONYMOUS)(web.asset))
