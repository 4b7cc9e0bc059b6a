"""PagerDuty connections: encrypted keys and webhook secrets, sync cursors (docs/oncall.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0010_oncall"),
    ]

    operations = [
        migrations.CreateModel(
            name="PagerDutyConnection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "api_url",
                    models.CharField(
                        help_text="The REST API's base URL (US or EU service region).", max_length=200
                    ),
                ),
                (
                    "api_key_sealed",
                    models.TextField(help_text="The REST API key, sealed (surveys.stored_secrets)."),
                ),
                ("api_key_hint", models.CharField(help_text="The key's last four characters.", max_length=8)),
                (
                    "webhook_token",
                    models.CharField(help_text="Set by the service on creation.", max_length=64, unique=True),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "organisation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pagerduty_connection",
                        to="surveys.organisation",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PagerDutyWebhookSecret",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("secret_sealed", models.TextField()),
                ("hint", models.CharField(max_length=8)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_secrets",
                        to="pulse.pagerdutyconnection",
                    ),
                ),
            ],
            options={"ordering": ["created_at", "pk"]},
        ),
        migrations.CreateModel(
            name="PagerDutyTeamLink",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("schedule_ids", models.JSONField(blank=True, default=list)),
                ("escalation_policy_ids", models.JSONField(blank=True, default=list)),
                ("service_ids", models.JSONField(blank=True, default=list)),
                (
                    "synced_until",
                    models.DateTimeField(
                        blank=True, help_text="The sync cursor: synced up to here.", null=True
                    ),
                ),
                ("sync_requested_at", models.DateTimeField(blank=True, null=True)),
                ("sync_started_at", models.DateTimeField(blank=True, null=True)),
                ("last_sync_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_sync_outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("ok", "Synced"),
                            ("key_refused", "The API key was refused"),
                            ("forbidden", "The API key may not read these objects"),
                            ("rate_limited", "PagerDuty kept answering 429 (rate limit)"),
                            ("unreachable", "PagerDuty could not be reached"),
                            ("server_error", "PagerDuty answered with an error"),
                            ("bad_response", "PagerDuty's answer could not be read"),
                            ("key_unreadable", "The stored key cannot be opened (PULSE_SECRET_KEYS)"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "last_sync_status",
                    models.PositiveSmallIntegerField(
                        blank=True, help_text="The HTTP status of a failed sync's last answer.", null=True
                    ),
                ),
                ("last_shifts_new", models.PositiveIntegerField(default=0)),
                ("last_pages_new", models.PositiveIntegerField(default=0)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="team_links",
                        to="pulse.pagerdutyconnection",
                    ),
                ),
                (
                    "team",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pagerduty_link",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "ordering": ["connection", "team"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("sync_requested_at__isnull", False)),
                        fields=["sync_requested_at"],
                        name="pagerduty_link_requested",
                    )
                ],
            },
        ),
    ]
