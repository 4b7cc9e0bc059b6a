"""The forms of the on-call import pages: each file uploaded or pasted, decoded as UTF-8, at most 5 MB."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from surveys.forms import MAX_IMPORT_BYTES


def _read(data: dict[str, Any], upload_field: str, text_field: str) -> None:
    """Put the uploaded file's text, when there is one, in place of the pasted text."""
    upload = data.get(upload_field)
    if upload is None:
        return
    if upload.size > MAX_IMPORT_BYTES:
        raise ValidationError({upload_field: _("The file is larger than 5 MB; split it.")})
    try:
        data[text_field] = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            {upload_field: _("The file is not UTF-8 text; export it as CSV UTF-8.")}
        ) from None


def _textarea() -> forms.Textarea:
    return forms.Textarea({"rows": 6, "spellcheck": "false"})


class OncallImportForm(forms.Form):
    shifts_file = forms.FileField(
        required=False,
        label=_("shifts.csv"),
        help_text=_("Columns: team, responder, start, end, level, site."),
    )
    shifts_text = forms.CharField(
        required=False, label=_("Or paste shifts.csv"), widget=_textarea(), max_length=MAX_IMPORT_BYTES
    )
    pages_file = forms.FileField(
        required=False,
        label=_("pages.csv"),
        help_text=_(
            "Columns: team, responder, responder_time_zone, occurred_at, incident, urgency, channel."
        ),
    )
    pages_text = forms.CharField(
        required=False, label=_("Or paste pages.csv"), widget=_textarea(), max_length=MAX_IMPORT_BYTES
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _read(data, "shifts_file", "shifts_text")
        _read(data, "pages_file", "pages_text")
        if not data.get("shifts_text") and not data.get("pages_text"):
            raise ValidationError({"shifts_file": _("Choose shifts.csv, pages.csv or both, or paste them.")})
        return data


class OncallApplyForm(forms.Form):
    """The confirmation: the same texts the dry run read, sent back from hidden fields."""

    shifts_text = forms.CharField(required=False, max_length=MAX_IMPORT_BYTES)
    pages_text = forms.CharField(required=False, max_length=MAX_IMPORT_BYTES)


class TimeOffImportForm(forms.Form):
    file = forms.FileField(
        required=False, label=_("CSV file"), help_text=_("Columns: email, first_day, last_day.")
    )
    csv_text = forms.CharField(
        required=False, label=_("Or paste the CSV"), widget=_textarea(), max_length=MAX_IMPORT_BYTES
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _read(data, "file", "csv_text")
        if not data.get("csv_text"):
            raise ValidationError({"file": _("Choose a file or paste the CSV.")})
        return data


class TimeOffApplyForm(forms.Form):
    csv_text = forms.CharField(max_length=MAX_IMPORT_BYTES)
