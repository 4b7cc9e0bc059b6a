"""Writes of the admin web pages and the API: organisation settings, teams, people, memberships, schedules.

Each service validates with the model's own rules (``full_clean``: validators, ``clean()``, constraints) plus
the few rules that need the database, and raises ``django.core.exceptions.ValidationError`` with messages
keyed by field, so the web forms and the API report the same errors field by field. Schedules go through
``surveys.services.schedules`` (cadence, recall periods, conflicts between schedules). The CSV import and
custom instruments have their own services in ``surveys.services``; the views call those directly.

These write ``surveys`` models; they live here because the admin web app is Pulse's, and could move to
``surveys.services`` unchanged (they import nothing from ``pulse``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from surveys.models import Instrument, Membership, Organisation, Person, Schedule, Team
from surveys.services.schedules import schedule_errors, schedule_preview, schedule_save

ORGANISATION_FIELDS = ("name", "min_group_size", "time_zone", "locale")
TEAM_FIELDS = ("name", "slug", "parent", "time_zone")
PERSON_FIELDS = ("email", "display_name", "locale", "time_zone", "is_admin")
SCHEDULE_FIELDS = (
    "team", "name", "include_subtree", "is_active", "cadence", "every_n_weeks", "nth_weekday", "weekday",
    "local_time", "time_zone", "starts_on", "ends_on", "open_for", "reminder_1", "reminder_2",
    "quiet_start", "quiet_end", "quiet_weekends",
)  # fmt: skip


def _assign(instance: Any, changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    for name, value in changes.items():
        setattr(instance, name, value)


# A database constraint that fails model validation reads "Constraint “name” is violated." (in the
# request's language): each of these is reported on its field, in words, instead.
CONSTRAINT_ERRORS = {
    "schedule_ends_after_start": (
        "ends_on",
        "The last day is before the first day: choose the first day or later.",
    ),
    "schedule_every_n_weeks_positive": ("every_n_weeks", "Repeat every 1 or more weeks."),
    "pause_ends_after_start": ("ends_on", "The pause ends before it starts."),
    "schedule_name_unique_per_organisation": (
        "name",
        "Another schedule in this organisation already has this name; choose another name.",
    ),
}


def _constraint_field(message: str) -> tuple[str, str] | None:
    for name, target in CONSTRAINT_ERRORS.items():
        if name in message:  # the name is not translated; the quotes around it are
            return target
    return None


def _full_clean(instance: Any, errors: dict[str, list[str]] | None = None, **kwargs: Any) -> None:
    """Run the model's validation and raise everything at once, together with ``errors`` found before."""
    collected: dict[str, list[str]] = {key: list(value) for key, value in (errors or {}).items()}
    try:
        instance.full_clean(**kwargs)
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            for message in messages:
                target = _constraint_field(message) if key == NON_FIELD_ERRORS else None
                if target and target[0] in (errors or {}):
                    continue  # a check before this one said it already, with the values
                field, text = target if target else (key, message)
                if text not in collected.get(field, []):
                    collected.setdefault(field, []).append(text)
    if collected:
        raise ValidationError(collected)


# --- organisation ---------------------------------------------------------------------------------------


def organisation_update(*, organisation: Organisation, changes: Mapping[str, Any]) -> Organisation:
    """Change the organisation's name, minimum group size k (never below the floor, never above the
    organisation's headcount), time zone or locale."""
    _assign(organisation, changes, ORGANISATION_FIELDS)
    _full_clean(organisation, _min_group_size_errors(organisation) if "min_group_size" in changes else None)
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
    _full_clean(team, errors, validate_constraints=False)
    team.save()
    return team


def team_update(*, team: Team, changes: Mapping[str, Any]) -> Team:
    """Rename or move a team. Moving it under itself or one of its own teams is refused (``Team.clean``);
    moving rewrites the paths of its whole subtree in one UPDATE (``Team.save``)."""
    _assign(team, changes, TEAM_FIELDS)
    errors = {**_slug_errors(team.organisation_id, team.slug, team.pk), **_team_name_errors(team)}
    _full_clean(team, errors, validate_constraints=False)
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
    _full_clean(person, exclude=["user"])
    with transaction.atomic():
        person.save()
        _enable_sign_in(person, can_sign_in)
    return person


