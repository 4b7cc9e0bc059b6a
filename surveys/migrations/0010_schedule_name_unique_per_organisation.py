import django.db.models.functions.text
from django.db import migrations, models


def rename_duplicates(apps, schema_editor):
    """Schedules that already share a name (ignoring case) in one organisation keep the oldest's name; the
    others get " (2)", " (3)"… so the constraint can be added. Run again, it finds nothing to rename."""
    Schedule = apps.get_model("surveys", "Schedule")
    seen: dict[tuple[int, str], int] = {}
    taken = {(s.organisation_id, s.name.lower()) for s in Schedule.objects.only("organisation_id", "name")}
    for schedule in Schedule.objects.order_by("pk").only("pk", "organisation_id", "name"):
        key = (schedule.organisation_id, schedule.name.lower())
        if key not in seen:
            seen[key] = 1
            continue
        number = seen[key]
        while True:
            number += 1
            suffix = f" ({number})"
            candidate = schedule.name[: 200 - len(suffix)] + suffix
            if (schedule.organisation_id, candidate.lower()) not in taken:
                break
        seen[key] = number
        taken.add((schedule.organisation_id, candidate.lower()))
        Schedule.objects.filter(pk=schedule.pk).update(name=candidate)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0009_names_on_one_line"),
    ]

    operations = [
        migrations.RunPython(rename_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="schedule",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                models.F("organisation"),
                name="schedule_name_unique_per_organisation",
            ),
        ),
    ]
