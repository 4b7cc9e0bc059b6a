"""Services that write instruments: create a custom one, make a new version, mark one as used.

Every service takes the pure definition (``surveys.definitions.InstrumentDef``) as input, checks it field by
field with the same rules as the admin (``check_instrument``), and either writes everything in one
transaction or raises ``ValidationError`` with a message per field (``key``, ``questions[2].options``,
``scales[0].items``, ...) and writes nothing.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from surveys.definitions import (
    InstrumentDef,
    bands_to_json,
    check_instrument,
    options_to_json,
)
from surveys.models import Instrument, Organisation, Question, Scale
from surveys.models.instruments import configured_locales


def instrument_create(*, definition: InstrumentDef, organisation: Organisation | None = None) -> Instrument:
    """Create a custom instrument at version 1, marked not validated.

    Refuses a key that any instrument (of any version) already uses: a changed instrument is a new version
    of the old one (``instrument_new_version``), not a new instrument under the same key.
    """
    errors = check_instrument(dataclasses.replace(definition, version=1), configured_locales())
    if definition.key and Instrument.objects.filter(key=definition.key).exists():
        errors.setdefault("key", []).append(
            f"The key {definition.key!r} is taken; choose another, or make a new version of that instrument."
        )
    if errors:
        raise ValidationError(errors)
    return _write(dataclasses.replace(definition, version=1), organisation=organisation)


def instrument_new_version(*, instrument: Instrument, definition: InstrumentDef | None = None) -> Instrument:
    """Make the next version of ``instrument``: a copy (``definition`` None) or the given content.

    The new version is a custom, not validated instrument that nobody has used yet, so it can be edited
    until a round uses it. The default library is refused: its wording is validated and must not be
    altered; a variant is a custom instrument with its own key.
    """
    if instrument.is_default_library:
        raise ValidationError(
            {
                "key": [
                    f"{instrument.key!r} belongs to the validated default library; its wording cannot be "
                    "changed. Create a custom instrument with its own key instead."
                ]
            }
        )
    content = definition if definition is not None else instrument.definition()
    if content.key != instrument.key:
        raise ValidationError({"key": [f"A new version keeps the key {instrument.key!r}."]})
    with transaction.atomic():
        # Lock the key's versions so that two concurrent calls cannot both pick the same next number.
        versions = Instrument.objects.select_for_update().filter(key=instrument.key)
        next_version = (versions.aggregate(highest=Max("version"))["highest"] or 0) + 1
        new = dataclasses.replace(content, version=next_version)
        errors = check_instrument(new, configured_locales())
        if errors:
            raise ValidationError(errors)
        return _write(new, organisation=instrument.organisation)


def instrument_mark_used(*, instrument: Instrument) -> bool:
    """Lock ``instrument`` because a round uses it. Returns True if this call locked it.

    A conditional UPDATE, so a second call (or a concurrent one) changes nothing and keeps the first time.
    """
    changed = Instrument.objects.filter(pk=instrument.pk, first_used_at__isnull=True).update(
        first_used_at=timezone.now()
    )
    instrument.refresh_from_db(fields=["first_used_at"])
    return changed == 1


def _write(definition: InstrumentDef, *, organisation: Organisation | None) -> Instrument:
    try:
        with transaction.atomic():
            instrument = Instrument.objects.create(
                key=definition.key,
                version=definition.version,
                name=definition.name,
                citation=definition.citation,
                licence=definition.licence,
                recall_period_days=definition.recall_period_days,
                validated=False,
                is_default_library=False,
                organisation=organisation,
                stem=dict(definition.stem),
                translation_sources=dict(definition.translation_sources),
                notes=definition.notes,
                short_name=definition.short_name,
            )
            bulk_create_with_history(
                [
                    Question(
                        instrument=instrument,
                        key=question.key,
                        order=question.order,
                        text=dict(question.text),
                        kind=question.kind,
                        options=options_to_json(question.options),
                        reversed=question.reversed,
                        optional=question.optional,
                    )
                    for question in definition.questions
                ],
                Question,
            )
            bulk_create_with_history(
                [
                    Scale(
                        instrument=instrument,
                        key=scale.key,
                        name=scale.name,
                        items=list(scale.items),
                        method=scale.method,
                        factor=_decimal(scale.factor),
                        min_answered=scale.min_answered,
                        bands=bands_to_json(scale.bands),
                        note=scale.note,
                        direction=scale.direction,
                        label=scale.label,
                        practical_change=(
                            _decimal(scale.practical_change) if scale.practical_change is not None else None
                        ),
                        cutoff_word=scale.cutoff_word,
                    )
                    for scale in definition.scales
                ],
                Scale,
            )
    except IntegrityError:
        # Only a concurrent writer can get here (the checks above found no clash): same answer as theirs.
        raise ValidationError(
            {"key": [f"Version {definition.version} of {definition.key!r} was just created by someone else."]}
        ) from None
    return instrument


def _decimal(value: Fraction) -> Decimal:
    # check_scale admits only factors with at most FACTOR_DECIMAL_PLACES places, so this is exact.
    return Decimal(value.numerator) / Decimal(value.denominator)
