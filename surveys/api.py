"""The check-in API: the same submission as the web form, for Slack and other clients.

The token travels in the body, never in the URL, so it cannot reach an access log.
"""

from __future__ import annotations

import math
from typing import Any, cast

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from surveys.services.answering import AnswersInvalid, SubmitRefused, response_submit

TOKEN_MAX_CHARS = 100


def well_formed(data: Any) -> tuple[str, dict[str, Any]] | None:
    """``(token, answers)`` when ``InputSerializer`` would accept ``data`` and hand it back unchanged, else
    None (then the serializer runs and words the errors).

    The check-in API is the hot path measured by ``pulse_bench submit``, and building and running the DRF
    serializer was about a tenth of a submission's CPU. This is the serializer's acceptance, made stricter:
    exactly the two fields; a token that is a printable ASCII string with nothing for ``CharField`` to strip
    or refuse (blank, surrounding whitespace, over 100 characters); answers that are an object whose values
    are strings, whole numbers, booleans or finite numbers (``JSONField`` refuses null and a number too large
    for a float, and returns the rest unchanged). Anything else, including what the serializer accepts after
    converting it (a number as the token) or nested values, takes the serializer's path, so the answer and
    its errors are the serializer's. tests/surveys/test_checkin_api_body.py checks that the two agree.
    """
    if type(data) is not dict or data.keys() != {"token", "answers"}:
        return None
    token, answers = data["token"], data["answers"]
    if type(token) is not str or not 0 < len(token) <= TOKEN_MAX_CHARS or token != token.strip():
        return None
    if not (token.isascii() and token.isprintable()) or type(answers) is not dict:
        return None
    for value in answers.values():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return None
        elif kind is not str and kind is not int and kind is not bool:
            return None
    return token, answers


class CheckinSubmitApi(APIView):
    """Submit a check-in with the token from the invitation link."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # JSON only, through the project's JSON parser (its depth limit): the no-script form posts to the
    # check-in page, not here, and a form encoding cannot say whether "1" is a number or text.
    # (The settings hold the classes themselves once DRF has imported them; its stubs say strings.)
    parser_classes: list[type[BaseParser]] = [
        parser
        for parser in cast("list[type[BaseParser]]", api_settings.DEFAULT_PARSER_CLASSES)
        if parser.media_type == "application/json"
    ]

    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=TOKEN_MAX_CHARS)
        answers = serializers.DictField(child=serializers.JSONField(), allow_empty=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(dict.fromkeys(sorted(unknown), gettext("Unknown field.")))
            return attrs

    @extend_schema(
        # Written out: the schema says, as the serializer enforces, that no other field is accepted.
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": TOKEN_MAX_CHARS},
                    "answers": {
                        "type": "object",
                        "description": "Question key to its answer: an option's value, or a comment's text.",
                        "additionalProperties": {
                            "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
                        },
                    },
                },
                "required": ["token", "answers"],
                "additionalProperties": False,
            }
        },
        responses={
            201: inline_serializer("CheckinAccepted", {"status": serializers.CharField()}),
            400: inline_serializer("CheckinErrors", {"errors": serializers.DictField()}),
            404: inline_serializer("CheckinNotFound", {"detail": serializers.CharField()}),
            410: inline_serializer("CheckinGone", {"detail": serializers.CharField()}),
        },
    )
    def post(self, request: Request) -> Response:
        body = well_formed(request.data)
        if body is None:
            # Only a body that may be malformed pays for the serializer, which words the errors.
            serializer = self.InputSerializer(data=request.data)
            if not serializer.is_valid():
                return Response({"errors": serializer.errors}, status=status.HTTP_400_BAD_REQUEST)
            body = serializer.validated_data["token"], serializer.validated_data["answers"]
        token, answers = body
        try:
            response_submit(token=token, answers=answers)
        except SubmitRefused as refused:
            return Response({"detail": refused.reason}, status=refused.status)
        except AnswersInvalid as invalid:
            return Response({"errors": {"answers": invalid.errors}}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"status": "accepted"}, status=status.HTTP_201_CREATED)
