"""Schedules: when a team is asked which instruments, with the next openings in local time and UTC.

Validation is the service's (``surveys.services.schedules``), field by field: time zone, window, reminders,
recall periods (docs/science.md §1.8), conflicts with other schedules.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.api.fields import BoundedDurationField, IsoDurationField, ScopedIdField, WallClockField, id_field
from pulse.permissions import Caller, instruments_visible_to, schedules_visible_to
from surveys.models import Schedule, Team
from surveys.services.schedules import schedule_build, schedule_errors, schedule_next_openings, schedule_save
from surveys.validators import validate_time_zone

PREVIEW_COUNT = 5


class OpeningSerializer(serializers.Serializer[Any]):
    local = serializers.CharField(help_text="ISO 8601 with the UTC offset of the schedule's time zone.")
    utc = serializers.DateTimeField()
    shifted = serializers.BooleanField(
        help_text="Moved forward: the local time does not exist that day (DST)."
    )
    ambiguous = serializers.BooleanField(help_text="The local time occurs twice that day; the first is used.")

    class Meta:
        ref_name = "Opening"


class PauseSerializer(serializers.Serializer[Any]):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    reason = serializers.CharField()

    class Meta:
        ref_name = "SchedulePause"


class ScheduleOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    team = serializers.IntegerField(source="team_id")
    team_name = serializers.CharField(source="team.name")
    name = serializers.CharField()
    include_subtree = serializers.BooleanField()
    instruments = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    cadence = serializers.ChoiceField(choices=Schedule.Cadence.choices)
    every_n_weeks = serializers.IntegerField()
    nth_weekday = serializers.IntegerField()
    weekday = serializers.ChoiceField(choices=Schedule.Weekday.choices)
    local_time = WallClockField()
    time_zone = serializers.CharField(help_text="Empty: the team's time zone.")
    effective_time_zone = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    open_for = IsoDurationField()
    reminder_1 = IsoDurationField(allow_null=True)
    reminder_2 = IsoDurationField(allow_null=True)
    quiet_start = WallClockField()
    quiet_end = WallClockField()
    quiet_weekends = serializers.BooleanField()
    pauses = PauseSerializer(many=True, source="pauses.all")
    next_opening_at = serializers.DateTimeField(allow_null=True)
    next_openings = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Schedule"

    def get_instruments(self, schedule: Schedule) -> list[int]:
        return sorted(instrument.pk for instrument in schedule.instruments.all())

    @extend_schema_field(OpeningSerializer(many=True))
    def get_next_openings(self, schedule: Schedule) -> list[dict[str, Any]]:
        return schedule_next_openings(schedule, count=PREVIEW_COUNT)


def _scoped(caller: Caller) -> QuerySet[Schedule]:
    return (
        schedules_visible_to(caller)
        .select_related("team__organisation")
        .prefetch_related("instruments", "pauses")
    )


def own_teams(caller: Caller) -> Any:
    return Team.objects.filter(organisation_id=caller.organisation_id).select_related("organisation")


class ScheduleInputSerializer(serializers.Serializer[Any]):
    """Every field of a schedule; on create, those with a default may be left out."""

    team = ScopedIdField(scope=own_teams)
    name = serializers.CharField(max_length=200)
    include_subtree = serializers.BooleanField(required=False)
    instruments = ScopedIdField(scope=instruments_visible_to, many=True, allow_empty=True)
    is_active = serializers.BooleanField(required=False)
    cadence = serializers.ChoiceField(choices=Schedule.Cadence.choices, required=False)
    every_n_weeks = serializers.IntegerField(min_value=1, max_value=52, required=False)
    nth_weekday = serializers.IntegerField(
        min_value=-1, max_value=4, required=False, help_text="Monthly: 1–4, or -1 for the last."
    )
    weekday = serializers.ChoiceField(choices=Schedule.Weekday.choices, required=False)
    local_time = WallClockField(required=False)
    time_zone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[validate_time_zone]
    )
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True)
    open_for = BoundedDurationField(required=False)
    reminder_1 = BoundedDurationField(required=False, allow_null=True)
    reminder_2 = BoundedDurationField(required=False, allow_null=True)
    quiet_start = WallClockField(required=False)
    quiet_end = WallClockField(required=False)
    quiet_weekends = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "ScheduleInput"


def _split(data: dict[str, Any]) -> tuple[dict[str, Any], list[Any] | None]:
    fields = dict(data)
    instruments = fields.pop("instruments", None)
    return fields, instruments


class ScheduleListApi(PulseApi):
    class FilterSerializer(serializers.Serializer[Any]):
        team = id_field(required=False)
        active = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "ScheduleFilter"

    @extend_schema(
        operation_id="schedules_list",
        summary="Schedules (admins: all; leaders: their teams')",
        parameters=[FilterSerializer],
        responses={200: ScheduleOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        schedules = _scoped(self.caller)
        if "team" in filters.validated_data:
            schedules = schedules.filter(team_id=filters.validated_data["team"])
        if filters.validated_data.get("active") is not None:
            schedules = schedules.filter(is_active=filters.validated_data["active"])
        return self.paginated(schedules, ScheduleOutputSerializer)


class ScheduleDetailApi(PulseApi):
    @extend_schema(
        operation_id="schedules_retrieve",
        summary="One schedule with its next openings",
        responses={200: ScheduleOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ScheduleOutputSerializer(self.object_or_404(_scoped(self.caller), pk)).data)


class ScheduleCreateApi(PulseApi):
    permission_classes = [IsAdmin]
    InputSerializer = ScheduleInputSerializer

    @extend_schema(
        operation_id="schedules_create",
        summary="Create a schedule (admins)",
        request=ScheduleInputSerializer,
        responses={201: ScheduleOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        fields, instruments = _split(serializer.validated_data)
        schedule = schedule_build(organisation=self.caller.organisation, fields=fields)
        schedule = schedule_save(schedule=schedule, instruments=instruments or [])
        fresh = _scoped(self.caller).get(pk=schedule.pk)
        return Response(ScheduleOutputSerializer(fresh).data, status=status.HTTP_201_CREATED)


class ScheduleUpdateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(ScheduleInputSerializer):
        class Meta:
            ref_name = "ScheduleUpdate"

    @extend_schema(
        operation_id="schedules_update",
        summary="Change a schedule (admins); rounds already open are not affected",
        request=InputSerializer,
        responses={200: ScheduleOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        schedule = self.object_or_404(_scoped(self.caller), pk)
        serializer = self.InputSerializer(data=request.data, partial=True, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        fields, instruments = _split(serializer.validated_data)
        if instruments is None:
            instruments = list(schedule.instruments.all())
        schedule = schedule_build(organisation=self.caller.organisation, fields=fields, schedule=schedule)
        schedule_save(schedule=schedule, instruments=instruments)
        return Response(ScheduleOutputSerializer(_scoped(self.caller).get(pk=schedule.pk)).data)


class SchedulePreviewApi(PulseApi):
    """The next openings of a schedule as it would be saved, without saving it (the editor's preview)."""

    permission_classes = [IsAdmin]

    class OutputSerializer(serializers.Serializer[Any]):
        time_zone = serializers.CharField()
        next_openings = OpeningSerializer(many=True)

        class Meta:
            ref_name = "SchedulePreview"

    @extend_schema(
        operation_id="schedules_preview",
        summary="Validate a schedule and show its next openings without saving it (admins)",
        request=ScheduleInputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = ScheduleInputSerializer(data=request.data, context={"caller": self.caller})
        serializer.is_valid(raise_exception=True)
        fields, instruments = _split(serializer.validated_data)
        schedule = schedule_build(organisation=self.caller.organisation, fields=fields)
        errors = schedule_errors(schedule, instruments or [])
        if errors:
            raise ValidationError(errors)
        return Response(
            self.OutputSerializer(
                {
                    "time_zone": schedule.effective_time_zone,
                    "next_openings": schedule_next_openings(schedule, count=PREVIEW_COUNT),
                }
            ).data
        )