def person_update(
    *,
    person: Person,
    changes: Mapping[str, Any],
    can_sign_in: bool | None = None,
    actor: Person | None = None,
    actor_is_staff: bool = False,
) -> Person:
    """Change a person's details. The last active admin of an organisation keeps the admin flag.

    A new email address is not written here: it is asked for (``email_change_request``) and replaces the
    old one when it confirms by link, and the old address is told. Only staff may change the email, or
    switch the sign-in, of a person whose user is staff or superuser; only staff may change another
    admin's email (``email_change_refusal``). ``actor`` is the person making the change.
    """
    from pulse.services.email_changes import email_change_refusal, email_change_request

    was_admin = person.is_admin
    old_email = person.email
    wanted = dict(changes)
    new_email = str(wanted.get("email", old_email)).strip()
    # A change of letter case only is no new address: sign-in compares addresses case-insensitively.
    email_change = new_email.lower() != old_email.lower()
    if email_change:
        wanted.pop("email")
    _assign(person, wanted, PERSON_FIELDS)
    errors: dict[str, list[str]] = {}
    if was_admin and not person.is_admin and person.is_active and not _other_admins(person):
        errors["is_admin"] = ["This is the organisation's only admin; make someone else admin first."]
    if email_change:
        # Checked against the person as they were: one request cannot first demote an admin, then take
        # over their address.
        person.is_admin, current_admin = was_admin, person.is_admin
        refusal = email_change_refusal(person=person, actor=actor, actor_is_staff=actor_is_staff)
        person.is_admin = current_admin
        if refusal:
            errors["email"] = [refusal]
        else:
            errors.update(_new_email_errors(person, new_email))
    user = person.user if person.user_id is not None else None
    staff_account = user is not None and (user.is_staff or user.is_superuser)
    if can_sign_in is not None and staff_account and not actor_is_staff:
        assert user is not None
        if can_sign_in != user.is_active:
            errors["can_sign_in"] = ["Only staff can switch the sign-in of a person whose account is staff."]
    _full_clean(person, errors, exclude=["user"])
    with transaction.atomic():
        person.save()
        if person.user_id is not None and "email" in wanted:  # a change of letter case only
            get_user_model().objects.filter(pk=person.user_id).update(email=person.email)
        if email_change:
            email_change_request(person=person, new_email=new_email, requested_by=actor)
        if can_sign_in is not None:
            _enable_sign_in(person, can_sign_in)
    return person


def _new_email_errors(person: Person, new_email: str) -> dict[str, list[str]]:
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
            _end(membership, day)
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
    _full_clean(membership, errors, validate_constraints=False)
    membership.save()
    return membership


def _end(membership: Membership, day: date) -> bool:
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


# --- schedules ------------------------------------------------------------------------------------------


def schedule_build(
    *, organisation: Organisation, fields: Mapping[str, Any], schedule: Schedule | None = None
) -> Schedule:
    """A schedule with the given fields, not saved (for a preview or for ``schedule_write``)."""
    target = schedule if schedule is not None else Schedule(organisation=organisation)
    _assign(target, fields, SCHEDULE_FIELDS)
    return target


def schedule_check(schedule: Schedule, instruments: Sequence[Instrument]) -> dict[str, list[str]]:
    """Every error, field by field: the model's own rules first, then cadence, recall and conflicts."""
    same_name = Schedule.objects.filter(
        organisation_id=schedule.organisation_id, name__iexact=schedule.name.strip()
    ).exclude(pk=schedule.pk)
    names = (
        {"name": [f"Another schedule is already called {schedule.name!r}; choose another name."]}
        if schedule.name and same_name.exists()
        else {}
    )
    try:
        _full_clean(schedule, names)
    except ValidationError as error:
        return dict(error.message_dict)
    return schedule_errors(schedule, instruments)


def schedule_write(*, schedule: Schedule, instruments: Sequence[Instrument]) -> Schedule:
    """Validate and save a schedule built by ``schedule_build``, then compute its next opening."""
    errors = schedule_check(schedule, instruments)
    if errors:
        raise ValidationError(errors)
    return schedule_save(schedule=schedule, instruments=instruments)


def schedule_next_openings(schedule: Schedule, *, count: int = 5) -> list[dict[str, Any]]:
    """The next openings of a valid schedule, local (ISO 8601 with the zone's offset) and UTC."""
    try:
        previews = schedule_preview(schedule, count=count)
    except ValueError:  # a stored schedule that no longer validates (e.g. a zone removed from tzdata)
        return []
    return [
        {
            "local": preview.local.isoformat(),
            "local_time": preview.local,
            "utc": preview.utc,
            "shifted": preview.shifted,
            "ambiguous": preview.ambiguous,
        }
        for preview in previews
    ]


# --- API tokens -----------------------------------------------------------------------------------------


def api_token_rotate(*, user: Any) -> str:
    """A new API token for scripts, replacing the user's old one. Shown once; DRF stores the key."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
    return token.key


def api_token_revoke(*, user: Any) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
