"""Schedules, rounds, invitations, participation, sealed ballots and the counts they become.

The anonymity design (docs/anonymity.md §2) lives in the shape of these tables:

* ``Participation`` says *who* answered a round. ``SealedBallot`` holds *what* was answered, with a random
  primary key, no person and no time, padded to one length per round and sealed to the round's own public
  key. The two are written in one transaction, so PostgreSQL's ``xmin`` (and its WAL) ties them together:
  that is why the ballot is a ciphertext whose length says nothing, and why its key dies with the round.
* When a round closes, its ballots are opened with the round's private key (from the round key store, not
  the database), added to counters (``AnswerCount``, ``ScoreCount``, ``RespondentCount``) and comment rows
  (``Comment``: random id, no time, random order), then deleted; once that has committed the key is
  destroyed. Copies the database keeps elsewhere (dead tuples, WAL, backups) can then be opened by no one.
  The answer-bearing tables are listed in ``ANSWER_BEARING_MODELS``; tests/anonymity fails when a new one
  appears unlisted. docs/anonymity.md is the threat model.
* Invitations carry a single-use token: only its SHA-256 is stored for look-up; a copy sealed with the
  token key ring lets reminders repeat the same link, and is erased when the round closes.
"""

from __future__ import annotations

import uuid
from datetime import time, timedelta

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower
from simple_history.models import HistoricalRecords

from surveys.models.organisation import Organisation, Person, Team
from surveys.validators import validate_single_line, validate_time_zone


class Schedule(models.Model):
    """When a team is asked which instruments. Cadence arithmetic: ``surveys.cadence``."""

    class Cadence(models.TextChoices):
        WEEKLY = "weekly", "Every N weeks"
        MONTHLY = "monthly", "Monthly, on the n-th weekday"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="schedules")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="schedules")
    name = models.CharField(max_length=200, validators=[validate_single_line])
    include_subtree = models.BooleanField(
        default=True, help_text="Ask every team below this one too (otherwise the team's own members only)."
    )
    instruments = models.ManyToManyField("surveys.Instrument", related_name="schedules")
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.WEEKLY)
    every_n_weeks = models.PositiveSmallIntegerField(default=1, help_text="1 = weekly, 2 = every two weeks.")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    nth_weekday = models.SmallIntegerField(
        default=1, help_text="Monthly only: 1–4 for the first to fourth, -1 for the last such weekday."
    )
    local_time = models.TimeField(default=time(10, 0), help_text="Opening time in the schedule's time zone.")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text="Empty: the team's time zone."
    )
    open_for = models.DurationField(default=timedelta(days=3), help_text="How long a round stays open.")
    reminder_1 = models.DurationField(
        null=True, blank=True, default=timedelta(hours=24), help_text="Remind this long before close."
    )
    reminder_2 = models.DurationField(null=True, blank=True, help_text="A second reminder (optional).")
    quiet_start = models.TimeField(default=time(20, 0), help_text="No email from this local time…")
    quiet_end = models.TimeField(default=time(8, 0), help_text="…until this local time (recipient's zone).")
    quiet_weekends = models.BooleanField(default=True, help_text="No email at weekends: it waits for Monday.")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # The due-time row the tick claims (healthchecks' pattern): the next opening, in UTC. Claimed by a
    # conditional UPDATE from the value the tick read, so two ticks cannot open the same round.
    next_opening_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    history = HistoricalRecords(m2m_fields=[instruments], excluded_fields=["next_opening_at"])

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(every_n_weeks__gte=1), name="schedule_every_n_weeks_positive"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="schedule_ends_after_start",
            ),
            # One name per organisation, ignoring case: people tell schedules apart by name in the admin
            # pages, the API and "My check-ins" (surveys.services.schedules says so at the field).
            models.UniqueConstraint(
                Lower("name"), "organisation", name="schedule_name_unique_per_organisation"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.team.effective_time_zone

    @property
    def reminders(self) -> list[timedelta]:
        return [offset for offset in (self.reminder_1, self.reminder_2) if offset]


class SchedulePause(models.Model):
    """Local dates on which no round opens (holidays, an incident freeze). Both ends inclusive."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="pauses")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="pause_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} – {self.ends_on}"


class Round(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="rounds")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="rounds")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="rounds")
    instruments = models.ManyToManyField(
        "surveys.Instrument",
        related_name="rounds",
        help_text="The instrument versions asked, frozen at open.",
    )
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    invited_count = models.PositiveIntegerField(default=0)
    # Set by the close step in the same transaction that turns ballots into counts; pulse picks up
    # closed rounds whose aggregated_at is empty (surveys never imports pulse).
    counted_at = models.DateTimeField(null=True, blank=True)
    aggregated_at = models.DateTimeField(null=True, blank=True)
    # The round's own ballot key (docs/anonymity.md): ballots are sealed to this public half; the private
    # half is in the round key store until the close destroys it. Empty for a round opened before per-round
    # keys, whose ballots then count as lost at close.
    ballot_public_key = models.BinaryField(max_length=32, null=True, blank=True, editable=False)
    ballot_size = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bytes every ballot's plaintext is padded to (one length)."
    )
    answers_lost = models.BooleanField(
        default=False,
        editable=False,
        help_text="The round key was missing at close: participation was counted, the answers could not be.",
    )

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "opens_at"], name="round_unique_per_schedule_opening"
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="round_closes_after_open"
            ),
        ]
        indexes = [
            models.Index(fields=["closes_at"], condition=Q(status="open"), name="round_open_by_close"),
            models.Index(
                fields=["counted_at"],
                condition=Q(status="closed", aggregated_at__isnull=True),
                name="round_awaiting_aggregation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} — {self.opens_at:%Y-%m-%d}"


class Invitation(models.Model):
    """One person asked in one round: the frozen roster, and the outbox of the emails it sends.

    ``teams`` lists the person's teams in the round's scope at open (ids); it travels, sealed, inside the
    ballot so that counts land on the right teams without the ballot naming a person.

    The row is also the email outbox (no row per email: a round of 100,000 people would write 200,000 more).
    Its messages are the invitation and up to two reminders, in the order they are due. Their due times are
    computed at open in the recipient's zone with the schedule's quiet hours and frozen here, so an edit of
    the schedule never changes a round already open; null means that message is not sent. ``email_due_at``
    is when the next message is due (null: nothing left), ``emails_handled`` how many messages are done
    (which one is next), and ``email_outcomes`` one letter per done message (``EmailOutcome``). The send step
    claims due rows by conditional UPDATE of ``email_claim``/``email_claimed_until``
    (``surveys.services.emails``).
    """

    class EmailOutcome(models.TextChoices):
        SENT = "s", "Sent"
        SKIPPED = "k", "Skipped (already answered, round closed, or person inactive)"
        FAILED = "f", "Failed permanently"

    # Messages in sending order; ``emails_handled`` indexes this tuple.
    EMAIL_DUE_FIELDS = ("invitation_due_at", "reminder_1_due_at", "reminder_2_due_at")

    # The unique (round, person) constraint's index already serves look-ups by round: no second index.
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="invitations")
    teams = models.JSONField(default=list)
    token_hash = models.BinaryField(max_length=32, unique=True)
    sealed_token = models.BinaryField(null=True, blank=True)
    spent = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    invitation_due_at = models.DateTimeField(null=True, blank=True)
    reminder_1_due_at = models.DateTimeField(null=True, blank=True, help_text="The earlier reminder.")
    reminder_2_due_at = models.DateTimeField(null=True, blank=True, help_text="The later reminder.")
    email_due_at = models.DateTimeField(null=True, blank=True, help_text="When the next message is due.")
    # Database defaults too, so that rows written by COPY (round_open, benchmarks) need not name them.
    emails_handled = models.PositiveSmallIntegerField(default=0, db_default=0)
    email_outcomes = models.CharField(max_length=3, blank=True, default="", db_default="")
    email_claim = models.UUIDField(
        null=True, blank=True, help_text="Which sender holds the row while it sends."
    )
    email_claimed_until = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Failed attempts at the message now due."
    )
    email_error = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "person"], name="invitation_unique_per_round_person"),
            models.CheckConstraint(
                condition=Q(emails_handled=Length("email_outcomes")), name="invitation_outcome_per_email"
            ),
            models.CheckConstraint(
                condition=Q(reminder_2_due_at__isnull=True) | Q(reminder_1_due_at__isnull=False),
                name="invitation_reminders_in_order",
            ),
        ]
        indexes = [
            models.Index(
                fields=["email_due_at"], condition=Q(email_due_at__isnull=False), name="invitation_email_due"
            )
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} to round {self.round_id}"


class Participation(models.Model):
    """Someone answered this round. Nothing about what: that is in a SealedBallot, which names no one."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="participations")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="participations")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "person"], name="participation_unique_per_round_person")
        ]

    def __str__(self) -> str:
        return f"Participation in round {self.round_id}"


