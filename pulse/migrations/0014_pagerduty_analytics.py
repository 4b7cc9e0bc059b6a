"""PagerDuty Analytics: a team link's PagerDuty team and Analytics state, and Analytics' weekly team sums of
interruptions, the cross-check of the log-entry counts (docs/oncall.md §9.1)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0013_flag_words"),
        ("surveys", "0018_team_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="pagerdutyteamlink",
            name="analytics_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pagerdutyteamlink",
            name="analytics_state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("available", "Analytics answered"),
                    ("unavailable", "The account or key has no Analytics (402, 403 or 404)"),
                    ("failed", "Analytics answered with another error; asked again on the next sync"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="pagerdutyteamlink",
            name="analytics_status",
            field=models.PositiveSmallIntegerField(
                blank=True, help_text="The HTTP status of Analytics' last refusal.", null=True
            ),
        ),
        migrations.AddField(
            model_name="pagerdutyteamlink",
            name="pagerduty_team_id",
            field=models.CharField(
                blank=True,
                help_text="The PagerDuty team Analytics is asked about (empty: not asked).",
                max_length=32,
            ),
        ),
        migrations.CreateModel(
            name="PagerDutyAnalyticsWeek",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "week_start",
                    models.DateField(help_text="The Monday of the ISO week, in the team's time zone."),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                ("interruptions_business", models.PositiveIntegerField()),
                ("interruptions_off", models.PositiveIntegerField()),
                ("interruptions_sleep", models.PositiveIntegerField()),
                ("fetched_at", models.DateTimeField()),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pagerduty_analytics_weeks",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "ordering": ["team", "week_start"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "week_start"), name="pagerduty_analytics_one_per_week"
                    )
                ],
            },
        ),
    ]
