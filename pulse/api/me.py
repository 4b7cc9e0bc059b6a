"""The caller's own side: their open check-ins, and their API token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import PulseApi
from pulse.api.errors import error_responses
from pulse.permissions import checkins_of
from pulse.services.api_tokens import api_token_revoke, api_token_rotate


class MyCheckinListApi(PulseApi):
    """Whether the caller answered each open round: never what, and never anyone else's."""

    class OutputSerializer(serializers.Serializer[Any]):
        round = serializers.IntegerField(source="round_id")
        name = serializers.CharField(source="round.schedule.name")
        opens_at = serializers.DateTimeField(source="round.opens_at")
        closes_at = serializers.DateTimeField(source="round.closes_at")
        answered = serializers.BooleanField(source="spent")

        class Meta:
            ref_name = "MyCheckin"

    @extend_schema(
        operation_id="me_checkins_list",
        summary="The caller's open check-ins and whether they answered",
        responses={200: OutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(checkins_of(self.caller), self.OutputSerializer)


class TokenRotateApi(PulseApi):
    """A new API token for the signed-in user (the old one stops working). Shown once."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')

        class Meta:
            ref_name = "ApiToken"

    @extend_schema(
        operation_id="me_token_rotate",
        summary="Create or replace the caller's API token",
        request=None,
        responses={201: OutputSerializer, **error_responses(401, 403)},
    )
    def post(self, request: Request) -> Response:
        key = api_token_rotate(user=request.user)
        return Response(self.OutputSerializer({"token": key}).data, status=status.HTTP_201_CREATED)


class TokenRevokeApi(PulseApi):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_token_revoke",
        summary="Revoke the caller's API token",
        responses={204: None, **error_responses(401, 403)},
    )
    def delete(self, request: Request) -> Response:
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
