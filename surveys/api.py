"""The check-in API: the same submission as the web form, for Slack and other clients.

The token travels in the body, never in the URL, so it cannot reach an access log.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.services.answering import AnswersInvalid, SubmitRefused, response_submit


class CheckinSubmitApi(APIView):
    """Submit a check-in with the token from the invitation link."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=100)
        answers = serializers.DictField(child=serializers.JSONField(), allow_empty=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer("CheckinAccepted", {"status": serializers.CharField()}),
            400: inline_serializer("CheckinErrors", {"errors": serializers.DictField()}),
            404: inline_serializer("CheckinNotFound", {"detail": serializers.CharField()}),
            410: inline_serializer("CheckinGone", {"detail": serializers.CharField()}),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            return Response({"errors": serializer.errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            response_submit(
                token=serializer.validated_data["token"], answers=serializer.validated_data["answers"]
            )
        except SubmitRefused as refused:
            return Response({"detail": refused.reason}, status=refused.status)
        except AnswersInvalid as invalid:
            return Response({"errors": {"answers": invalid.errors}}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"status": "accepted"}, status=status.HTTP_201_CREATED)
