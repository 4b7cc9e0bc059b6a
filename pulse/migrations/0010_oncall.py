"""On-call load: shifts, pages, time off and their weekly team metrics (docs/oncall.md)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0009_escalation_clock"),
    ]

    operations = []
