"""Slack check-ins: workspace installs, how each person is asked, the Slack message outbox."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0016_organisation_sign_in_methods"),
    ]

    operations = []
