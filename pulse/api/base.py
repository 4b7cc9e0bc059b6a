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
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from pulse.api.pagination import Cursor
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
    caller: Caller

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
        return handler(request, *args, **kwargs)

    # drf-spectacular reads the view class from ``cls``: one whose handlers are the actions' own, so each
    # operation is documented by its action's @extend_schema.
    namespace: dict[str, Any] = {method: getattr(view, method) for method, view in actions.items()}
    route.cls = type("Route", (PulseApi,), namespace)  # type: ignore[attr-defined]
    route.initkwargs = {}  # type: ignore[attr-defined]
    # CSRF is checked by DRF's SessionAuthentication for session-authenticated requests, token requests
    # need none; the middleware must therefore leave the route alone, as it does for every DRF view.
    return csrf_exempt(route)
