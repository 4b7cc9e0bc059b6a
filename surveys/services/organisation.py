"""Writes of the admin web pages and the API: organisation settings, teams, people and memberships.

Each service validates with the model's own rules plus the few that need the database and raises
``ValidationError`` field by field (``surveys.services.validation``), so the web forms and the API report
the same errors. Schedules have their own service (``surveys.services.schedules``), as do the CSV import
and custom instruments. A change of a person's email address is not written here: Pulse asks the new
address to confirm first (``pulse.services.people.person_update``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from surveys.models import Membership, Organisation, Person, Team
from surveys.services.validation import changes_assign, model_validate

ORGANISATION_FIELDS = (
    "name",
    "min_group_size",
    "time_zone",
    "locale",
    "password_sign_in",
    "email_link_sign_in",
    "team_summaries",
    "no_action_reminder_days",
)
TEAM_FIELDS = ("name", "slug", "parent", "time_zone")
PERSON_FIELDS = ("email", "display_name", "locale", "time_zone", "is_admin")


# --- organisation ---------------------------------------------------------------------------------------


def organisation_update(*, organisation: Organisation, changes: Mapping[str, Any]) -> Organisation:
    """Change the organisation's name, minimum group size k (never below the floor, never above the
    organisation's headcount), time zone, locale, sign-in methods, or what teams are told of their results
    (summaries, the no-action reminder's days)."""
    changes_assign(organisation, changes, ORGANISATION_FIELDS)
    model_validate(
        organisation, _min_group_size_errors(organisation) if "min_group_size" in changes else None
    )
    organisation.save()
    return organisation


def _min_group_size_errors(organisation: Organisation) -> dict[str, list[str]]:
    """A k above the number of people who can answer at all would withhold every result, for every team,
    for good: almost certainly a typo (310 for 3). Refused with the figure. An organisation with fewer
    people than the floor is still being set up (no result can be shown at any k), so it may set k ahead."""
    people = (
        Membership.objects.current()
        .filter(team__organisation=organisation, person__is_active=True, role=Membership.Role.MEMBER)
        .values("person_id")
        .distinct()
        .count()
    )
    if people >= settings.PULSE_MIN_GROUP_SIZE_FLOOR and organisation.min_group_size > people:
        return {
            "min_group_size": [
                f"Only {people} people answer check-ins in this organisation, so a minimum group size of "
                f"{organisation.min_group_size} would hide every result. Choose {people} or fewer."
            ]
        }
    return {}


# --- teams ----------------------------------------------------------------------------------------------


def _slug_errors(organisation_id: int, slug: str, team_pk: int | None) -> dict[str, list[str]]:
    clash = Team.objects.filter(organisation_id=organisation_id, slug=slug)
    if team_pk is not None:
        clash = clash.exclude(pk=team_pk)
    return {"slug": [f"Another team already uses the slug {slug!r}."]} if slug and clash.exists() else {}


def _team_name_errors(team: Team) -> dict[str, list[str]]:
    """Two teams under one parent (or two top-level teams) may not share a name, ignoring case: people pick
    teams by name in forms, reports and the CSV import's paths. The database refuses it too."""
    same = Team.objects.filter(organisation_id=team.organisation_id, parent_id=team.parent_id).filter(
        name__iexact=team.name.strip()
    )
    if team.pk is not None:
        same = same.exclude(pk=team.pk)
    if not team.name or not same.exists():
        return {}
    where = f"under {team.parent.name}" if team.parent is not None else "at the top level"
    return {"name": [f"There is already a team called {team.name!r} {where}; choose another name."]}


def _free_slug(organisation: Organisation, name: str) -> str:
    base = slugify(name)[:90] or "team"
    taken = set(
        Team.objects.filter(organisation=organisation, slug__startswith=base).values_list("slug", flat=True)
    )
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def team_create(
    *,
    organisation: Organisation,
    name: str,
    parent: Team | None = None,
    slug: str = "",
    time_zone: str = "",
) -> Team:
    """Create a team under ``parent`` (None: a top-level team). An empty slug is made from the name."""
    team = Team(
        organisation=organisation,
        name=name,
        parent=parent,
        slug=slug or _free_slug(organisation, name),
        time_zone=time_zone,
    )
    errors = {**_slug_errors(organisation.pk, team.slug, None), **_team_name_errors(team)}
    model_validate(team, errors, validate_constraints=False)
    team.save()
    return team


def team_update(*, team: Team, changes: Mapping[str, Any]) -> Team:
    """Rename or move a team. Moving it under itself or one of its own teams is refused (``Team.clean``);
    moving rewrites the paths of its whole subtree in one UPDATE (``Team.save``)."""
    changes_assign(team, changes, TEAM_FIELDS)
    errors = {**_slug_errors(team.organisation_id, team.slug, team.pk), **_team_name_errors(team)}
    model_validate(team, errors, validate_constraints=False)
    team.save()
    return team


# --- people ---------------------------------------------------------------------------------------------


def _other_admins(person: Person) -> bool:
    return (
        Person.objects.filter(organisation_id=person.organisation_id, is_admin=True, is_active=True)
        .exclude(pk=person.pk)
        .exists()
    )


def person_user_ensure(*, person: Person, active: bool = True) -> Any:
    """The person's user, created if they have none (no password: people sign in by email link).

    Called when a person first signs in by link (``pulse.auth``) and when an admin switches sign-in on or
    off. The person row is locked so that two links spent at once create one user.
    """
    User = get_user_model()
    with transaction.atomic():
        locked = Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=person.pk)
        if locked.user is not None:
            person.user = locked.user
            return locked.user
        username = locked.email.lower()
        if len(username) > 150 or User.objects.filter(username=username).exists():
            # Too long for a username, or someone's already (the same address in another organisation).
            # People sign in by email link, which looks up the person, so the username is only a key.
            username = f"person-{locked.pk}"
        user = User(username=username, email=locked.email, is_active=active)
        user.set_unusable_password()
        user.save()
        Person.objects.filter(pk=locked.pk).update(user=user)
        person.user = user
    return user


