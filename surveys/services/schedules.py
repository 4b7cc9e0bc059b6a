"""Validate and save schedules: the one place that owns a schedule's rules, for the admin, the API and the
web app. ``schedule_errors`` is every rule (the model's own, then the ones below); ``schedule_save``
checks them once and saves; Django's admin form, which runs the model's rules itself, adds
``schedule_rule_errors``.

Refused, field by field: an unknown time zone, a window longer than the cadence, a reminder outside the
window, an instrument asked more often than its recall period (docs/science.md §1.8), and two schedules that
would ask one person the same instrument within its recall period. Editing a schedule never changes a round
that is already open: rounds copy what they need at open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys import cadence
from surveys.models import Instrument, Organisation, Schedule, Team
from surveys.services.rounds import schedule_refresh, schedule_spec
from surveys.services.validation import changes_assign, model_validate

SCHEDULE_NAME_CONSTRAINT = "schedule_name_unique_per_organisation"
# What the web app and the API may set on a schedule (``schedule_build``); instruments are set apart.
SCHEDULE_FIELDS = (
    "team", "name", "include_subtree", "is_active", "cadence", "every_n_weeks", "nth_weekday", "weekday",
    "local_time", "time_zone", "starts_on", "ends_on", "open_for", "reminder_1", "reminder_2",
    "quiet_start", "quiet_end", "quiet_weekends",
)  # fmt: skip

# cadence's names for the fields -> the model's.
FIELD_NAMES = {
    "kind": "cadence",
    "weekday": "weekday",
    "every_weeks": "every_n_weeks",
    "nth_weekday": "nth_weekday",
    "local_time": "local_time",
    "time_zone": "time_zone",
    "start_date": "starts_on",
    "end_date": "ends_on",
    "pauses": "pauses",
    "open_for": "open_for",
    "reminders": "reminder_1",
}


def _scopes_overlap(a: Schedule, b: Schedule, teams: dict[int, Team]) -> bool:
    """Could one person be asked by both schedules? Only if one's scope contains the other's team."""
    team_a, team_b = teams[a.team_id], teams[b.team_id]
    if team_a.pk == team_b.pk:
        return True
    if a.include_subtree and team_b.path.startswith(team_a.path):
        return True
    return b.include_subtree and team_a.path.startswith(team_b.path)


def schedule_build(
    *, organisation: Organisation, fields: Mapping[str, Any], schedule: Schedule | None = None
) -> Schedule:
    """A schedule with the given fields, not saved (for a preview, or for ``schedule_save``)."""
    target = schedule if schedule is not None else Schedule(organisation=organisation)
    changes_assign(target, fields, SCHEDULE_FIELDS)
    return target


def schedule_errors(
    schedule: Schedule, instruments: Sequence[Instrument], *, now: datetime | None = None
) -> dict[str, list[str]]:
    """Every problem with a schedule as it would be saved, keyed by model field: the model's own rules
    (validators, constraints, a name another schedule of the organisation has) first, then
    ``schedule_rule_errors``."""
    same_name = Schedule.objects.filter(
        organisation_id=schedule.organisation_id, name__iexact=schedule.name.strip()
    ).exclude(pk=schedule.pk)
    names = (
        {"name": [f"Another schedule is already called {schedule.name!r}; choose another name."]}
        if schedule.name and same_name.exists()
        else {}
    )
    try:
        model_validate(schedule, names)
    except ValidationError as error:
        return dict(error.message_dict)
    return schedule_rule_errors(schedule, instruments, now=now)


def schedule_rule_errors(
    schedule: Schedule, instruments: Sequence[Instrument], *, now: datetime | None = None
) -> dict[str, list[str]]:
    """The rules of a schedule beyond its model's own: its team and instruments belong to its organisation,
    the cadence, window and reminders fit (``cadence.validate_cadence``), no instrument is asked more often
    than its recall period, and no other schedule asks the same people the same instrument too soon."""
    errors: dict[str, list[str]] = {}
    if (
        schedule.team_id
        and schedule.organisation_id
        and schedule.team.organisation_id != schedule.organisation_id
    ):
        errors.setdefault("team", []).append("The team belongs to another organisation.")
    if not instruments:
        errors.setdefault("instruments", []).append("Choose at least one instrument.")
    for instrument in instruments:
        if instrument.organisation_id not in (None, schedule.organisation_id):
            errors.setdefault("instruments", []).append(f"{instrument.name} belongs to another organisation.")
    try:
        spec = schedule_spec(schedule)
    except (ValueError, cadence.InvalidCadence) as error:
        errors.setdefault("time_zone", []).append(str(error))
        return errors
    for field, message in cadence.validate_cadence(
        spec, open_for=schedule.open_for, reminders=schedule.reminders
    ).items():
        errors.setdefault(FIELD_NAMES.get(field, "__all__"), []).append(message)
    if errors:
        return errors
    for instrument in instruments:
        recall = timedelta(days=instrument.recall_period_days)
        problem = cadence.check_recall(spec, recall)
        if problem:
            errors.setdefault(
                "every_n_weeks" if schedule.cadence == Schedule.Cadence.WEEKLY else "cadence", []
            ).append(f"{instrument.name}: {problem}")
    if not errors:
        errors.update(_conflicts_with_other_schedules(schedule, spec, instruments, now=now or timezone.now()))
    return errors


def _conflicts_with_other_schedules(
    schedule: Schedule, spec: cadence.CadenceSpec, instruments: Iterable[Instrument], *, now: datetime
) -> dict[str, list[str]]:
    keys = {instrument.key: instrument for instrument in instruments}
    others = (
        Schedule.objects.filter(
            organisation_id=schedule.organisation_id, is_active=True, instruments__key__in=keys
        )
        .exclude(pk=schedule.pk)
        .distinct()
        .select_related("team__organisation")
        .prefetch_related("instruments", "pauses")
    )
    teams = {team.pk: team for team in Team.objects.filter(organisation_id=schedule.organisation_id)}
    errors: dict[str, list[str]] = {}
    for other in others:
        if not _scopes_overlap(schedule, other, teams):
            continue
        for instrument in other.instruments.all():
            mine = keys.get(instrument.key)
            if mine is None or mine.recall_period_days <= 0:
                continue
            clashes = cadence.overlapping_asks(
                spec, schedule_spec(other), recall=timedelta(days=mine.recall_period_days), after=now
            )
            if clashes:
                first = clashes[0]
                errors.setdefault("instruments", []).append(
                    f"{mine.name} is also asked by the schedule “{other.name}”: on {first.first:%Y-%m-%d} "
                    f"and {first.second:%Y-%m-%d} the same people would get it "
                    f"{first.days_apart} days apart, "
                    f"less than its {mine.recall_period_days}-day recall period."
                )
    return errors


def schedule_save(*, schedule: Schedule, instruments: Sequence[Instrument]) -> Schedule:
    """Validate (``schedule_errors``, once) and save a schedule with its instruments, then compute its next
    opening. All or nothing."""
    errors = schedule_errors(schedule, instruments)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            schedule.save()
            schedule.instruments.set(instruments)
            schedule_refresh(schedule=schedule)
    except IntegrityError as error:
        # Two admins saving one name at once: both passed the check, the database let one in.
        if SCHEDULE_NAME_CONSTRAINT not in str(error):
            raise
        raise ValidationError(
            {"name": [f"Another schedule is already called {schedule.name!r}; choose another name."]}
        ) from None
    return schedule


def schedule_preview(
    schedule: Schedule, *, count: int = 5, now: datetime | None = None
) -> list[cadence.OpeningPreview]:
    """The next openings, local and UTC, for the editor."""
    spec = schedule_spec(schedule)
    return cadence.preview_openings(spec, now or timezone.now(), count)


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
