"""Slack check-ins: workspace installs, how each person is asked, the Slack message outbox."""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0016_organisation_sign_in_methods"),
    ]

    operations = [
        migrations.CreateModel(
            name="SlackUser",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "user_id",
                    models.CharField(blank=True, help_text="Slack's id of the user (U…).", max_length=32),
                ),
                ("looked_up_at", models.DateTimeField(blank=True, null=True)),
                (
                    "channel",
                    models.CharField(
                        blank=True,
                        choices=[("email", "Email"), ("slack", "Slack"), ("both", "Email and Slack")],
                        max_length=8,
                    ),
                ),
                (
                    "person",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slack_user",
                        to="surveys.person",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SlackWorkspace",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "team_id",
                    models.CharField(
                        help_text="Slack's id of the workspace (T…).", max_length=32, unique=True
                    ),
                ),
                ("team_name", models.CharField(blank=True, max_length=200)),
                ("bot_token", models.TextField(editable=False, help_text="Sealed (surveys.stored_secrets).")),
                ("bot_token_hint", models.CharField(blank=True, editable=False, max_length=8)),
                (
                    "signing_secret",
                    models.TextField(
                        blank=True,
                        editable=False,
                        help_text="Sealed; empty: the installation's PULSE_SLACK_SIGNING_SECRET.",
                    ),
                ),
                ("signing_secret_hint", models.CharField(blank=True, editable=False, max_length=8)),
                (
                    "default_channel",
                    models.CharField(
                        choices=[("email", "Email"), ("slack", "Slack"), ("both", "Email and Slack")],
                        default="email",
                        max_length=8,
                    ),
                ),
                (
                    "mode",
                    models.CharField(
                        choices=[
                            (
                                "link",
                                "Link: the button opens the check-in page (answers never pass through Slack)",
                            ),
                            (
                                "modal",
                                "Modal: people answer inside Slack (answers pass through Slack's servers)",
                            ),
                        ],
                        default="link",
                        max_length=8,
                    ),
                ),
                ("connected_at", models.DateTimeField()),
                ("next_send_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "organisation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slack_workspace",
                        to="surveys.organisation",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SlackMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("due_at", models.DateTimeField(blank=True, null=True)),
                ("handled", models.PositiveSmallIntegerField(default=0)),
                ("outcomes", models.CharField(blank=True, default="", max_length=3)),
                ("claim", models.UUIDField(blank=True, null=True)),
                ("claimed_until", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("error", models.CharField(blank=True, default="", max_length=500)),
                ("channel_id", models.CharField(blank=True, default="", max_length=32)),
                ("message_ts", models.CharField(blank=True, default="", max_length=32)),
                ("thanked", models.BooleanField(default=False)),
                (
                    "invitation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slack_message",
                        to="surveys.invitation",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="surveys.slackworkspace",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("due_at__isnull", False)),
                        fields=["due_at"],
                        name="slack_message_due",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("handled", django.db.models.functions.text.Length("outcomes"))),
                        name="slack_message_outcome_each",
                    )
                ],
            },
        ),
    ]
