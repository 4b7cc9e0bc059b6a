"""Flag text stored as structured reasons, rendered in the reader's language at read time."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0012_team_results"),
    ]

    operations = []
