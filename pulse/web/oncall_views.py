"""The admin pages that import on-call load (shifts.csv and pages.csv) and time off: a dry run first, a
report field by field, then the same files applied (docs/oncall.md §7 and §8)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pulse.models.oncall import OncallImport
from pulse.permissions import Caller
from pulse.services.oncall import (
    OncallImportReport,
    TimeOffImportReport,
    oncall_csv_import,
    oncall_time_off_import,
)
from pulse.web.oncall_forms import OncallApplyForm, OncallImportForm, TimeOffApplyForm, TimeOffImportForm
from pulse.web.views import admin_required

RECENT_IMPORTS = 10


def _recent(caller: Caller, kind: str) -> list[OncallImport]:
    return list(
        OncallImport.objects.filter(organisation=caller.organisation, kind=kind).select_related("team")[
            :RECENT_IMPORTS
        ]
    )


@admin_required
def oncall_import_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Upload or paste shifts.csv and pages.csv: always a dry run first, then apply the same texts."""
    report: OncallImportReport | None = None
    shifts_text = pages_text = ""
    form = OncallImportForm()
    if request.method == "POST" and request.POST.get("action") == "apply":
        apply_form = OncallApplyForm(request.POST)
        if not apply_form.is_valid():
            return redirect("web_oncall_import")
        shifts_text = apply_form.cleaned_data["shifts_text"]
        pages_text = apply_form.cleaned_data["pages_text"]
        report = oncall_csv_import(
            organisation_id=caller.organisation_id,
            shifts_text=shifts_text,
            pages_text=pages_text,
            dry_run=False,
            imported_by=request.user,  # type: ignore[arg-type]
        )
        if report.applied:
            total = report.total
            messages.success(
                request,
                gettext(
                    "Stored. New shifts: %(shifts)s. New pages: %(pages)s. Rows already stored: %(existing)s."
                )
                % {
                    "shifts": total.shifts_new,
                    "pages": total.pages_new,
                    "existing": total.shifts_existing + total.pages_existing,
                },
            )
            return redirect("web_oncall_import")
    elif request.method == "POST":
        form = OncallImportForm(request.POST, request.FILES)
        if form.is_valid():
            shifts_text = form.cleaned_data["shifts_text"]
            pages_text = form.cleaned_data["pages_text"]
            report = oncall_csv_import(
                organisation_id=caller.organisation_id,
                shifts_text=shifts_text,
                pages_text=pages_text,
                dry_run=True,
            )
    failed = form.errors or (report is not None and not report.ok)
    return render(
        request,
        "pulse/admin_app/oncall_import.html",
        {
            "form": form,
            "report": report,
            "shifts_text": shifts_text,
            "pages_text": pages_text,
            "recent": _recent(caller, OncallImport.Kind.LOAD),
        },
        status=400 if request.method == "POST" and failed else 200,
    )


@admin_required
def time_off_import_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Upload or paste a time-off CSV: a dry run first, then apply the same text."""
    report: TimeOffImportReport | None = None
    csv_text = ""
    form = TimeOffImportForm()
    if request.method == "POST" and request.POST.get("action") == "apply":
        apply_form = TimeOffApplyForm(request.POST)
        if not apply_form.is_valid():
            return redirect("web_time_off_import")
        csv_text = apply_form.cleaned_data["csv_text"]
        report = oncall_time_off_import(
            organisation_id=caller.organisation_id,
            csv_text=csv_text,
            dry_run=False,
            imported_by=request.user,  # type: ignore[arg-type]
        )
        if report.applied:
            messages.success(
                request,
                gettext("Stored. New absences: %(count)s. Already stored: %(existing)s.")
                % {"count": report.absences_new, "existing": report.absences_existing},
            )
            return redirect("web_time_off_import")
    elif request.method == "POST":
        form = TimeOffImportForm(request.POST, request.FILES)
        if form.is_valid():
            csv_text = form.cleaned_data["csv_text"]
            report = oncall_time_off_import(
                organisation_id=caller.organisation_id, csv_text=csv_text, dry_run=True
            )
    failed = form.errors or (report is not None and not report.ok)
    return render(
        request,
        "pulse/admin_app/time_off_import.html",
        {
            "form": form,
            "report": report,
            "csv_text": csv_text,
            "recent": _recent(caller, OncallImport.Kind.TIME_OFF),
        },
        status=400 if request.method == "POST" and failed else 200,
    )
