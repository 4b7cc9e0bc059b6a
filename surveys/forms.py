"""Forms of the surveys app (admin pages)."""

from __future__ import annotations

from django import forms

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class PeopleImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with columns email, name, team, role, locale, time_zone.")
    confirmed = forms.BooleanField(
        required=False, label="I have read the dry-run report; apply these changes."
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB; split it.")
        raw = upload.read()
        try:
            self._text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text; export it as CSV UTF-8.") from None
        return upload

    def cleaned_text(self) -> str:
        return self._text
