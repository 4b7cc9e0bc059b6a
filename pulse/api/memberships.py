"""Memberships (admins only): who belongs to which team, as member or leader, from when to when."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.api.fields import ScopedIdField, id_field
from pulse.permissions import Caller, memberships_visible_to
from surveys.models import Membership, Person, Team
from surveys.services.organisation import membership_create, membership_end


class MembershipOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    person = serializers.IntegerField(source="person_id")
    person_name = serializers.CharField(source="person.display_name")
    team = serializers.IntegerField(source="team_id")
    team_name = serializers.CharField(source="team.name")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True, help_text="First day no longer in the team.")

    class Meta:
        ref_name = "Membership"


def own_teams(caller: Caller) -> Any:
    return Team.objects.filter(organisation_id=caller.organisation_id)


def own_people(caller: Caller) -> Any:
    return Person.objects.filter(organisation_id=caller.organisation_id)


def _scoped(caller: Caller) -> Any:
    return memberships_visible_to(caller).select_related("person", "team")


class MembershipListApi(PulseApi):
    permission_classes = [IsAdmin]

    class FilterSerializer(serializers.Serializer[Any]):
        team = id_field(required=False)
        person = id_field(required=False)
        role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
        current = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: only memberships valid today."
        )

        class Meta:
            ref_name = "MembershipFilter"

    @extend_schema(
        operation_id="memberships_list",
        summary="Memberships (admins)",
        parameters=[FilterSerializer],
        responses={200: MembershipOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        memberships = _scoped(self.caller)
        for name in ("team", "person", "role"):
            if name in wanted:
                memberships = memberships.filter(**{name: wanted[name]})
        if wanted.get("current") is True:
            memberships = memberships.filter(pk__in=Membership.objects.current().values("pk"))
        elif wanted.get("current") is False:
            memberships = memberships.exclude(pk__in=Membership.objects.current().values("pk"))
        return self.paginated(memberships, MembershipOutputSerializer)


class MembershipCreateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        person = ScopedIdField(scope=own_people)
        team = ScopedIdField(scope=own_teams)
        role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)
        starts_on = serializers.DateField(required=False, help_text="Default: today.")

        class Meta:
            ref_name = "MembershipCreate"

    @extend_schema(
        operation_id="memberships_create",
        summary="Add a person to a team as member or leader (admins)",
        request=InputSerializer,
        responses={201: MembershipOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        membership = membership_create(**serializer.validated_data)
        return Response(MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipEndApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        ends_on = serializers.DateField(
            required=False, help_text="First day no longer in the team; default today."
        )

        class Meta:
            ref_name = "MembershipEnd"

    @extend_schema(
        operation_id="memberships_end",
        summary="End a membership (admins)",
        description="204 when the membership had not started by then: it is removed instead.",
        request=InputSerializer,
        responses={200: MembershipOutputSerializer, 204: None, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        membership = self.object_or_404(_scoped(self.caller), pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ended = membership_end(membership=membership, ends_on=serializer.validated_data.get("ends_on"))
        if ended is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(MembershipOutputSerializer(ended).data)
