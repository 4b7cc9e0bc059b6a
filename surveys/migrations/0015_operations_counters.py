"""The counters of ``/metrics`` that every process adds to: deliveries per transport and outcome, and each
tick step's runs, rows and seconds (``surveys.models.tick``). New tables only; nothing to re-run."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0014_scale_reading"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeliveryCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "transport",
                    models.CharField(
                        choices=[
                            ("checkin_email", "Check-in email (invitation or reminder)"),
                            ("notification_email", "Flag notification email"),
                            ("slack", "Slack"),
                            ("webhook", "Webhook"),
                            ("sign_in_email", "Sign-in or email-change email"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("sent", "Accepted by the mail server or the receiver"),
                            ("failed", "Failed for good"),
                            ("retried", "Failed for now, backed off to retry"),
                            (
                                "deferred",
                                "Became sendable inside the recipient's quiet hours; moved to their end",
                            ),
                        ],
                        max_length=10,
                    ),
                ),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("transport", "outcome"), name="delivery_count_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="StepTiming",
            fields=[
                (
                    "step",
                    models.CharField(
                        help_text="The step's dotted path.", max_length=200, primary_key=True, serialize=False
                    ),
                ),
                ("runs", models.BigIntegerField(default=0)),
                (
                    "rows",
                    models.BigIntegerField(
                        default=0, help_text="Rows (emails, rounds, flags…) the runs handled."
                    ),
                ),
                ("seconds", models.FloatField(default=0.0)),
                ("failures", models.BigIntegerField(default=0, help_text="Runs that raised.")),
            ],
        ),
    ]
