"""What a team sees of its own results: organisation settings for you said, we did."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0017_slack"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalorganisation",
            name="no_action_reminder_days",
            field=models.PositiveSmallIntegerField(
                default=7,
                help_text="A flag with no action this many days after it opened: its leaders are reminded once.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(90),
                ],
                verbose_name="remind leaders after (days)",
            ),
        ),
        migrations.AddField(
            model_name="historicalorganisation",
            name="team_summaries",
            field=models.BooleanField(
                default=True,
                help_text="After a round's results are published, each member of a team with results gets a short summary email: the results, the leader's actions and note.",
                verbose_name="team result summaries",
            ),
        ),
        migrations.AddField(
            model_name="organisation",
            name="no_action_reminder_days",
            field=models.PositiveSmallIntegerField(
                default=7,
                help_text="A flag with no action this many days after it opened: its leaders are reminded once.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(90),
                ],
                verbose_name="remind leaders after (days)",
            ),
        ),
        migrations.AddField(
            model_name="organisation",
            name="team_summaries",
            field=models.BooleanField(
                default=True,
                help_text="After a round's results are published, each member of a team with results gets a short summary email: the results, the leader's actions and note.",
                verbose_name="team result summaries",
            ),
        ),
    ]
