"""Results and flags: the leader pages' numbers and actions, through the same gate (``pulse.reports``).

* ``GET reports/home/``: the caller's teams × metrics for each team's latest closed round.
* ``GET reports/teams/<id>/``: one team's trends, response rate, distributions, comments, flags and log.
* ``GET flags/`` (cursor pages), ``GET flags/<id>/``, and ``POST flags/<id>/acknowledge/``, ``…/plan/``,
  ``…/resolve/`` (the flag services decide the transitions; only a team's leaders may act).

A cell is one of three shapes, told apart by ``status``: ``published`` (a number and its respondents),
``withheld`` (a reason and a code, and **no number at all**), ``not_asked``. Leaders and admins only (403
for everyone else); a team or flag outside the caller's scope is a 404, as on the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.api.fields import id_field
from pulse.disclosure.release import Mean, Rate, Share
from pulse.disclosure.rules import Published, WithheldCode
from pulse.models import Flag
from pulse.permissions import Caller
from pulse.selectors import reports
from pulse.selectors.cells import ShownCell, sees_results
from pulse.selectors.flags import FlagView, flag_views_for, flag_visible_get
from pulse.services.flags import FlagTransitionError, flag_acknowledge, flag_action_plan, flag_resolve

# --- cells ------------------------------------------------------------------------------------------------


class PublishedCellSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["published"])
    value = serializers.FloatField(help_text="Coarsened: 0.1 on 1–5 items, 1 point on 0–100, 5 points for %.")
    text = serializers.CharField(help_text='As shown on the page: "3.4", "52", "85%".')
    n = serializers.IntegerField(help_text="Respondents (or answers) the value summarises.")
    band = serializers.CharField(allow_null=True, help_text="The cut-off band of the unrounded mean, if any.")
    band_label = serializers.CharField(allow_null=True)
    level = serializers.ChoiceField(choices=["ok", "beyond", "severe"])

    class Meta:
        ref_name = "PublishedCell"


class WithheldCellSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["withheld"])
    reason = serializers.CharField(help_text='"fewer than 5 answers", "withheld to protect a smaller group".')
    code = serializers.ChoiceField(choices=[code.value for code in WithheldCode])

    class Meta:
        ref_name = "WithheldCell"


class NotAskedCellSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["not_asked"])

    class Meta:
        ref_name = "NotAskedCell"


CELL = PolymorphicProxySerializer(
    component_name="ReportCell",
    serializers={
        "published": PublishedCellSerializer,
        "withheld": WithheldCellSerializer,
        "not_asked": NotAskedCellSerializer,
    },
    resource_type_field_name="status",
)


def cell_data(cell: ShownCell) -> dict[str, Any]:
    """A cell as JSON: a withheld one has no number in it, by construction."""
    verdict = cell.verdict
    if cell.status == "not_asked" or verdict is None:
        return {"status": "not_asked"}
    if not isinstance(verdict, Published):
        return {"status": "withheld", "reason": verdict.reason, "code": verdict.code.value}
    value = verdict.value
    number: float
    band = band_label = None
    if isinstance(value, Mean):
        number, band, band_label = value.value, value.band, value.band_label
    elif isinstance(value, Rate | Share):
        number = float(value.percent)
    else:
        number = float(verdict.n)
    return {
        "status": "published",
        "value": number,
        "text": cell.exported,
        "n": verdict.n,
        "band": band,
        "band_label": band_label,
        "level": cell.level if cell.level in ("ok", "beyond", "severe") else "ok",
    }


@extend_schema_field(CELL)
class CellField(serializers.Field[ShownCell, Any, dict[str, Any], Any]):
    def to_representation(self, value: ShownCell) -> dict[str, Any]:
        return cell_data(value)


@extend_schema_field(serializers.DictField(child=CELL))
class CellMapField(serializers.Field[dict[str, ShownCell], Any, dict[str, Any], Any]):
    def to_representation(self, value: dict[str, ShownCell]) -> dict[str, Any]:
        return {key: cell_data(cell) for key, cell in value.items()}


# --- shared pieces --------------------------------------------------------------------------------------


class TeamRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)  # type: ignore[assignment]  # a field, not Field.parent
    depth = serializers.IntegerField()

    class Meta:
        ref_name = "ReportTeam"


class RoundRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    closes_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ReportRound"


class ColumnSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text='"who5.who5", "burnout1.burnout1", …, "response_rate".')
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    scale = serializers.ChoiceField(choices=["1-5", "0-5", "0-100", "percent"])

    class Meta:
        ref_name = "ReportColumn"


class ActionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="action.pk")
    what = serializers.CharField(source="action.what")
    who = serializers.CharField(source="action.who")
    due_on = serializers.DateField(source="action.due_on")
    created_by = serializers.CharField(source="action.created_by.display_name")
    created_at = serializers.DateTimeField(source="action.created_at")
    outcome = serializers.CharField(source="sentence", help_text="How the metric moved since, once due.")

    class Meta:
        ref_name = "FlagAction"


class EventSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    why = serializers.CharField(help_text="What people wrote; empty for the trend run's own entries.")

    class Meta:
        ref_name = "FlagEvent"


class FlagSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="flag.pk")
    team = TeamRefSerializer()
    metric = serializers.CharField(source="flag.metric")
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    kind = serializers.ChoiceField(
        source="flag.kind", choices=Flag.Kind.choices, help_text="The strongest reason."
    )
    reasons = serializers.ListField(
        source="flag.reasons",
        child=serializers.ChoiceField(choices=Flag.Kind.choices),
        help_text="Every reason that holds, strongest first.",
    )
    severity = serializers.ChoiceField(source="flag.severity", choices=Flag.Severity.choices)
    state = serializers.ChoiceField(source="flag.state", choices=Flag.State.choices)
    headline = serializers.CharField(help_text="What happened, in a leader's words.")
    explanation = serializers.CharField(
        help_text="The statistics, one sentence per reason; rebuilt from published values if needed."
    )
    resolution_note = serializers.CharField(help_text="How it was resolved; empty while it is not.")
    redacted = serializers.BooleanField(help_text="True when the trend run's own sentence is not shown.")
    can_act = serializers.BooleanField(help_text="Whether the caller may acknowledge, plan or resolve.")
    opened_at = serializers.DateTimeField(source="flag.opened_at", allow_null=True)
    acknowledged_at = serializers.DateTimeField(source="flag.acknowledged_at", allow_null=True)
    resolved_at = serializers.DateTimeField(source="flag.resolved_at", allow_null=True)
    resolution = serializers.CharField(source="flag.resolution", allow_blank=True)
    actions = ActionSerializer(source="outcomes", many=True)
    events = EventSerializer(many=True)

    class Meta:
        ref_name = "Flag"


class _ResultsApi(PulseApi):
    """Leaders and admins (others get 403)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not sees_results(self.caller):
            raise exceptions.PermissionDenied("Only leaders and admins see team results and flags.")


