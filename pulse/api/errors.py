"""One error format for the whole API.

* 400: ``{"errors": {field: [message, ...]}}``. Nested fields are flattened to paths the way the
  instrument services name them (``questions[2].options``); errors of the request as a whole are under
  ``non_field_errors``. Django ``ValidationError`` raised by a service is reported the same way.
* any other error status: ``{"detail": message}``.

A 401 carries ``WWW-Authenticate: Token`` (token authentication is tried first), so a script that forgot
its token is told so instead of getting a bare 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"a.b[2].c": ["message"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys the errors of list items by their index
                here = f"{prefix}[{key}]"
            elif key in (NON_FIELD_ERRORS, NON_FIELD):
                here = prefix or NON_FIELD
            else:
                here = f"{prefix}.{key}" if prefix else str(key)
            for path, messages in flatten(value, here).items():
                out.setdefault(path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                out.setdefault(prefix or NON_FIELD, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if isinstance(item, dict | list):
                    out.update(flatten(item, f"{prefix}[{index}]"))
                elif item:
                    out.setdefault(f"{prefix}[{index}]", []).append(str(item))
    else:
        out.setdefault(prefix or NON_FIELD, []).append(str(detail))
    return out


def validation_error(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(detail=error.message_dict)
    return exceptions.ValidationError(detail={NON_FIELD: error.messages})


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "body_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = validation_error(exc)
    if isinstance(exc, RequestDataTooBig):  # Django's limit, raised when DRF reads the body
        exc = BodyTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: a 500, logged by Django
    if response.status_code == 400 and isinstance(exc, exceptions.APIException):
        response.data = {"errors": flatten(exc.detail)}
    else:
        data = response.data
        detail = data.get("detail", data) if isinstance(data, dict) else data
        response.data = {"detail": str(detail)}
    return response


# --- schema components ----------------------------------------------------------------------------------


class ErrorsSerializer(serializers.Serializer[Any]):
    errors = serializers.DictField(  # type: ignore[assignment]  # DRF pops declared fields off the class
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; nested fields as paths like questions[2].options.",
    )

    class Meta:
        ref_name = "ValidationErrors"


class DetailSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()

    class Meta:
        ref_name = "ErrorDetail"


def error_responses(*codes: int) -> dict[int, type[serializers.Serializer[Any]]]:
    """Documented error responses for ``extend_schema(responses=...)``."""
    return {code: ErrorsSerializer if code == 400 else DetailSerializer for code in codes}


# --- errors Django raises before any API view runs ------------------------------------------------------


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: a path under /api/ that matches no route answers in the API's format, not HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


@csrf_exempt
def api_path_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """The last route under /api/: any path no API route matched, whatever the method, answers the API's
    JSON 404, also with DEBUG on (where Django would otherwise show its HTML debug page)."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the same for an unexpected error, so API clients can always parse the answer."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


def document_media_type_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation that takes a body may answer 415 (a content
    type no parser accepts), and every paginated list 404 (a cursor that is not one of its pages), in the
    ``{"detail": ...}`` format."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and any(
                parameter.get("name") == "cursor" for parameter in operation.get("parameters", [])
            ):
                operation.setdefault("responses", {}).setdefault(
                    "404",
                    {
                        "description": "Not found (or not a cursor of this list)",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}
                        },
                    },
                )
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault(
                    "415",
                    {
                        "description": "Unsupported media type",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}
                        },
                    },
                )
    return result
