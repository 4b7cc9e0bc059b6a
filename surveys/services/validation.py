"""The model's own rules for the services that write it, reported all at once and field by field.

The organisation, team, people, membership and schedule services (``surveys.services.organisation``,
``surveys.services.schedules``) validate with the model's own rules (``full_clean``: validators,
``clean()``, constraints) plus the few rules that need the database, and raise
``django.core.exceptions.ValidationError`` with messages keyed by field, so the web forms and the API
report the same errors field by field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def changes_assign(instance: Any, changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Set the fields in ``changes`` on ``instance``; a field outside ``allowed`` is refused by name."""
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


def model_validate(instance: Any, errors: dict[str, list[str]] | None = None, **kwargs: Any) -> None:
    """Run the model's validation (``full_clean(**kwargs)``) and raise everything at once, together with
    ``errors`` found before."""
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
