"""HTTP-triggered functions (SPEC §3): routes bound to the endpoints in ``api.endpoints``."""

import azure.functions as func

from ..api import catalog, endpoints, resources, webhooks

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("submit_webapi")
@bp.route(route="data/v9.2/{name}", methods=["POST"])
def submit_webapi(req: func.HttpRequest) -> func.HttpResponse:
    """Dataverse Web API form: run operation {name}, in the background with Prefer: respond-async."""
    return endpoints.submit_webapi(req)


@bp.function_name("submit_operations")
@bp.route(route="operations/{name}", methods=["POST"])
def submit_operations(req: func.HttpRequest) -> func.HttpResponse:
    """Alias of the Web API form."""
    return endpoints.submit_webapi(req)


@bp.function_name("operations_catalog")
@bp.route(route="operations", methods=["GET"])
def operations_catalog(req: func.HttpRequest) -> func.HttpResponse:
    """The operations catalog: every registered operation with its parameters."""
    return catalog.list_definitions(req)


@bp.function_name("operation_definition")
@bp.route(route="operations/{name}", methods=["GET"])
def operation_definition(req: func.HttpRequest) -> func.HttpResponse:
    """One operation of the catalog, with the JSON Schema of its inputs."""
    return catalog.get_definition(req)


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 2.0 document a Power Platform custom connector imports."""
    return catalog.openapi_document(req)


@bp.function_name("execute_background_operation")
@bp.route(route="ExecuteBackgroundOperation", methods=["POST"])
def execute_background_operation(req: func.HttpRequest) -> func.HttpResponse:
    """The SDK message: run Request.RequestName in the background."""
    return endpoints.execute_background_operation(req)


@bp.function_name("status_monitor")
@bp.route(route="backgroundoperation/{id}", methods=["GET", "DELETE"])
def status_monitor(req: func.HttpRequest) -> func.HttpResponse:
    """Where Location points: GET the status (202 until finished), DELETE to cancel (If-Match honoured)."""
    return endpoints.status_monitor(req)


@bp.function_name("service_document")
@bp.route(route="data/v9.2", methods=["GET"])
def service_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OData service document: the entity sets (one) and where $metadata is."""
    return resources.service_document(req)


@bp.function_name("metadata")
@bp.route(route="data/v9.2/$metadata", methods=["GET"])
def metadata(req: func.HttpRequest) -> func.HttpResponse:
    """The CSDL $metadata document that OData clients read first."""
    return resources.metadata_document(req)


@bp.function_name("entity_webapi")
@bp.route(route="data/v9.2/backgroundoperations({id})", methods=["GET", "PATCH"])
def entity_webapi(req: func.HttpRequest) -> func.HttpResponse:
    """The operation's row (GET, with $select) and its state changes (PATCH)."""
    return resources.entity(req)


@bp.function_name("entity")
@bp.route(route="backgroundoperations/{id}", methods=["GET", "PATCH"])
def entity(req: func.HttpRequest) -> func.HttpResponse:
    """Alias of the row route."""
    return resources.entity(req)


@bp.function_name("list_webapi")
@bp.route(route="data/v9.2/backgroundoperations", methods=["GET"])
def list_webapi(req: func.HttpRequest) -> func.HttpResponse:
    """Rows newest first, with $filter, $select, $top and @odata.nextLink."""
    return resources.list_operations(req)


@bp.function_name("list")
@bp.route(route="backgroundoperations", methods=["GET"])
def list_operations(req: func.HttpRequest) -> func.HttpResponse:
    """Alias of the list route."""
    return resources.list_operations(req)


@bp.function_name("subscribe")
@bp.route(route="webhooks/{event}", methods=["POST"])
def subscribe(req: func.HttpRequest) -> func.HttpResponse:
    """Subscribe a notification URL to OnBackgroundOperationComplete (201 with Location)."""
    return webhooks.subscribe(req)


@bp.function_name("subscriptions")
@bp.route(route="webhooks", methods=["GET"])
def subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    """Every event subscription, notification URLs masked."""
    return webhooks.list_subscriptions(req)


@bp.function_name("subscription")
@bp.route(route="webhooks/{id}", methods=["GET", "DELETE"])
def subscription(req: func.HttpRequest) -> func.HttpResponse:
    """One subscription (GET), or unsubscribe (DELETE, 204)."""
    return webhooks.subscription(req)


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """200 when the table and the queue answer, 503 with the reason otherwise (anonymous)."""
    return endpoints.health(req)
