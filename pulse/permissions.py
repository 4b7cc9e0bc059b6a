"""Who sees what. Every read of the web app and the API starts from a queryset made here.

Roles:

* an **engineer** (any active person) sees their own check-ins and nothing of anyone else's;
* a **leader** sees the teams they lead today and every team below them (``pulse.selectors.teams_led_by``),
  and those teams' schedules;
* an **admin** (``Person.is_admin``) configures their organisation: its people, teams, memberships,
  schedules, instruments and settings. Admins get no extra access to anything anonymous.

Every queryset is filtered by the caller's organisation first, so an id of another organisation is simply
not found (404), exactly like an id that does not exist: a 403 would confirm that it exists. A user linked
to no person, or to a deactivated one, has no role at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from pulse.selectors.people import teams_led_by
from surveys import selectors as surveys_selectors
from surveys.language import REQUEST_PERSON
from surveys.models import Instrument, Invitation, Membership, Organisation, Person, Schedule, Team


@dataclass(frozen=True)
class Caller:
    """The signed-in person and what their role allows. Built once per request."""

    person: Person

    @property
    def organisation(self) -> Organisation:
        return self.person.organisation

    @property
    def organisation_id(self) -> int:
        return self.person.organisation_id

    @property
    def is_admin(self) -> bool:
        return self.person.is_admin

    @cached_property
    def led_teams(self) -> list[Team]:
        return list(teams_led_by(person=self.person))

    @property
    def is_leader(self) -> bool:
        return bool(self.led_teams)


def caller_of_request(request: HttpRequest) -> Caller | None:
    """``caller_for(request.user)``, looked up once per request (navigation and view share it)."""
    if not hasattr(request, "_pulse_caller"):
        # The language middleware has looked the signed-in person up already (surveys.language): the same
        # selector, so reuse it when it is this user's, instead of a second query.
        person = getattr(request, REQUEST_PERSON, None)
        if person is not None and request.user.is_authenticated and person.user_id == request.user.pk:
            request._pulse_caller = Caller(person)  # type: ignore[attr-defined]
        else:
            request._pulse_caller = caller_for(request.user)  # type: ignore[attr-defined]
    caller: Caller | None = request._pulse_caller  # type: ignore[attr-defined]
    return caller


def caller_for(user: AbstractBaseUser | AnonymousUser) -> Caller | None:
    """The caller behind a user: None for anonymous users and users without an active person."""
    person = surveys_selectors.person_for_user(user)
    return Caller(person) if person is not None else None


# --- scoped querysets ---------------------------------------------------------------------------------


def teams_visible_to(caller: Caller) -> QuerySet[Team]:
    """Admins: every team of the organisation. Leaders: the teams they lead and their subtrees."""
    if caller.is_admin:
        return Team.objects.filter(organisation_id=caller.organisation_id)
    led = [team.pk for team in caller.led_teams]
    return Team.objects.filter(organisation_id=caller.organisation_id, pk__in=led)


def people_visible_to(caller: Caller) -> QuerySet[Person]:
    """People are configuration: admins only. Nobody else gets a list of colleagues from Pulse."""
    if not caller.is_admin:
        return Person.objects.none()
    return Person.objects.filter(organisation_id=caller.organisation_id)


def memberships_visible_to(caller: Caller) -> QuerySet[Membership]:
    if not caller.is_admin:
        return Membership.objects.none()
    return Membership.objects.filter(team__organisation_id=caller.organisation_id)


def schedules_visible_to(caller: Caller) -> QuerySet[Schedule]:
    """Admins: every schedule. Leaders: the schedules of teams they see (when their teams are asked)."""
    schedules = Schedule.objects.filter(organisation_id=caller.organisation_id)
    if caller.is_admin:
        return schedules
    return schedules.filter(team__in=teams_visible_to(caller))


def instruments_visible_to(caller: Caller) -> QuerySet[Instrument]:
    """The shared library and the organisation's own custom instruments (never another organisation's).

    Any person may read them: an engineer sees every question when answering anyway.
    """
    return Instrument.objects.filter(Q(organisation__isnull=True) | Q(organisation_id=caller.organisation_id))


def checkins_of(caller: Caller) -> QuerySet[Invitation]:
    """The caller's own invitations to open rounds: whether they answered, never what (the rule is
    ``surveys.selectors.checkins_of``, which the check-in pages use too)."""
    return surveys_selectors.checkins_of(caller.person)
