"""Reads of the surveys app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet

from surveys.models import Invitation, Organisation, Person, Round, SlackUser, SlackWorkspace, TickHeartbeat
from surveys.services.checkin_channels import channels_of


def person_for_user(user: AbstractBaseUser | AnonymousUser) -> Person | None:
    """The person a signed-in user acts as, or None: not signed in, a user linked to no person, or a
    deactivated person. A deactivated person may do nothing, whatever session or token their user still
    holds; every page and API call that acts for a person starts here (``pulse.permissions.caller_for``)."""
    if not user.is_authenticated:
        return None
    return Person.objects.select_related("organisation").filter(user_id=user.pk, is_active=True).first()


def checkins_of(person: Person) -> QuerySet[Invitation]:
    """The person's own invitations to open rounds, soonest to close first: whether they answered, never
    what."""
    return (
        Invitation.objects.filter(person=person, round__status=Round.Status.OPEN)
        .select_related("round__schedule")
        .order_by("round__closes_at", "pk")
    )


def tick_last_started_at() -> datetime | None:
    """When the minute tick last started (``surveys.services.tick``), or None if it never ran."""
    return (
        TickHeartbeat.objects.filter(name=TickHeartbeat.MINUTE).values_list("started_at", flat=True).first()
    )


def slack_workspace_of(organisation: Organisation | int) -> SlackWorkspace | None:
    """The Slack workspace the organisation connected, or None."""
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    return SlackWorkspace.objects.filter(organisation_id=organisation_id).first()


@dataclass(frozen=True)
class SlackPeople:
    """How an organisation's active people stand with Slack, as the last matching left them."""

    active: int
    matched: int  # a Slack user has their email address
    not_found: int  # looked up, and Slack knows no user with their address: asked by email
    not_found_first: list[Person]  # the first of those by name, for the admin to correct
    not_looked_up: int  # never looked up (new since the last matching, or it stopped at a 429)


def slack_people_of(organisation: Organisation, *, named: int = 50) -> SlackPeople:
    """The active people's Slack matching: one counting query, and one for the first ``named`` people
    Slack does not know (named: the admin can correct an address or invite them to the workspace)."""
    people = Person.objects.filter(organisation=organisation, is_active=True)
    not_found = Q(slack_user__looked_up_at__isnull=False, slack_user__user_id="")
    counts = people.aggregate(
        active=Count("pk"),
        matched=Count("pk", filter=Q(slack_user__user_id__gt="")),
        not_found=Count("pk", filter=not_found),
        looked_up=Count("pk", filter=Q(slack_user__looked_up_at__isnull=False)),
    )
    return SlackPeople(
        active=counts["active"],
        matched=counts["matched"],
        not_found=counts["not_found"],
        not_found_first=list(people.filter(not_found).order_by("display_name", "pk")[:named]),
        not_looked_up=counts["active"] - counts["looked_up"],
    )


@dataclass(frozen=True)
class SlackChoice:
    """A person's own view of how they are asked: what they chose (empty: the organisation's default), the
    default, whether Slack knows them, and so the channels they are asked on now."""

    workspace: SlackWorkspace
    choice: str
    matched: bool
    channels: frozenset[str]


def slack_choice_of(person: Person) -> SlackChoice | None:
    """The person's Slack choice, or None while their organisation has connected no workspace."""
    workspace = slack_workspace_of(person.organisation_id)
    if workspace is None:
        return None
    slack_user = SlackUser.objects.filter(person=person).first()
    choice = slack_user.channel if slack_user else ""
    matched = bool(slack_user and slack_user.user_id)
    return SlackChoice(
        workspace=workspace,
        choice=choice,
        matched=matched,
        channels=channels_of(choice=choice, default=workspace.default_channel, matched=matched),
    )
