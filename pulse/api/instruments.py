"""The instrument library: browse (citations, licences, missing translations) and create custom ones.

The default library is shared and locked; an organisation's custom instruments are visible to it alone.
Creating one goes through ``surveys.services.instruments.instrument_create``, which checks the whole
definition with the same rules as the Django admin and reports errors per path (``questions[2].options``).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.permissions import Caller, instruments_visible_to
from surveys.definitions import (
    CHOICE,
    CUTOFF,
    CUTOFF_WORDS,
    DIRECTIONS,
    DISPLAY_RANGES,
    KINDS,
    METHODS,
    OPERATORS,
    BandDef,
    InstrumentDef,
    OptionDef,
    QuestionDef,
    ScaleDef,
    display_scale,
    format_number,
    to_fraction,
)
from surveys.models import Instrument
from surveys.services.instruments import instrument_create

# Exact decimals only, and small enough that turning them into fractions costs nothing ("1e999999" would).
DECIMAL = re.compile(r"^-?\d{1,9}(\.\d{1,6})?$")


def texts(**kwargs: Any) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        help_text=kwargs.pop("help_text", 'Text per language code, e.g. {"en": ..., "de": ...}.'),
        **kwargs,
    )


def decimal_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(
        DECIMAL, max_length=20, help_text='A decimal number as text, e.g. "4".', **kwargs
    )


# --- output ---------------------------------------------------------------------------------------------


class OptionOutputSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField()
    label = texts()  # type: ignore[assignment]  # a field, not Field.label

    class Meta:
        ref_name = "Option"


class QuestionOutputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    order = serializers.IntegerField()
    text = texts()
    kind = serializers.ChoiceField(choices=KINDS)
    options = OptionOutputSerializer(many=True)
    reversed = serializers.BooleanField()
    optional = serializers.BooleanField()

    class Meta:
        ref_name = "Question"


class BandOutputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    op = serializers.ChoiceField(choices=OPERATORS)
    threshold = serializers.CharField(help_text="Exact, as a decimal (or p/q) string.")

    class Meta:
        ref_name = "Band"


class ScaleOutputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField())
    method = serializers.ChoiceField(choices=METHODS)
    factor = serializers.CharField()
    min_answered = serializers.IntegerField(allow_null=True)
    bands = BandOutputSerializer(many=True)
    note = serializers.CharField(allow_blank=True)
    direction = serializers.ChoiceField(choices=DIRECTIONS, allow_blank=True)
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field, not Field.label
    practical_change = serializers.CharField(allow_null=True)
    cutoff_word = serializers.ChoiceField(choices=CUTOFF_WORDS)
    display_scale = serializers.ChoiceField(
        choices=list(DISPLAY_RANGES),
        allow_null=True,
        help_text="The range reports show it on; null: not reported (no direction).",
    )

    class Meta:
        ref_name = "Scale"


class InstrumentOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    key = serializers.CharField()
    version = serializers.IntegerField()
    name = serializers.CharField()
    citation = serializers.CharField(allow_blank=True)
    licence = serializers.CharField()
    recall_period_days = serializers.IntegerField()
    validated = serializers.BooleanField(help_text="A published, validated instrument (never a custom one).")
    default_library = serializers.BooleanField(source="is_default_library")
    custom = serializers.SerializerMethodField(help_text="Owned by the caller's organisation.")
    locked = serializers.BooleanField(source="is_locked", help_text="Wording can no longer change in place.")
    missing_translations = serializers.SerializerMethodField()
    short_name = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "Instrument"

    def get_custom(self, instrument: Instrument) -> bool:
        return instrument.organisation_id is not None

    @extend_schema_field(serializers.DictField(child=serializers.ListField(child=serializers.CharField())))
    def get_missing_translations(self, instrument: Instrument) -> dict[str, list[str]]:
        return instrument.missing_translations()


class InstrumentDetailOutputSerializer(InstrumentOutputSerializer):
    stem = texts()
    translation_sources = texts()
    notes = serializers.CharField(allow_blank=True)
    questions = serializers.SerializerMethodField()
    scales = serializers.SerializerMethodField()

    class Meta:
        ref_name = "InstrumentDetail"

    @extend_schema_field(QuestionOutputSerializer(many=True))
    def get_questions(self, instrument: Instrument) -> list[dict[str, Any]]:
        return [
            {
                "key": question.key,
                "order": question.order,
                "text": dict(question.text),
                "kind": question.kind,
                "options": [
                    {"value": option.value, "label": dict(option.label)} for option in question.options
                ],
                "reversed": question.reversed,
                "optional": question.optional,
            }
            for question in instrument.definition().questions
        ]

    @extend_schema_field(ScaleOutputSerializer(many=True))
    def get_scales(self, instrument: Instrument) -> list[dict[str, Any]]:
        definition = instrument.definition()
        questions = {question.key: question for question in definition.questions}
        return [
            {
                "key": scale.key,
                "name": scale.name,
                "items": list(scale.items),
                "method": scale.method,
                "factor": format_number(scale.factor),
                "min_answered": scale.min_answered,
                "bands": [
                    {"name": band.name, "op": band.op, "threshold": format_number(band.threshold)}
                    for band in scale.bands
                ],
                "note": scale.note,
                "direction": scale.direction,
                "label": scale.label,
                "practical_change": (
                    format_number(scale.practical_change) if scale.practical_change is not None else None
                ),
                "cutoff_word": scale.cutoff_word,
                "display_scale": display_scale(scale, questions) if scale.direction else None,
            }
            for scale in definition.scales
        ]


def _scoped(caller: Caller) -> QuerySet[Instrument]:
    return instruments_visible_to(caller).prefetch_related("questions", "scales")


# --- views ----------------------------------------------------------------------------------------------


class InstrumentListApi(PulseApi):
    class FilterSerializer(serializers.Serializer[Any]):
        key = serializers.CharField(required=False, max_length=50)
        custom = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: only your own instruments."
        )

        class Meta:
            ref_name = "InstrumentFilter"

    @extend_schema(
        operation_id="instruments_list",
        summary="The instrument library and the organisation's custom instruments",
        parameters=[FilterSerializer],
        responses={200: InstrumentOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        instruments = _scoped(self.caller)
        if filters.validated_data.get("key"):
            instruments = instruments.filter(key=filters.validated_data["key"])
        if filters.validated_data.get("custom") is not None:
            instruments = instruments.filter(organisation__isnull=not filters.validated_data["custom"])
        return self.paginated(instruments, InstrumentOutputSerializer)


class InstrumentDetailApi(PulseApi):
    @extend_schema(
        operation_id="instruments_retrieve",
        summary="One instrument version: questions, scales, citation, licence, missing translations",
        responses={200: InstrumentDetailOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(InstrumentDetailOutputSerializer(self.object_or_404(_scoped(self.caller), pk)).data)


class OptionInputSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000)
    label = texts()  # type: ignore[assignment]  # a field, not Field.label

    class Meta:
        ref_name = "OptionInput"


class QuestionInputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=50)
    order = serializers.IntegerField(min_value=0, max_value=1000)
    text = texts()
    kind = serializers.ChoiceField(choices=KINDS, default=CHOICE)
    options = OptionInputSerializer(many=True, required=False, max_length=100)  # type: ignore[call-arg]
    reversed = serializers.BooleanField(default=False)
    optional = serializers.BooleanField(default=False)

    class Meta:
        ref_name = "QuestionInput"


class BandInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    op = serializers.ChoiceField(choices=OPERATORS)
    threshold = decimal_field()

    class Meta:
        ref_name = "BandInput"


class ScaleInputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=200)
    items = serializers.ListField(child=serializers.CharField(max_length=50), max_length=100)
    method = serializers.ChoiceField(choices=METHODS)
    factor = decimal_field(required=False, default="1")
    min_answered = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    bands = BandInputSerializer(many=True, required=False, max_length=20)  # type: ignore[call-arg]
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    direction = serializers.ChoiceField(
        choices=DIRECTIONS,
        required=False,
        allow_blank=True,
        default="",
        help_text="Which way the score is read; empty: the scale is counted but no report shows it.",
    )
    label = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.label
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        trim_whitespace=False,
        help_text="Its name in reports and sentences; empty: the name.",
    )
    practical_change = decimal_field(required=False, allow_null=True, default=None)
    cutoff_word = serializers.ChoiceField(choices=CUTOFF_WORDS, required=False, default=CUTOFF)

    class Meta:
        ref_name = "ScaleInput"


class InstrumentCreateApi(PulseApi):
    """A custom instrument of the organisation, version 1, never marked validated."""

    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        key = serializers.CharField(max_length=50)
        name = serializers.CharField(max_length=200)
        citation = serializers.CharField(required=False, allow_blank=True, max_length=4000)
        licence = serializers.CharField(max_length=2000)
        recall_period_days = serializers.IntegerField(min_value=0, max_value=366, default=7)
        stem = texts(required=False)
        translation_sources = texts(required=False)
        notes = serializers.CharField(required=False, allow_blank=True, max_length=4000)
        short_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
        questions = QuestionInputSerializer(many=True, max_length=200)  # type: ignore[call-arg]
        scales = ScaleInputSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]

        class Meta:
            ref_name = "InstrumentCreate"

    @extend_schema(
        operation_id="instruments_create",
        summary="Create a custom instrument for the organisation (admins)",
        request=InputSerializer,
        responses={201: InstrumentDetailOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instrument = instrument_create(
            definition=definition_from(serializer.validated_data), organisation=self.caller.organisation
        )
        fresh = _scoped(self.caller).get(pk=instrument.pk)
        return Response(InstrumentDetailOutputSerializer(fresh).data, status=status.HTTP_201_CREATED)


def definition_from(data: dict[str, Any]) -> InstrumentDef:
    """The pure definition from validated input (the service checks the rules)."""
    return InstrumentDef(
        key=data["key"],
        version=1,
        name=data["name"],
        citation=data.get("citation", ""),
        licence=data["licence"],
        recall_period_days=data["recall_period_days"],
        validated=False,
        questions=tuple(
            QuestionDef(
                key=question["key"],
                order=question["order"],
                text=question["text"],
                kind=question["kind"],
                options=tuple(
                    OptionDef(value=option["value"], label=option["label"])
                    for option in question.get("options", [])
                ),
                reversed=question["reversed"],
                optional=question["optional"],
            )
            for question in data["questions"]
        ),
        scales=tuple(
            ScaleDef(
                key=scale["key"],
                name=scale["name"],
                items=tuple(scale["items"]),
                method=scale["method"],
                factor=to_fraction(scale["factor"]),
                min_answered=scale.get("min_answered"),
                bands=tuple(
                    BandDef(name=band["name"], op=band["op"], threshold=to_fraction(band["threshold"]))
                    for band in scale.get("bands", [])
                ),
                note=scale.get("note", ""),
                direction=scale.get("direction", ""),
                label=scale.get("label", ""),
                practical_change=(
                    to_fraction(scale["practical_change"])
                    if scale.get("practical_change") is not None
                    else None
                ),
                cutoff_word=scale.get("cutoff_word", CUTOFF),
            )
            for scale in data.get("scales", [])
        ),
        stem=data.get("stem", {}),
        translation_sources=data.get("translation_sources", {}),
        notes=data.get("notes", ""),
        short_name=data.get("short_name", ""),
    )
