"""The WHO-5's note for admins cites ``docs/science.md §1.10``, a document in the repository.

Only the note changes, never wording, options or scoring, so the released version stays version 1. A note
an admin has rewritten is left alone: only the shipped text is replaced.
"""

from django.apps.registry import Apps
from django.db import migrations

SHIPPED_START = "Show a person's own result only to that person, with support resources ("
NOTE = "Show a person's own result only to that person, with support resources (docs/science.md §1.10)."


def cite_docs(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("surveys", "Instrument")
    shipped = Instrument.objects.filter(key="who5", version=1, notes__startswith=SHIPPED_START)
    shipped.exclude(notes=NOTE).update(notes=NOTE)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0012_tick_heartbeat")]

    operations = [migrations.RunPython(cite_docs, migrations.RunPython.noop)]
