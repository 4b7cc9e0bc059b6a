"""Forms of the surveys app: the admin's people import, and a person's choice of where they are asked."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from surveys.models import CheckinChannel

MAX_IMPORT_BYTES = 5 * 1024 * 1024
DEACTIVATE_LABEL = gettext_lazy("Also deactivate the people who are not in this file")
DEACTIVATE_HELP = gettext_lazy(
    "Off: the import only adds and updates. On: the dry run lists everyone it would deactivate, and you "
    "confirm that separately."
)


class PeopleImportForm(forms.Form):
    file = forms.FileField(
        help_text=gettext_lazy(
            "CSV (comma, semicolon or tab) with columns email, name, team, role, locale, time_zone."
        )
    )
    deactivate_missing = forms.BooleanField(required=False, label=DEACTIVATE_LABEL, help_text=DEACTIVATE_HELP)

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(gettext_lazy("The file is larger than 5 MB; split it."))
        raw = upload.read()
        try:
            self._text: str = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                gettext_lazy("The file is not UTF-8 text; export it as CSV UTF-8.")
            ) from None
        return upload

    def cleaned_text(self) -> str:
        return self._text


class PeopleImportApplyForm(forms.Form):
    """Apply the text of a dry run, named by the fingerprint of its outcome; deactivations need their own
    tick (``confirm_deactivation``)."""

    csv_text = forms.CharField(max_length=MAX_IMPORT_BYTES, strip=False)
    deactivate_missing = forms.BooleanField(required=False)
    fingerprint = forms.CharField(max_length=64)
    confirm_deactivation = forms.BooleanField(required=False)


class CheckinChannelForm(forms.Form):
    """Where a person is asked to check in: their own choice, or (empty) their organisation's default."""

    channel = forms.ChoiceField(
        label=gettext_lazy("Where Pulse asks you to check in"),
        required=False,
        widget=forms.RadioSelect,
        choices=[
            ("", gettext_lazy("As your organisation chose")),
            (CheckinChannel.EMAIL, gettext_lazy("By email")),
            (CheckinChannel.SLACK, gettext_lazy("In Slack (a direct message)")),
            (CheckinChannel.BOTH, gettext_lazy("Both, by email and in Slack")),
        ],
        error_messages={"invalid_choice": gettext_lazy("Choose one of the ways listed.")},
    )
