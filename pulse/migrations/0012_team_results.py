"""What a team sees of its own results: the leader's note on a round, reminders to act (you said, we did)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0011_pagerduty"),
    ]

    operations = []