class SealedBallot(models.Model):
    """One submission's answers, padded to the round's one length and sealed to the round's own public key
    (``surveys.sealing``); no person, no time, a random id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="sealed_ballots")
    ciphertext = models.BinaryField()

    def __str__(self) -> str:
        return "sealed ballot"


class RespondentCount(models.Model):
    """How many ballots of a closed round were counted for a team (each person once per team)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="respondent_counts")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    respondents = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "team"], name="respondent_count_unique")]

    def __str__(self) -> str:
        return f"{self.respondents} respondents"


class AnswerCount(models.Model):
    """How many respondents of a team chose each option of a question in a closed round."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="answer_counts")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    question = models.ForeignKey("surveys.Question", on_delete=models.PROTECT, related_name="+")
    value = models.IntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "team", "question", "value"], name="answer_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.count} × {self.value}"


class ScoreCount(models.Model):
    """How many respondents of a team had each score (and band) on an instrument scale in a closed round.

    Scores take finitely many values, so the bucket is the exact score times the scale's resolution
    (``surveys.scoring.score_bucket``): an integer, so means and variances are recomputed exactly from
    these counts (a CBI mean such as 150/7 survives; a decimal would not).
    """

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="score_counts")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    instrument = models.ForeignKey("surveys.Instrument", on_delete=models.PROTECT, related_name="+")
    scale = models.CharField(max_length=64)
    scored = models.BooleanField(
        default=True, help_text="False: not scorable by the instrument's missing-data rule."
    )
    bucket = models.BigIntegerField(default=0, help_text="Exact score × the scale's resolution.")
    band = models.CharField(max_length=32, blank=True)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "team", "instrument", "scale", "scored", "bucket", "band"],
                name="score_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} × {self.scale} bucket {self.bucket}"


class Comment(models.Model):
    """A free-text answer: a random id (no insertion order), no time, no person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="comments")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    question = models.ForeignKey("surveys.Question", on_delete=models.PROTECT, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return "comment"


# Every table that holds anything a person answered. tests/anonymity checks each has no path to a person
# and fails when a model with answer-like fields is added without being listed here.
ANSWER_BEARING_MODELS = (SealedBallot, RespondentCount, AnswerCount, ScoreCount, Comment)
