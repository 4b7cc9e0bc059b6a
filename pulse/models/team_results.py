"""What a team sees of its own results ("you said, we did"): the leader's note on a round, the team's
summaries (by email and as Slack DMs) and the leaders' reminders when a flag has no action yet.

Nothing here holds an answer or a number: the note is what a leader wrote to the team, the summary rows
hold a text rendered from the published release (``pulse.selectors.team_results``), the same for every
member of a team in one language, and a reminder names a flag.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from pulse.models.flags import Flag
from pulse.models.outbox import OutboxRow


class RoundNote(models.Model):
    """A leader's note to a team on one round's results; shown to the team with them. One per team and
    round, editable; each saved text is kept as a :class:`RoundNoteRevision`."""

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey("surveys.Round", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    written_by = models.ForeignKey("surveys.Person", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "team"], name="round_note_one_per_team")]

    def __str__(self) -> str:
        return f"Note on round {self.round_id} for team {self.team_id}"


class RoundNoteRevision(models.Model):
    """One saved text of a note, oldest first: an edit never loses what the team was shown before."""

    note = models.ForeignKey(RoundNote, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    written_by = models.ForeignKey("surveys.Person", on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["written_at", "pk"]

    def __str__(self) -> str:
        return f"Revision of note {self.note_id} at {self.written_at:%Y-%m-%d %H:%M}"


class TeamSummaryRun(models.Model):
    """That one round's team summaries were queued. Its primary key is the round: two ticks that queue at
    once insert the same row, and only one of them commits its summaries."""

    round = models.OneToOneField(
        "surveys.Round", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    queued_at = models.DateTimeField()
    messages = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Team summaries of round {self.round_id}"


class NoActionReminder(models.Model):
    """That the leaders were reminded about one opening of a flag with no action: once per opening (a
    reopened flag has a new ``opened_at``, and may be reminded again)."""

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(help_text="The Flag.opened_at this reminder belongs to.")
    reminded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flag", "opened_at"], name="no_action_reminder_once_per_opening")
        ]

    def __str__(self) -> str:
        return f"No-action reminder of flag {self.flag_id}"


class TeamResultsEmail(OutboxRow):
    """The outbox of this module's emails: one row per recipient, rendered when queued (delivery sends only
    what is stored), claimed and backed off by ``surveys.services.delivery``'s rules.

    ``idempotency_key`` is unique (a round's summary: round × team × person; a reminder: flag × opening ×
    person), so nothing is queued twice."""

    class Kind(models.TextChoices):
        SUMMARY = "summary", "A team's results summary"
        NO_ACTION_REMINDER = "no_action", "Reminder: a flag has no action yet"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed permanently"

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    recipient = models.ForeignKey("surveys.Person", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(
        "surveys.Round", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    flag = models.ForeignKey(Flag, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=120, unique=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="team_results_email_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email {self.pk} ({self.status})"


class TeamSummarySlackMessage(OutboxRow):
    """The Slack outbox of the team summaries: one DM per member asked on Slack
    (``surveys.services.checkin_channels``), rendered when queued from the same parts as the email
    (``pulse.selectors.team_results.slack_summary``), sent by ``pulse.services.team_summary_slack`` with the
    check-in DMs' claims, pace and 429 pauses.

    It stores the message, never a Slack user id, channel or timestamp: the recipient's Slack user is read
    from ``surveys.SlackUser`` when sending. ``idempotency_key`` is unique (round × team × person)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed permanently"

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey("surveys.SlackWorkspace", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey("surveys.Person", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey("surveys.Round", on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=120, unique=True)
    text = models.TextField(help_text="The notification's text (Slack shows it where blocks cannot be).")
    blocks = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="team_summary_slack_due"),
        ]

    def __str__(self) -> str:
        return f"Team summary Slack message {self.pk} ({self.status})"