def _enable_sign_in(person: Person, enabled: bool) -> None:
    """Switch the person's sign-in by email link on or off. Every active person can sign in unless it is
    switched off, which needs a user to record it on (created inactive for a person who had none)."""
    if person.user_id is None:
        person_user_ensure(person=person, active=enabled)
        return
    existing = person.user
    assert existing is not None
    if existing.is_active != enabled:
        existing.is_active = enabled
        existing.save(update_fields=["is_active"])


def person_create(
    *,
    organisation: Organisation,
    email: str,
    display_name: str,
    locale: str = "",
    time_zone: str = "",
    is_admin: bool = False,
    can_sign_in: bool = True,
) -> Person:
    person = Person(
        organisation=organisation,
        email=email.strip(),
        display_name=display_name,
        locale=locale,
        time_zone=time_zone,
        is_admin=is_admin,
    )
    model_validate(person, exclude=["user"])
    with transaction.atomic():
        person.save()
        _enable_sign_in(person, can_sign_in)
    return person


def person_update(
    *,
    person: Person,
    changes: Mapping[str, Any],
    can_sign_in: bool | None = None,
    actor_is_staff: bool = False,
    errors: dict[str, list[str]] | None = None,
) -> Person:
    """Change a person's details. The last active admin of an organisation keeps the admin flag; only
    staff may switch the sign-in of a person whose user is staff or superuser. ``errors``: problems the
    caller found first, reported together with these (nothing is saved if there are any).

    The email address may change here only in letter case (sign-in compares addresses case-insensitively):
    a new address becomes a sign-in identity only once it confirms by link, which is Pulse's
    ``pulse.services.people.person_update``.
    """
    was_admin = person.is_admin
    wanted = dict(changes)
    found: dict[str, list[str]] = {key: list(value) for key, value in (errors or {}).items()}
    if "email" in wanted and str(wanted["email"]).strip().lower() != person.email.lower():
        found.setdefault("email", []).append("A new email address must be confirmed by a link sent to it.")
        wanted.pop("email")
    changes_assign(person, wanted, PERSON_FIELDS)
    if was_admin and not person.is_admin and person.is_active and not _other_admins(person):
        found["is_admin"] = ["This is the organisation's only admin; make someone else admin first."]
    user = person.user if person.user_id is not None else None
    staff_account = user is not None and (user.is_staff or user.is_superuser)
    if can_sign_in is not None and staff_account and not actor_is_staff:
        assert user is not None
        if can_sign_in != user.is_active:
            found["can_sign_in"] = ["Only staff can switch the sign-in of a person whose account is staff."]
    model_validate(person, found, exclude=["user"])
    with transaction.atomic():
        person.save()
        if person.user_id is not None and "email" in wanted:  # a change of letter case only
            get_user_model().objects.filter(pk=person.user_id).update(email=person.email)
        if can_sign_in is not None:
            _enable_sign_in(person, can_sign_in)
    return person


