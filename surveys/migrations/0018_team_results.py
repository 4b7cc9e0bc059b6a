"""What a team sees of its own results: organisation settings for you said, we did."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0017_slack"),
    ]

    operations = []
