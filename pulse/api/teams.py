"""Teams: a tree. Admins see and edit every team of the organisation, leaders read the subtrees they lead."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.api.fields import ScopedIdField, id_field
from pulse.api.pagination import TreeCursor
from pulse.permissions import Caller, teams_visible_to
from surveys.models import Team
from surveys.services.organisation import team_create, team_update
from surveys.validators import validate_time_zone


class TeamOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)  # type: ignore[assignment]
    path = serializers.ListField(
        child=serializers.IntegerField(),
        source="path_ids",
        help_text="Ids from the top of the tree down to this team (itself included).",
    )
    depth = serializers.IntegerField(help_text="0 for a top-level team.")
    time_zone = serializers.CharField(help_text="Empty: the organisation's time zone.")
    effective_time_zone = serializers.CharField()

    class Meta:
        ref_name = "Team"


def _with_path_ids(team: Team) -> Team:
    team.path_ids = [*team.ancestor_ids, team.pk]  # type: ignore[attr-defined]
    return team


def own_teams(caller: Caller) -> Any:
    return Team.objects.filter(organisation_id=caller.organisation_id).select_related("organisation")


class TeamListApi(PulseApi):
    pagination_class = TreeCursor

    class FilterSerializer(serializers.Serializer[Any]):
        parent = id_field(  # type: ignore[assignment]  # a field, not Field.parent
            required=False, help_text="Only the direct children of this team."
        )
        under = id_field(required=False, help_text="This team and every team below it.")
        top = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: only top-level teams."
        )

        class Meta:
            ref_name = "TeamFilter"

    @extend_schema(
        operation_id="teams_list",
        summary="Teams the caller sees, in tree order",
        parameters=[FilterSerializer],
        responses={200: TeamOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        teams = teams_visible_to(self.caller).select_related("organisation")
        if "parent" in filters.validated_data:
            teams = teams.filter(parent_id=filters.validated_data["parent"])
        if "under" in filters.validated_data:
            root = teams.filter(pk=filters.validated_data["under"]).first()
            teams = teams.filter(path__startswith=root.path) if root is not None else teams.none()
        if filters.validated_data.get("top") is not None:
            teams = teams.filter(parent__isnull=filters.validated_data["top"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(teams, request, view=self)
        data = TeamOutputSerializer([_with_path_ids(team) for team in page or []], many=True).data
        return paginator.get_paginated_response(data)


class TeamDetailApi(PulseApi):
    @extend_schema(
        operation_id="teams_retrieve",
        summary="One team",
        responses={200: TeamOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        team = self.object_or_404(teams_visible_to(self.caller).select_related("organisation"), pk)
        return Response(TeamOutputSerializer(_with_path_ids(team)).data)


class TeamCreateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200)
        slug = serializers.SlugField(max_length=100, required=False, help_text="Default: from the name.")
        parent = ScopedIdField(  # type: ignore[assignment]
            scope=own_teams, required=False, allow_null=True, help_text="Empty: a top-level team."
        )
        time_zone = serializers.CharField(
            max_length=64, required=False, allow_blank=True, validators=[validate_time_zone]
        )

        class Meta:
            ref_name = "TeamCreate"

    @extend_schema(
        operation_id="teams_create",
        summary="Create a team (admins)",
        request=InputSerializer,
        responses={201: TeamOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        team = team_create(organisation=self.caller.organisation, **serializer.validated_data)
        return Response(TeamOutputSerializer(_with_path_ids(team)).data, status=status.HTTP_201_CREATED)


class TeamUpdateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200, required=False)
        slug = serializers.SlugField(max_length=100, required=False)
        parent = ScopedIdField(  # type: ignore[assignment]
            scope=own_teams,
            required=False,
            allow_null=True,
            help_text="Move the team (and its subtree) under another.",
        )
        time_zone = serializers.CharField(
            max_length=64, required=False, allow_blank=True, validators=[validate_time_zone]
        )

        class Meta:
            ref_name = "TeamUpdate"

    @extend_schema(
        operation_id="teams_update",
        summary="Rename or move a team (admins); moving a team under its own subtree is refused",
        request=InputSerializer,
        responses={200: TeamOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        team = self.object_or_404(teams_visible_to(self.caller).select_related("organisation"), pk)
        serializer = self.InputSerializer(data=request.data, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        team = team_update(team=team, changes=serializer.validated_data)
        return Response(TeamOutputSerializer(_with_path_ids(team)).data)