def person_email_errors(person: Person, new_email: str) -> dict[str, list[str]]:
    """Why ``new_email`` cannot be this person's address (empty: it can): not an address, or another
    person of the organisation has it."""
    try:
        Person._meta.get_field("email").clean(new_email, person)
    except ValidationError as error:
        return {"email": list(error.messages)}
    clash = Person.objects.filter(organisation_id=person.organisation_id, email__iexact=new_email)
    if clash.exclude(pk=person.pk).exists():
        return {"email": ["Someone in this organisation already has this email address."]}
    return {}


def person_deactivate(*, person: Person, today: date | None = None) -> Person:
    """Deactivate a person (never delete: rounds refer to them) and end their memberships today.

    A deactivated person is asked nothing and cannot sign in. Memberships that had not started by today
    never took effect and are removed (the change history keeps them), as the CSV import does.
    """
    day = today or timezone.now().date()
    if person.is_admin and person.is_active and not _other_admins(person):
        raise ValidationError({NON_FIELD_ERRORS: ["This is the organisation's only admin; it stays active."]})
    with transaction.atomic():
        for membership in Membership.objects.current(day).filter(person=person):
            membership_stop(membership, day)
        Membership.objects.filter(person=person, starts_on__gt=day).delete()
        person.is_active = False
        person.save(update_fields=["is_active"])
    return person


# --- memberships ----------------------------------------------------------------------------------------


def membership_create(*, person: Person, team: Team, role: str, starts_on: date | None = None) -> Membership:
    membership = Membership(person=person, team=team, role=role, starts_on=starts_on or timezone.now().date())
    errors: dict[str, list[str]] = {}
    if Membership.objects.filter(person=person, team=team, role=role, ends_on__isnull=True).exists():
        errors["team"] = [f"{person.display_name} is already {role} of {team.name}."]
    if not person.is_active:
        errors["person"] = ["This person is deactivated."]
    model_validate(membership, errors, validate_constraints=False)
    membership.save()
    return membership


def membership_stop(membership: Membership, day: date) -> bool:
    """End a membership on ``day`` (the first day no longer in the team). One that had not started before
    then never lasted a day and is removed instead (the change history keeps it): False."""
    if membership.starts_on >= day:
        membership.delete()
        return False
    membership.ends_on = day
    membership.save(update_fields=["ends_on"])
    return True


def membership_end(*, membership: Membership, ends_on: date | None = None) -> Membership | None:
    """End a membership: ``ends_on`` is the first day no longer in the team (default today).

    Returns the membership, or None when it had not started by then and was removed instead (a membership
    that never lasted a day means nothing for any round; the change history keeps it).
    """
    today = timezone.now().date()
    day = ends_on or today
    if membership.ends_on is not None and membership.ends_on <= today:
        raise ValidationError({"ends_on": [f"This membership already ended on {membership.ends_on}."]})
    if day <= membership.starts_on:
        if membership.starts_on >= today:
            membership.delete()
            return None
        raise ValidationError(
            {"ends_on": [f"The end date must be after the start date ({membership.starts_on})."]}
        )
    membership.ends_on = day
    membership.save(update_fields=["ends_on"])
    return membership
