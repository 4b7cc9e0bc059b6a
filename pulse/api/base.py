"""The pieces every API view shares: who the caller is, what their role allows, and URL routing.

``methods(get=..., post=...)`` routes one URL to one view class per HTTP method, so each action keeps its
own class (HackSoft's "one view per action") while the URLs stay RESTful (``GET /teams/``, ``POST /teams/``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from pulse.api.fields import MAX_ID
from pulse.api.pagination import Cursor
from pulse.api.parsers import BoundedJSONParser
from pulse.permissions import Caller, caller_for


class IsPerson(BasePermission):
    """Signed in as an active person of an organisation (any role)."""

    message = "Your account is not linked to an active person of an organisation."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        caller = caller_for(request.user)
        if caller is None:
            return False
        view.caller = caller  # type: ignore[attr-defined]
        return True


class IsAdmin(IsPerson):
    """Signed in as an admin of the organisation (configuration writes, people and memberships)."""

    message = "Only an admin of the organisation can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return super().has_permission(request, view) and view.caller.is_admin  # type: ignore[attr-defined]


class PulseApi(APIView):
    """Base of every Pulse API view: the caller is set by the permission check before the handler runs."""

    permission_classes: Sequence[type[BasePermission]] = [IsPerson]
    pagination_class: type[Cursor] = Cursor
    # The API speaks JSON: a form encoding cannot say null, a number or a boolean, so "null", "0" and ""
    # would be read as whatever a field makes of text (the people import also takes a multipart file).
    parser_classes: Sequence[type[BaseParser]] = [BoundedJSONParser]
    caller: Caller

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # An id past 64 bits names nothing (and would overflow the database driver): not found.
        if any(isinstance(value, int) and value > MAX_ID for value in kwargs.values()):
            raise NotFound("Not found.")
        input_serializer = getattr(self, "InputSerializer", None)
        if input_serializer is not None and type(request.data) is dict:  # JSON; a form is a QueryDict
            json_types_check(input_serializer(), request.data)

    def object_or_404(self, queryset: QuerySet[Any], pk: int) -> Any:
        """One object from a scoped queryset; ids outside the caller's scope are simply not found."""
        obj = queryset.filter(pk=pk).first()
        if obj is None:
            raise Http404("Not found.")
        return obj

    def paginated(
        self, queryset: QuerySet[Any], serializer: type[BaseSerializer[Any]], **context: Any
    ) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer(page, many=True, context=context).data
        return paginator.get_paginated_response(data)


def json_types_check(serializer: BaseSerializer[Any], data: dict[str, Any]) -> None:
    """Refuse a JSON body whose values are not of the types the schema gives them: DRF's fields read
    ``"false"`` or ``0`` as false and ``0`` as the text "0", which for a form is a kindness and for a JSON
    API a silent guess at what a client meant. Top-level fields of the action's ``InputSerializer``."""
    errors: dict[str, list[str]] = {}
    for name, field in getattr(serializer, "fields", {}).items():
        if name not in data or field.read_only:
            continue
        value = data[name]
        if value is None:
            continue  # the field itself says whether null is allowed
        if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
            errors[name] = ["Must be true or false."]
        elif isinstance(field, serializers.CharField) and not isinstance(value, str):
            errors[name] = ["Must be a string."]
        elif isinstance(field, serializers.IntegerField) and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            errors[name] = ["Must be a whole number."]
    if errors:
        raise ValidationError(errors)


def strict_query(request: Request) -> dict[str, str]:
    """The query string as plain data for a filter serializer, so an empty value (``?state=``) is refused on
    its field like any other invalid value; given a QueryDict, DRF takes an empty value for an absent one
    and the filter is silently dropped. (A repeated parameter counts once: the last.)"""
    return request.query_params.dict()


def methods(**actions: type[APIView]) -> Callable[..., HttpResponse]:
    """One URL served by one view class per HTTP method: ``methods(get=TeamListApi, post=TeamCreateApi)``."""
    handlers = {method.upper(): view.as_view() for method, view in actions.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    allowed = ", ".join(sorted({*handlers, "OPTIONS"}))

    def route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        handler = handlers.get(request.method or "")
        if handler is None and request.method == "OPTIONS":
            handler = next(iter(handlers.values()))
        if handler is None:
            response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            response["Allow"] = allowed
            return response
        answer = handler(request, *args, **kwargs)
        if request.method == "OPTIONS":
            answer["Allow"] = allowed  # the URL's methods, not only those of the view that answered
        return answer

    # drf-spectacular reads the view class from ``cls``: one whose handlers are the actions' own, so each
    # operation is documented by its action's @extend_schema.
    namespace: dict[str, Any] = {method: getattr(view, method) for method, view in actions.items()}
    route.cls = type("Route", (PulseApi,), namespace)  # type: ignore[attr-defined]
    route.initkwargs = {}  # type: ignore[attr-defined]
    # CSRF is checked by DRF's SessionAuthentication for session-authenticated requests, token requests
    # need none; the middleware must therefore leave the route alone, as it does for every DRF view.
    return csrf_exempt(route)
