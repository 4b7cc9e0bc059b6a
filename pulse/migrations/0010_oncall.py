"""On-call load: shifts, pages, time off and their weekly team metrics (docs/oncall.md).

Responders, incidents and people on leave are stored only as keyed hashes (``pulse.models.oncall``)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0009_escalation_clock"),
        ("surveys", "0015_operations_counters"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OncallAbsence",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("person", models.CharField(help_text="Keyed hash of the person's id.", max_length=64)),
                ("first_day", models.DateField()),
                ("last_day", models.DateField()),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_absences",
                        to="surveys.organisation",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organisation", "person", "first_day", "last_day"),
                        name="oncall_absence_natural_key",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("last_day__gte", models.F("first_day"))),
                        name="oncall_absence_last_not_before_first",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="OncallImport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("load", "Shifts and pages"), ("time_off", "Time off")], max_length=16
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("csv", "CSV import"), ("pagerduty", "PagerDuty")], max_length=16
                    ),
                ),
                ("imported_at", models.DateTimeField(auto_now_add=True)),
                ("shifts_new", models.PositiveIntegerField(default=0)),
                ("shifts_existing", models.PositiveIntegerField(default=0)),
                ("pages_new", models.PositiveIntegerField(default=0)),
                ("pages_existing", models.PositiveIntegerField(default=0)),
                ("absences_new", models.PositiveIntegerField(default=0)),
                ("absences_existing", models.PositiveIntegerField(default=0)),
                (
                    "imported_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_imports",
                        to="surveys.organisation",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_imports",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "ordering": ["-imported_at", "-pk"],
                "indexes": [
                    models.Index(fields=["organisation", "-imported_at"], name="oncall_import_org_time")
                ],
            },
        ),
        migrations.CreateModel(
            name="OncallPage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("responder", models.CharField(help_text="Keyed hash of the reference.", max_length=64)),
                ("responder_time_zone", models.CharField(max_length=64)),
                ("occurred_at", models.DateTimeField()),
                ("incident", models.CharField(help_text="Keyed hash of the reference.", max_length=64)),
                ("urgency", models.CharField(choices=[("high", "High"), ("low", "Low")], max_length=8)),
                (
                    "channel",
                    models.CharField(
                        choices=[("push", "Push"), ("phone", "Phone"), ("sms", "SMS"), ("email", "Email")],
                        max_length=8,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("csv", "CSV import"), ("pagerduty", "PagerDuty")], max_length=16
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_pages",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["team", "occurred_at"], name="oncall_page_team_time")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "responder", "occurred_at", "incident", "channel"),
                        name="oncall_page_natural_key",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("urgency__in", ("high", "low"))), name="oncall_page_urgency"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("channel__in", ("push", "phone", "sms", "email"))),
                        name="oncall_page_channel",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="OncallShift",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("responder", models.CharField(help_text="Keyed hash of the reference.", max_length=64)),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                ("level", models.PositiveSmallIntegerField()),
                ("site", models.CharField(blank=True, max_length=200)),
                (
                    "source",
                    models.CharField(
                        choices=[("csv", "CSV import"), ("pagerduty", "PagerDuty")], max_length=16
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_shifts",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["team", "starts_at"], name="oncall_shift_team_start")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "responder", "starts_at", "ends_at", "level"),
                        name="oncall_shift_natural_key",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                        name="oncall_shift_ends_after_start",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("level__in", (1, 2))), name="oncall_shift_level_1_or_2"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="OncallWeek",
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
                ("max_on_call_share", models.FloatField(blank=True, null=True)),
                ("median_on_call_share", models.FloatField(blank=True, null=True)),
                ("incidents", models.PositiveIntegerField()),
                ("incidents_per_shift", models.FloatField(blank=True, null=True)),
                ("rotation_size", models.PositiveIntegerField()),
                ("rotation_by_site", models.JSONField(blank=True, default=dict)),
                (
                    "concentration",
                    models.FloatField(
                        blank=True, help_text="Only when the rotation has >= k people.", null=True
                    ),
                ),
                (
                    "without_time_off_share",
                    models.FloatField(blank=True, help_text="Only when the team has >= k people.", null=True),
                ),
                ("reasons", models.JSONField(blank=True, default=list)),
                ("computed_at", models.DateTimeField()),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oncall_weeks",
                        to="surveys.team",
                    ),
                ),
            ],
            options={
                "ordering": ["team", "week_start"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "week_start"), name="oncall_week_one_per_team_week"
                    )
                ],
            },
        ),
    ]
