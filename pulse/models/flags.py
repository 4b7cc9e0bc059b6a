"""Flags, their history and leaders' actions, and the trend runs that raise them.

A **Flag** says that one team's metric is worsening. It is one story per problem: at most one flag per
team × metric is active at a time (a conditional unique constraint), and it carries every reason that
holds (``reasons``: a trend, a sudden shift, a cut-off crossed; ``kind`` is the strongest). A later trend
run updates it: a new reason is an event on the same flag, never a second flag. It speaks twice, from
published, coarsened numbers only: ``headline`` in a leader's words, ``explanation`` with the statistics.

Every change of state is a **FlagEvent** (who, when, why). **Action** rows are what a leader planned. What a
change of state tells people is written to the outbox (``pulse.models.notifications``) in the same
transaction.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from pulse.analysis import rules as trends


class Flag(models.Model):
    class Kind(models.TextChoices):
        """Every reason ``pulse.analysis.rules.FlagKind`` has, the survey rules' and on-call load's
        (``pulse.analysis.load``). The labels are the reason names the pages, emails and Slack show
        (``pulse.analysis.glossary.REASON_NAME``, a test keeps them equal), translated when shown: in the
        admin, the API schema and wherever a flag's kind is displayed."""

        TREND = trends.FlagKind.TREND.value, gettext_lazy("Worsening trend")
        SHIFT = trends.FlagKind.SHIFT.value, gettext_lazy("Sudden shift")
        CUTOFF = trends.FlagKind.CUTOFF.value, gettext_lazy("Beyond the instrument's cut-off")
        THRESHOLD = trends.FlagKind.THRESHOLD.value, gettext_lazy("Beyond the SRE book's on-call limit")
        CONCENTRATION = (
            trends.FlagKind.CONCENTRATION.value,
            gettext_lazy("One person carries most of the pages"),
        )
        JOINT = trends.FlagKind.JOINT.value, gettext_lazy("On-call load rose at the same time")

    class Severity(models.TextChoices):
        WATCH = trends.Severity.WATCH.value, "Watch"
        WARNING = trends.Severity.WARNING.value, "Warning"
        ALERT = trends.Severity.ALERT.value, "Alert"

    class State(models.TextChoices):
        PENDING = "pending", "Pending (seen once; waits for a second evaluation)"
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTION_PLANNED = "action_planned", "Action planned"
        RESOLVED = "resolved", "Resolved"
        LAPSED = "lapsed", "Lapsed (did not hold for a second evaluation)"

    class Resolution(models.TextChoices):
        BY_HAND = "by_hand", "Resolved by a leader"
        RECOVERED = "recovered", "Recovered (back within bounds for two evaluations)"

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.PROTECT, related_name="flags")
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="flags")
    metric = models.CharField(
        max_length=200, help_text="The TeamAggregate metric, e.g. scale:cbi_work.cbi_work@1."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, help_text="The strongest reason.")
    reasons = models.JSONField(
        default=list, blank=True, help_text="Every reason that holds, strongest first (trend, shift, cutoff)."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    headline = models.TextField(blank=True, help_text="What happened, in a leader's words.")
    explanation = models.TextField(
        help_text="The statistics: one sentence per reason, from published, coarsened numbers."
    )
    details = models.JSONField(default=dict, blank=True, help_text="The numbers behind the sentence.")
    # Persistence bookkeeping: consecutive evaluations (with new data) in which the condition held while
    # pending, or was back within bounds while active.
    hits = models.PositiveSmallIntegerField(default=0)
    clears = models.PositiveSmallIntegerField(default=0)
    evaluated_through = models.DateTimeField(
        help_text="closes_at of the latest round evaluated: a run without a newer round changes nothing."
    )
    escalation_level = models.PositiveSmallIntegerField(
        default=0, help_text="0: the team's own leaders; each escalation adds the next leaders above."
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)

    ACTIVE_STATES = (State.PENDING, State.OPEN, State.ACKNOWLEDGED, State.ACTION_PLANNED)
    VISIBLE_STATES = (State.OPEN, State.ACKNOWLEDGED, State.ACTION_PLANNED, State.RESOLVED)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "metric"],
                condition=Q(state__in=["pending", "open", "acknowledged", "action_planned"]),
                name="flag_one_active_per_team_metric",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "state"], name="flag_organisation_state"),
            models.Index(fields=["team", "metric", "-created_at"], name="flag_series_newest"),
            models.Index(fields=["opened_at"], condition=Q(state="open"), name="flag_open_unacknowledged"),
        ]

    def __str__(self) -> str:
        return f"Flag on {self.metric} of team {self.team_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class FlagEvent(models.Model):
    """One transition of a flag: who (a person, or the system), when, why."""

    class Kind(models.TextChoices):
        DETECTED = "detected", "Detected (pending)"
        OPENED = "opened", "Opened"
        UPDATED = "updated", "Updated by a trend run"
        REASON_ADDED = "reason_added", "New evidence"
        LAPSED = "lapsed", "Did not hold"
        RETURNING = "returning", "Decline seen again (pending)"
        REOPENED = "reopened", "Reopened"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTION_PLANNED = "action_planned", "Action planned"
        RESOLVED = "resolved", "Resolved by hand"
        REOPENED_BY_HAND = "reopened_by_hand", "Reopened by a leader"
        RECOVERED = "recovered", "Recovered"
        ESCALATED = "escalated", "Escalated"

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    actor = models.ForeignKey(
        "surveys.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="flag_events"
    )
    actor_label = models.CharField(max_length=200, help_text='"system" or the person\'s name at the time.')
    at = models.DateTimeField()
    why = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label}"


class Action(models.Model):
    """What a leader plans to do about a flag: what, who, by when."""

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="actions")
    what = models.TextField()
    who = models.CharField(max_length=200)
    due_on = models.DateField()
    created_by = models.ForeignKey("surveys.Person", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.what[:60]} ({self.who}, by {self.due_on})"


class TrendRun(models.Model):
    """One evaluation of an organisation's series; ``watermark`` says which aggregations it has seen."""

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.CASCADE, related_name="+")
    watermark = models.DateTimeField(null=True, blank=True, help_text="Latest Round.aggregated_at seen.")
    started_at = models.DateTimeField()
    series = models.PositiveIntegerField(default=0)
    tested = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-watermark"], name="trend_run_latest")]

    def __str__(self) -> str:
        return f"Trend run {self.pk} of organisation {self.organisation_id}"
