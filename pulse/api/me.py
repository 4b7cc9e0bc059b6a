"""The caller's own side: their open check-ins, and their API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import PulseApi
from pulse.api.errors import error_responses
from pulse.permissions import checkins_of
from pulse.selectors.api_tokens import api_tokens_of
from pulse.services.api_tokens import api_token_create, api_token_revoke


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


class TokenOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(
        help_text="The token's first characters, to tell tokens apart (not a secret)."
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To within five minutes.")

    class Meta:
        ref_name = "ApiTokenInfo"


class TokenListApi(PulseApi):
    """The caller's unrevoked API tokens, expired ones included; never a token itself (only its hash is
    stored)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_tokens_list",
        summary="The caller's API tokens",
        responses={200: TokenOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(api_tokens_of(user=request.user), TokenOutputSerializer)


class TokenCreateApi(PulseApi):
    """A new API token for the signed-in user, with a name and an expiry. The token is in this answer only."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100, help_text="What the token is for.")
        expires_in_days = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=settings.PULSE_API_TOKEN_MAX_DAYS,
            help_text=f"Default {settings.PULSE_API_TOKEN_DAYS} (PULSE_API_TOKEN_DAYS), at most "
            f"{settings.PULSE_API_TOKEN_MAX_DAYS} (PULSE_API_TOKEN_MAX_DAYS).",
        )

    class OutputSerializer(TokenOutputSerializer):
        token = serializers.CharField(help_text='Send it as "Authorization: Token <token>". Shown only now.')

        class Meta:
            ref_name = "ApiTokenCreated"

    @extend_schema(
        operation_id="me_tokens_create",
        summary="Create an API token for the caller",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = api_token_create(
            user=request.user,
            name=serializer.validated_data["name"],
            expires_in_days=serializer.validated_data.get("expires_in_days"),
        )
        token.token = key  # type: ignore[attr-defined]  # the answer's one extra field
        return Response(self.OutputSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenRevokeApi(PulseApi):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_tokens_revoke",
        summary="Revoke one of the caller's API tokens (it stops working at once)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        if not api_token_revoke(user=request.user, token_id=pk):
            raise Http404("Not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)
