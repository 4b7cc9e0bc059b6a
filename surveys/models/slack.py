"""Check-ins in Slack: the workspace an organisation connected, each person's Slack user and choice of
channel, and the Slack message outbox of the invitations (docs/anonymity.md §9, docs/operations.md).

What lives here is *who* is asked and where, never *what* anyone answered: a Slack user id sits beside the
person it belongs to (``SlackUser``), and the DM's channel and timestamp sit on the invitation's outbox row
(``SlackMessage``), which is deleted once the round has closed. No answer-bearing table, no participation
row and no ballot carries any of them (tests/anonymity/test_slack.py).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.utils.translation import gettext_lazy as _

from surveys.models.organisation import Organisation, Person
from surveys.models.rounds import Invitation


class CheckinChannel(models.TextChoices):
    """How a person is asked to check in."""

    EMAIL = "email", _("Email")
    SLACK = "slack", _("Slack")
    BOTH = "both", _("Email and Slack")


class SlackWorkspace(models.Model):
    """The Slack workspace an organisation connected, with its credentials sealed
    (``surveys.stored_secrets``: only a four-character hint is ever shown), and how its people are asked."""

    class Mode(models.TextChoices):
        LINK = "link", _("Link: the button opens the check-in page (answers never pass through Slack)")
        MODAL = "modal", _("Modal: people answer inside Slack (answers pass through Slack's servers)")

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="slack_workspace"
    )
    team_id = models.CharField(max_length=32, unique=True, help_text="Slack's id of the workspace (T…).")
    team_name = models.CharField(max_length=200, blank=True)
    bot_token = models.TextField(editable=False, help_text="Sealed (surveys.stored_secrets).")
    bot_token_hint = models.CharField(max_length=8, blank=True, editable=False)
    signing_secret = models.TextField(
        blank=True, editable=False, help_text="Sealed; empty: the installation's PULSE_SLACK_SIGNING_SECRET."
    )
    signing_secret_hint = models.CharField(max_length=8, blank=True, editable=False)
    default_channel = models.CharField(
        max_length=8, choices=CheckinChannel.choices, default=CheckinChannel.EMAIL
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LINK)
    connected_at = models.DateTimeField()
    # Pacing (about one message a second per workspace, and Slack's Retry-After after a 429): a sender
    # takes the next slot by conditional UPDATE of this column, so any number of senders share one pace.
    next_send_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.team_name or self.team_id


class SlackUser(models.Model):
    """A person's Slack side: their Slack user (matched by email with ``users.lookupByEmail``; empty when
    no Slack user has their address) and how they chose to be asked (empty: the organisation's default)."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="slack_user")
    user_id = models.CharField(max_length=32, blank=True, help_text="Slack's id of the user (U…).")
    looked_up_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=8, choices=CheckinChannel.choices, blank=True)

    def __str__(self) -> str:
        return f"Slack user of person {self.person_id}"


class SlackMessage(models.Model):
    """The Slack outbox of one invitation: its invitation and reminders as DMs, then "Answered, thank you".

    Like the email outbox on ``Invitation``: ``handled`` says which of the invitation's messages
    (``Invitation.EMAIL_DUE_FIELDS``, the same frozen due times) is next, ``outcomes`` one letter per handled
    message (``Invitation.EmailOutcome``), ``due_at`` when the next step is due; a sender claims rows by
    conditional UPDATE of ``claim``/``claimed_until`` (``surveys.services.slack_delivery``). ``channel_id``
    and ``message_ts`` name the latest DM so that it can be updated once the person has answered; the row
    is deleted when the round has closed.
    """

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="slack_message")
    workspace = models.ForeignKey(SlackWorkspace, on_delete=models.CASCADE, related_name="messages")
    due_at = models.DateTimeField(null=True, blank=True)
    handled = models.PositiveSmallIntegerField(default=0)
    outcomes = models.CharField(max_length=3, blank=True, default="")
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    channel_id = models.CharField(max_length=32, blank=True, default="")
    message_ts = models.CharField(max_length=32, blank=True, default="")
    thanked = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(handled=Length("outcomes")), name="slack_message_outcome_each")
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="slack_message_due"),
        ]

    def __str__(self) -> str:
        return f"Slack messages of invitation {self.invitation_id}"
