"""Admin for schedules: the service's validation, field by field, and the next openings (local and UTC)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from surveys.models import Round, Schedule, SchedulePause
from surveys.services.rounds import schedule_refresh
from surveys.services.schedules import schedule_preview, schedule_rule_errors


class ScheduleForm(forms.ModelForm[Schedule]):
    class Meta:
        model = Schedule
        fields = [
            "organisation", "team", "name", "include_subtree", "instruments", "is_active", "cadence",
            "every_n_weeks", "nth_weekday", "weekday", "local_time", "time_zone", "starts_on", "ends_on",
            "open_for", "reminder_1", "reminder_2", "quiet_start", "quiet_end", "quiet_weekends",
        ]  # fmt: skip

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        # Django's form has just run the model's own rules; the schedule's other rules are the service's.
        instruments = list(self.cleaned_data.get("instruments") or [])
        for field, messages in schedule_rule_errors(self.instance, instruments).items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)


class PauseInline(admin.TabularInline[SchedulePause, Schedule]):
    model = SchedulePause
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(SimpleHistoryAdmin[Schedule]):
    form = ScheduleForm
    list_display = [
        "name",
        "team",
        "cadence",
        "every_n_weeks",
        "weekday",
        "local_time",
        "zone",
        "next_opening_at",
        "is_active",
    ]
    list_filter = ["organisation", "cadence", "is_active"]
    search_fields = ["name", "team__name"]
    autocomplete_fields = ["team"]
    filter_horizontal = ["instruments"]
    readonly_fields = ["next_openings"]
    inlines = [PauseInline]
    fieldsets = [
        (None, {"fields": ["organisation", "team", "name", "include_subtree", "instruments", "is_active"]}),
        (
            "Cadence",
            {
                "fields": [
                    "cadence",
                    "every_n_weeks",
                    "nth_weekday",
                    "weekday",
                    "local_time",
                    "time_zone",
                    "starts_on",
                    "ends_on",
                ]
            },
        ),
        ("Window and reminders", {"fields": ["open_for", "reminder_1", "reminder_2"]}),
        ("Quiet hours (recipient's local time)", {"fields": ["quiet_start", "quiet_end", "quiet_weekends"]}),
        ("Next openings", {"fields": ["next_openings"]}),
    ]

    @admin.display(description="time zone")
    def zone(self, schedule: Schedule) -> str:
        return schedule.effective_time_zone

    @admin.display(description="next 5 openings")
    def next_openings(self, schedule: Schedule) -> str:
        if not schedule.pk:
            return "Shown once the schedule is saved."
        previews = schedule_preview(schedule)
        if not previews:
            return "No further openings (the schedule has ended)."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    preview.local.strftime("%a %d %b %Y %H:%M %Z"),
                    preview.utc.strftime("%Y-%m-%d %H:%M UTC"),
                    "moved forward by the DST change"
                    if preview.shifted
                    else ("first of two" if preview.ambiguous else ""),
                )
                for preview in previews
            ),
        )
        return format_html(
            '<table id="next-openings"><thead><tr><th>Local</th><th>UTC</th><th></th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        schedule_refresh(schedule=form.instance)


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin[Round]):
    """Rounds are read-only here: who answered is never shown, only how many were invited."""

    list_display = [
        "schedule",
        "opens_at",
        "closes_at",
        "status",
        "invited_count",
        "counted_at",
        "answers_lost",
    ]
    list_filter = ["status", "answers_lost", "organisation"]
    readonly_fields = [field.name for field in Round._meta.fields] + ["instruments"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
