"""How reports read a scale moves onto the scale: direction, report label, practical change, threshold
word; and the instrument's short name for sentences.

Until now these lived in a table of the report code, keyed by the shipped scales, so a custom scale was
counted but never reported. The values set here for the default library are that table's, copied as
frozen data (a migration never imports app code); ``tests/surveys/test_library.py`` checks that they equal
``surveys.library``. Custom scales keep an empty direction: nobody has said which way they are read, so they
stay counted and unreported until an admin says so in a new version.

Re-runnable: the data step sets the same values again; reversing it drops the columns.
"""

from decimal import Decimal

from django.apps.registry import Apps
from django.db import migrations, models

# (instrument key, version) -> (short name, {scale key: (direction, label, practical change, word)})
LIBRARY_READING = {
    ("who5", 1): ("WHO-5", {"who5": ("higher_is_better", "Well-being (WHO-5)", "2", "cut-off")}),
    ("burnout1", 1): (
        "single-item burnout",
        {"burnout1": ("higher_is_worse", "Burnout (single item)", "0.05", "cut-off")},
    ),
    ("cbi_work", 1): (
        "CBI",
        {"cbi_work": ("higher_is_worse", "Work-related burnout (CBI)", "2", "convention")},
    ),
    ("cbi_personal", 1): (
        "CBI",
        {"cbi_personal": ("higher_is_worse", "Personal burnout (CBI)", "2", "convention")},
    ),
    ("copsoq_demands", 1): (
        "COPSOQ",
        {"copsoq_demands": ("higher_is_worse", "Quantitative demands (COPSOQ)", "2", "cut-off")},
    ),
    ("workload1", 1): ("", {"workload1": ("higher_is_worse", "Workload", "0.05", "cut-off")}),
}


def set_library_reading(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("surveys", "Instrument")
    Scale = apps.get_model("surveys", "Scale")
    for (key, version), (short_name, scales) in LIBRARY_READING.items():
        Instrument.objects.filter(key=key, version=version, is_default_library=True).update(
            short_name=short_name
        )
        for scale_key, (direction, label, practical, word) in scales.items():
            Scale.objects.filter(
                instrument__key=key,
                instrument__version=version,
                instrument__is_default_library=True,
                key=scale_key,
            ).update(direction=direction, label=label, practical_change=Decimal(practical), cutoff_word=word)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0013_who5_note_cites_docs")]

    operations = [
        migrations.AddField(
            model_name="historicalinstrument",
            name="short_name",
            field=models.CharField(
                blank=True,
                help_text="How report sentences name it beside a cut-off, e.g. WHO-5. Empty: not named.",
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="historicalscale",
            name="cutoff_word",
            field=models.CharField(
                choices=[("cut-off", "cut-off"), ("convention", "convention (not a published cut-off)")],
                default="cut-off",
                help_text="What sentences call the bands' thresholds: a published cut-off or a convention.",
                max_length=20,
                verbose_name="threshold word",
            ),
        ),
        migrations.AddField(
            model_name="historicalscale",
            name="direction",
            field=models.CharField(
                blank=True,
                choices=[("higher_is_better", "Higher is better"), ("higher_is_worse", "Higher is worse")],
                help_text="Which way the score is read. Empty: the scale is counted but no report shows it.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="historicalscale",
            name="label",
            field=models.CharField(
                blank=True,
                help_text="Its name in reports and sentences, e.g. Well-being (WHO-5). Empty: the name.",
                max_length=80,
                verbose_name="report label",
            ),
        ),
        migrations.AddField(
            model_name="historicalscale",
            name="practical_change",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text=(
                    "The smallest change per round that matters, in score points. Empty: 2 on a 0–100 "
                    "score, 0.05 on a 1–5 or 0–5 score."
                ),
                max_digits=9,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="instrument",
            name="short_name",
            field=models.CharField(
                blank=True,
                help_text="How report sentences name it beside a cut-off, e.g. WHO-5. Empty: not named.",
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="scale",
            name="cutoff_word",
            field=models.CharField(
                choices=[("cut-off", "cut-off"), ("convention", "convention (not a published cut-off)")],
                default="cut-off",
                help_text="What sentences call the bands' thresholds: a published cut-off or a convention.",
                max_length=20,
                verbose_name="threshold word",
            ),
        ),
        migrations.AddField(
            model_name="scale",
            name="direction",
            field=models.CharField(
                blank=True,
                choices=[("higher_is_better", "Higher is better"), ("higher_is_worse", "Higher is worse")],
                help_text="Which way the score is read. Empty: the scale is counted but no report shows it.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="scale",
            name="label",
            field=models.CharField(
                blank=True,
                help_text="Its name in reports and sentences, e.g. Well-being (WHO-5). Empty: the name.",
                max_length=80,
                verbose_name="report label",
            ),
        ),
        migrations.AddField(
            model_name="scale",
            name="practical_change",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text=(
                    "The smallest change per round that matters, in score points. Empty: 2 on a 0–100 "
                    "score, 0.05 on a 1–5 or 0–5 score."
                ),
                max_digits=9,
                null=True,
            ),
        ),
        migrations.RunPython(set_library_reading, migrations.RunPython.noop),
    ]