# --- home ---------------------------------------------------------------------------------------------


class HomeRowSerializer(serializers.Serializer[Any]):
    team = TeamRefSerializer()
    round = RoundRefSerializer(allow_null=True)
    cells = CellMapField(help_text="Column key → cell.")
    open_flags = serializers.IntegerField()

    class Meta:
        ref_name = "ReportHomeRow"


class FlagSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="flag.pk")
    team = TeamRefSerializer()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    kind = serializers.CharField(source="flag.kind")
    severity = serializers.CharField(source="flag.severity")
    state = serializers.CharField(source="flag.state")
    opened_at = serializers.DateTimeField(source="flag.opened_at", allow_null=True)

    class Meta:
        ref_name = "ReportFlagSummary"


class HomeSerializer(serializers.Serializer[Any]):
    k = serializers.IntegerField(help_text="The organisation's minimum group size.")
    columns = ColumnSerializer(many=True)
    teams = HomeRowSerializer(many=True)
    open_flags = FlagSummarySerializer(many=True)

    class Meta:
        ref_name = "ReportHome"


class ReportHomeApi(_ResultsApi):
    @extend_schema(
        operation_id="reports_home",
        summary="The caller's teams × metrics for each team's latest closed round, and open flags",
        responses={200: HomeSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        home = reports.leader_home_get(caller=self.caller)
        data = {
            "k": home.k,
            "columns": [{"key": c.key, "label": c.label, "scale": c.scale} for c in home.columns],
            "teams": [
                {
                    "team": row.team,
                    "round": row.round,
                    "cells": {c.key: cell for c, cell in zip(home.columns, row.cells, strict=True)},
                    "open_flags": row.open_flags,
                }
                for row in home.rows
            ],
            "open_flags": list(home.flags),
        }
        return Response(HomeSerializer(data).data)


# --- team report --------------------------------------------------------------------------------------


class PointSerializer(serializers.Serializer[Any]):
    round = RoundRefSerializer()
    cell = CellField()
    trend = serializers.FloatField(allow_null=True, help_text="The trend line's value at this round.")
    band_low = serializers.FloatField(allow_null=True)
    band_high = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "ReportPoint"


class TrendSerializer(serializers.Serializer[Any]):
    slope_per_round = serializers.FloatField()
    low_per_round = serializers.FloatField(allow_null=True)
    high_per_round = serializers.FloatField(allow_null=True)
    rounds = serializers.IntegerField()

    class Meta:
        ref_name = "ReportTrend"


class MetricSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    scale = serializers.CharField(source="column.scale")
    points = PointSerializer(many=True)
    trend = serializers.SerializerMethodField()
    detectable_change = serializers.CharField(source="detectable_text", allow_null=True)
    trend_text = serializers.CharField(allow_blank=True)
    change_text = serializers.CharField()
    rollup_note = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "ReportMetric"

    @extend_schema_field(TrendSerializer(allow_null=True))
    def get_trend(self, report: reports.MetricReport) -> dict[str, Any] | None:
        line = report.trend
        if line is None:
            return None
        decimals = 2 if report.column.scale in ("1-5", "0-5") else 1

        def number(value: float) -> float | None:
            return round(value, decimals) if value == value else None  # NaN: no interval

        return {
            "slope_per_round": round(line.slope_per_round, decimals),
            "low_per_round": number(line.low_per_round),
            "high_per_round": number(line.high_per_round),
            "rounds": line.rounds,
        }


class OptionSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    percent = serializers.IntegerField()

    class Meta:
        ref_name = "ReportOption"


class DistributionSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    question = serializers.CharField()
    instrument = serializers.CharField()
    cell = CellField()
    options = OptionSerializer(many=True, help_text="Empty when the distribution is withheld.")

    class Meta:
        ref_name = "ReportDistribution"


class ShareSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    band = serializers.CharField()
    cell = CellField()

    class Meta:
        ref_name = "ReportShare"


class CommentsSerializer(serializers.Serializer[Any]):
    cell = CellField()
    texts = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "ReportComments"


class TeamReportSerializer(serializers.Serializer[Any]):
    k = serializers.IntegerField()
    team = TeamRefSerializer()
    latest_round = RoundRefSerializer(allow_null=True)
    metrics = MetricSerializer(many=True)
    response_rate = MetricSerializer(allow_null=True)
    distributions = DistributionSerializer(many=True)
    shares = ShareSerializer(many=True)
    comments = serializers.SerializerMethodField()
    flags = FlagSerializer(many=True)
    log = EventSerializer(many=True, source="events")

    class Meta:
        ref_name = "TeamReport"

    @extend_schema_field(CommentsSerializer(allow_null=True))
    def get_comments(self, report: reports.TeamReport) -> dict[str, Any] | None:
        """None when the latest round asked for no comments."""
        if report.comments is None:
            return None
        return {"cell": cell_data(report.comments), "texts": list(report.comment_texts)}


class TeamReportApi(_ResultsApi):
    @extend_schema(
        operation_id="reports_team",
        summary="One team's trends, response rate, distributions, comments, flags and action log",
        responses={200: TeamReportSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        report = reports.team_report_get(caller=self.caller, team_id=pk)
        if report is None:
            raise exceptions.NotFound("Not found.")
        return Response(TeamReportSerializer(report).data)


# --- flags -------------------------------------------------------------------------------------------------


class FlagListApi(_ResultsApi):
    class FilterSerializer(serializers.Serializer[Any]):
        state = serializers.ChoiceField(choices=Flag.State.choices, required=False)
        team = id_field(required=False, help_text="Only this team's flags.")

        class Meta:
            ref_name = "FlagFilter"

    @extend_schema(
        operation_id="flags_list",
        summary="Flags of the caller's teams (never pending or lapsed ones)",
        parameters=[FilterSerializer],
        responses={200: FlagSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        flags = Flag.objects.filter(
            organisation_id=self.caller.organisation_id, state__in=Flag.VISIBLE_STATES
        )
        if not self.caller.is_admin:
            flags = flags.filter(team_id__in=[t.pk for t in self.caller.led_teams])
        if "state" in filters.validated_data:
            flags = flags.filter(state=filters.validated_data["state"])
        if "team" in filters.validated_data:
            flags = flags.filter(team_id=filters.validated_data["team"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(flags, request, view=self) or []
        views = {v.flag.pk: v for v in flag_views_for(self.caller, [f.pk for f in page])}
        data = FlagSerializer([views[f.pk] for f in page if f.pk in views], many=True).data
        return paginator.get_paginated_response(data)


def _flag_view(caller: Caller, pk: int) -> FlagView:
    views = flag_views_for(caller, [pk])
    if not views:
        raise exceptions.NotFound("Not found.")
    return views[0]


class FlagDetailApi(_ResultsApi):
    @extend_schema(
        operation_id="flags_retrieve",
        summary="One flag, with its explanation, actions and history",
        responses={200: FlagSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(FlagSerializer(_flag_view(self.caller, pk)).data)


class _FlagActionApi(_ResultsApi):
    def flag_or_404(self, pk: int) -> Flag:
        flag = flag_visible_get(caller=self.caller, flag_id=pk)
        if flag is None:
            raise exceptions.NotFound("Not found.")
        return flag

    def done(self, pk: int) -> Response:
        return Response(FlagSerializer(_flag_view(self.caller, pk)).data)


def _refused(error: FlagTransitionError) -> exceptions.ValidationError:
    return exceptions.ValidationError({"non_field_errors": [str(error)]})


def _transition(
    view: _FlagActionApi, request: Request, pk: int, apply: Callable[[dict[str, Any]], object]
) -> Response:
    """Validate the action's input, apply the flag service's transition, answer with the flag."""
    view.flag_or_404(pk)
    serializer = view.InputSerializer(data=request.data)  # type: ignore[attr-defined]
    serializer.is_valid(raise_exception=True)
    try:
        apply(serializer.validated_data)
    except FlagTransitionError as error:
        raise _refused(error) from None
    return view.done(pk)


class FlagAcknowledgeApi(_FlagActionApi):
    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "FlagAcknowledge"

    @extend_schema(
        operation_id="flags_acknowledge",
        summary="Acknowledge an open flag, with a note (the team's leaders)",
        request=InputSerializer,
        responses={200: FlagSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _transition(
            self,
            request,
            pk,
            lambda data: flag_acknowledge(flag_id=pk, by=self.caller.person, note=data["note"]),
        )


class FlagPlanApi(_FlagActionApi):
    class InputSerializer(serializers.Serializer[Any]):
        what = serializers.CharField(max_length=2000)
        who = serializers.CharField(max_length=200)
        due_on = serializers.DateField()

        class Meta:
            ref_name = "FlagActionPlan"

    @extend_schema(
        operation_id="flags_plan",
        summary="Plan an action on a flag: what, who, by when (the team's leaders)",
        request=InputSerializer,
        responses={200: FlagSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _transition(
            self, request, pk, lambda data: flag_action_plan(flag_id=pk, by=self.caller.person, **data)
        )


class FlagResolveApi(_FlagActionApi):
    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "FlagResolve"

    @extend_schema(
        operation_id="flags_resolve",
        summary="Resolve a flag by hand, with a note (the team's leaders)",
        request=InputSerializer,
        responses={200: FlagSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _transition(
            self, request, pk, lambda data: flag_resolve(flag_id=pk, by=self.caller.person, note=data["note"])
        )
