"""The organisation's settings: name, minimum group size k, time zone, locale, and which of password and
email-link sign-in its people may use (beside single sign-on, docs/operations.md §14)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi
from pulse.api.errors import error_responses
from surveys.services.organisation import organisation_update
from surveys.validators import validate_time_zone


class OrganisationOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    min_group_size = serializers.IntegerField(help_text="k: fewest respondents a result is shown for.")
    time_zone = serializers.CharField()
    locale = serializers.CharField()
    password_sign_in = serializers.BooleanField(help_text="People may sign in with a password.")
    email_link_sign_in = serializers.BooleanField(help_text="People may sign in by a link sent by email.")
    single_sign_on = serializers.BooleanField(
        read_only=True, help_text="The installation's OpenID provider signs this organisation's people in."
    )

    class Meta:
        ref_name = "Organisation"


class OrganisationDetailApi(PulseApi):
    @extend_schema(
        operation_id="organisation_retrieve",
        summary="The caller's organisation",
        responses={200: OrganisationOutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(OrganisationOutputSerializer(self.caller.organisation).data)


class OrganisationUpdateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200, required=False)
        min_group_size = serializers.IntegerField(
            min_value=settings.PULSE_MIN_GROUP_SIZE_FLOOR, max_value=1000, required=False
        )
        time_zone = serializers.CharField(max_length=64, required=False, validators=[validate_time_zone])
        locale = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False)
        password_sign_in = serializers.BooleanField(required=False)
        email_link_sign_in = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "OrganisationUpdate"

    @extend_schema(
        operation_id="organisation_update",
        summary="Change the organisation's settings (admins)",
        request=InputSerializer,
        responses={200: OrganisationOutputSerializer, **error_responses(400, 401, 403)},
    )
    def patch(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(serializer.validated_data)
        organisation = organisation_update(organisation=self.caller.organisation, changes=changes)
        return Response(OrganisationOutputSerializer(organisation).data)
