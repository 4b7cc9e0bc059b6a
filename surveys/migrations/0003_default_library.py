"""Load the default instrument library (docs/science.md §1.1) into the database.

Reads only the frozen, pure data of ``surveys.library`` (no app models: the historical models from
``apps.get_model``). Loads exactly the versions named in ``RELEASED``; a released version never changes
(``tests/surveys/test_library.py`` pins their fingerprints), so running this migration today or in a year
gives the same rows. A later library version gets its own migration that loads it.

Re-runnable: rows are upserted by (key, version) and by question / scale key, so running ``load`` twice
changes nothing. Reversible: ``unload`` deletes these library versions (questions and scales cascade); it
fails, as it should, once anything that must not lose its instrument protects them.
"""

from decimal import Decimal

from django.db import migrations

from surveys import library

RELEASED = (
    ("who5", 1),
    ("burnout1", 1),
    ("cbi_work", 1),
    ("cbi_personal", 1),
    ("copsoq_demands", 1),
    ("workload1", 1),
    ("comment", 1),
)


def _definitions():
    for key, version in RELEASED:
        definition = library.get(key, version)
        if definition is None:
            raise RuntimeError(f"surveys.library has no {key} version {version}: released data was removed")
        yield definition


def _threshold(value):
    # Exact decimal strings, as surveys.definitions.bands_to_json writes them.
    if value.denominator == 1:
        return str(value.numerator)
    return format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")


def load(apps, schema_editor):
    Instrument = apps.get_model("surveys", "Instrument")
    Question = apps.get_model("surveys", "Question")
    Scale = apps.get_model("surveys", "Scale")
    for definition in _definitions():
        instrument, _created = Instrument.objects.update_or_create(
            key=definition.key,
            version=definition.version,
            defaults={
                "name": definition.name,
                "citation": definition.citation,
                "licence": definition.licence,
                "recall_period_days": definition.recall_period_days,
                "validated": definition.validated,
                "is_default_library": True,
                "organisation": None,
                "stem": dict(definition.stem),
                "translation_sources": dict(definition.translation_sources),
                "notes": definition.notes,
            },
        )
        question_keys = [question.key for question in definition.questions]
        Question.objects.filter(instrument=instrument).exclude(key__in=question_keys).delete()
        for question in definition.questions:
            Question.objects.update_or_create(
                instrument=instrument,
                key=question.key,
                defaults={
                    "order": question.order,
                    "text": dict(question.text),
                    "kind": question.kind,
                    "options": [
                        {"value": option.value, "label": dict(option.label)} for option in question.options
                    ],
                    "reversed": question.reversed,
                    "optional": question.optional,
                },
            )
        scale_keys = [scale.key for scale in definition.scales]
        Scale.objects.filter(instrument=instrument).exclude(key__in=scale_keys).delete()
        for scale in definition.scales:
            Scale.objects.update_or_create(
                instrument=instrument,
                key=scale.key,
                defaults={
                    "name": scale.name,
                    "items": list(scale.items),
                    "method": scale.method,
                    "factor": Decimal(scale.factor.numerator) / Decimal(scale.factor.denominator),
                    "min_answered": scale.min_answered,
                    "bands": [
                        {"name": band.name, "op": band.op, "threshold": _threshold(band.threshold)}
                        for band in scale.bands
                    ],
                    "note": scale.note,
                },
            )


def unload(apps, schema_editor):
    Instrument = apps.get_model("surveys", "Instrument")
    for key, version in RELEASED:
        Instrument.objects.filter(key=key, version=version, is_default_library=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0002_instruments"),
    ]

    operations = [
        migrations.RunPython(load, unload),
    ]
