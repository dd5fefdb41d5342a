"""HTTP-triggered functions (SPEC §3): routes bound to the endpoints in ``api.endpoints``."""

import azure.functions as func

from ..api import endpoints

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("submit_webapi")
@bp.route(route="data/v9.2/{name}", methods=["POST"])
def submit_webapi(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.submit_webapi(req)


@bp.function_name("submit_operations")
@bp.route(route="operations/{name}", methods=["POST"])
def submit_operations(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.submit_webapi(req)


@bp.function_name("execute_background_operation")
@bp.route(route="ExecuteBackgroundOperation", methods=["POST"])
def execute_background_operation(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.execute_background_operation(req)


@bp.function_name("status_monitor")
@bp.route(route="backgroundoperation/{id}", methods=["GET", "DELETE"])
def status_monitor(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.status_monitor(req)


@bp.function_name("entity_webapi")
@bp.route(route="data/v9.2/backgroundoperations({id})", methods=["GET", "PATCH"])
def entity_webapi(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.entity(req)


@bp.function_name("entity")
@bp.route(route="backgroundoperations/{id}", methods=["GET", "PATCH"])
def entity(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.entity(req)


@bp.function_name("list_webapi")
@bp.route(route="data/v9.2/backgroundoperations", methods=["GET"])
def list_webapi(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.list_operations(req)


@bp.function_name("list")
@bp.route(route="backgroundoperations", methods=["GET"])
def list_operations(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.list_operations(req)


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return endpoints.health(req)
