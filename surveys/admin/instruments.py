"""Admin for the instrument library and custom instruments.

Admins browse every instrument with its citation, licence, texts per language and the translations that
are missing (those fall back to English). They add custom instruments on one page: the instrument, its
questions and its scales are saved together, in the admin's one transaction, or not at all. The forms use
the models' ``clean()`` and therefore the same rules as the services (``surveys.definitions``); the one
rule that spans two inlines (a scale's items must be single-choice questions of the instrument) is checked
by the scale formset against the questions posted with it.

A locked instrument (default library, or used by a round) is shown read-only; changing it means making a
new version (the "Make a new version" action), which copies it into an editable version + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from simple_history.admin import SimpleHistoryAdmin

from surveys.definitions import (
    CHOICE,
    CUTOFF,
    FALLBACK_LOCALE,
    OPERATORS,
    QuestionDef,
    bands_from_json,
    check_scale,
    format_number,
    options_from_json,
    to_fraction,
)
from surveys.models import Instrument, Question, Scale
from surveys.models.instruments import configured_locales
from surveys.services.instruments import instrument_new_version

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups  # the stubs' name for what get_fields returns

_M = TypeVar("_M", bound=Model)

# --- form fields ------------------------------------------------------------------------------------------


def _language_names() -> dict[str, str]:
    return {code: str(name) for code, name in settings.LANGUAGES}


class TranslatedTextWidget(forms.MultiWidget):
    """One text box per configured language, each labelled with its language code."""

    def __init__(self, *, rows: int = 2, attrs: dict[str, Any] | None = None) -> None:
        self.locales = configured_locales()
        names = _language_names()
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            code: forms.Textarea(attrs={"rows": rows, "cols": 48, "placeholder": names[code]})
            for code in self.locales
        }
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[str]:
        texts = value if isinstance(value, Mapping) else {}
        return [texts.get(code, "") for code in self.locales]

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        if not isinstance(value, list):
            value = self.decompress(value)
        final_attrs = self.build_attrs(self.attrs, attrs)
        base_id = final_attrs.get("id")
        parts = []
        for index, (code, widget) in enumerate(zip(self.locales, self.widgets, strict=True)):
            widget_attrs = {**final_attrs, "id": f"{base_id}_{code}"} if base_id else final_attrs
            html = widget.render(
                f"{name}_{code}", value[index] if index < len(value) else "", widget_attrs, renderer
            )
            parts.append(
                format_html(
                    '<div class="pulse-translation"><label for="{}"><b>{}</b></label> {}</div>',
                    widget_attrs.get("id", ""),
                    code,
                    html,
                )
            )
        return mark_safe("".join(parts))  # noqa: S308 - every part went through format_html


class TranslatedTextField(forms.MultiValueField):
    """A ``{locale: text}`` mapping edited as one box per language; empty boxes are left out."""

    def __init__(self, *, rows: int = 2, **kwargs: Any) -> None:
        self.locales = configured_locales()
        kwargs.setdefault("required", False)
        super().__init__(
            fields=[forms.CharField(required=False) for _code in self.locales],
            widget=TranslatedTextWidget(rows=rows),
            require_all_fields=False,
            **kwargs,
        )

    def compress(self, data_list: Sequence[str]) -> dict[str, str]:
        return {
            code: text.strip()
            for code, text in zip(self.locales, data_list, strict=False)
            if text and text.strip()
        }

    def has_changed(self, initial: Any, data: Any) -> bool:
        initial_texts = initial if isinstance(initial, Mapping) else {}
        values = data if isinstance(data, list) else self.widget.decompress(data)
        return self.compress(values) != dict(initial_texts)


class OptionsField(forms.Field):
    """Options edited as lines ``value | English label | German label`` (the German may be left empty)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 60})

    def __init__(self, **kwargs: Any) -> None:
        self.locales = configured_locales()
        columns = " | ".join(f"{name} label" for name in _language_names().values())
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            f"One option per line: value | {columns}. Values are whole numbers; "
            "a missing translation falls back to English.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            lines = []
            for option in value:
                if not isinstance(option, Mapping):
                    return value
                label = option.get("label") or {}
                lines.append(
                    " | ".join([str(option.get("value")), *(label.get(code, "") for code in self.locales)])
                )
            return "\n".join(line.rstrip(" |") for line in lines)
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, list):
            return value
        options: list[dict[str, Any]] = []
        problems: list[str] = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            cells = [cell.strip() for cell in line.split("|")]
            if len(cells) > 1 + len(self.locales):
                problems.append(f"Line {number}: more columns than value and {len(self.locales)} labels.")
                continue
            try:
                option_value = int(cells[0])
            except ValueError:
                problems.append(f"Line {number}: {cells[0]!r} is not a whole number.")
                continue
            label = {code: text for code, text in zip(self.locales, cells[1:], strict=False) if text}
            options.append({"value": option_value, "label": label})
        if problems:
            raise ValidationError(problems)
        return options


class BandsField(forms.Field):
    """Bands edited as lines ``name <= 28``: most severe first, the first that holds wins."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "One band per line, most severe first: name <= 28 (operators <=, <, >=, >). Empty: no bands.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            try:
                return "\n".join(band.describe() for band in bands_from_json(value))
            except ValueError:
                return value
        return value

    def to_python(self, value: Any) -> list[dict[str, str]]:
        if isinstance(value, list):
            return value
        bands: list[dict[str, str]] = []
        problems: list[str] = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[1] not in OPERATORS:
                problems.append(f"Line {number}: write a band as: name <= 28 (operators <=, <, >=, >).")
                continue
            try:
                threshold = format_number(to_fraction(parts[2]))
            except ValueError:
                problems.append(f"Line {number}: {parts[2]!r} is not a number.")
                continue
            bands.append({"name": parts[0], "op": parts[1], "threshold": threshold})
        if problems:
            raise ValidationError(problems)
        return bands


class ItemsField(forms.Field):
    """A scale's items as question keys separated by commas or spaces."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "The keys of the questions it scores, e.g. mood_1, mood_2.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [item for item in (value or "").replace(",", " ").split() if item]


# --- forms and formsets ------------------------------------------------------------------------------------


class InstrumentForm(forms.ModelForm[Instrument]):
    stem = TranslatedTextField(
        rows=3, help_text="Instructions shown above the items, per language (optional)."
    )
    translation_sources = TranslatedTextField(
        rows=2, help_text="Where each translation comes from. Never machine-translate a validated item."
    )

    class Meta:
        model = Instrument
        fields = [
            "key",
            "name",
            "citation",
            "licence",
            "recall_period_days",
            "organisation",
            "short_name",
            "stem",
            "translation_sources",
            "notes",
        ]


class QuestionForm(forms.ModelForm[Question]):
    text = TranslatedTextField(
        rows=2, help_text="English is required; it is shown where a translation is missing."
    )
    options = OptionsField()

    class Meta:
        model = Question
        fields = ["key", "order", "kind", "text", "options", "reversed", "optional"]


# What an admin edits of a scale, in the form and in the instrument page's inline alike.
SCALE_FIELDS = [
    "key",
    "name",
    "items",
    "method",
    "factor",
    "min_answered",
    "bands",
    "note",
    "direction",
    "label",
    "practical_change",
    "cutoff_word",
]


class ScaleForm(forms.ModelForm[Scale]):
    items = ItemsField()
    bands = BandsField()
    # Not required, so that a form posted without it (an older page, a script) means a cut-off, as before.
    cutoff_word = forms.ChoiceField(
        choices=Scale.CutoffWord.choices,
        required=False,
        label="threshold word",
        help_text=Scale._meta.get_field("cutoff_word").help_text,
    )

    def clean_cutoff_word(self) -> str:
        return str(self.cleaned_data.get("cutoff_word") or CUTOFF)

    class Meta:
        model = Scale
        fields = SCALE_FIELDS
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "cols": 60})}


def _deleted(formset: BaseInlineFormSet[Any, Instrument, Any], form: forms.BaseForm) -> bool:
    return bool(formset.can_delete and getattr(form, "cleaned_data", {}).get("DELETE"))


class QuestionInlineFormSet(BaseInlineFormSet[Question, Instrument, forms.ModelForm[Question]]):
    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if (form.has_changed() or form.instance.pk) and not _deleted(self, form)
        ]
        if not kept:
            raise ValidationError("An instrument needs at least one question.")


class ScaleInlineFormSet(BaseInlineFormSet[Scale, Instrument, forms.ModelForm[Scale]]):
    """Checks each scale against the questions posted with it (the cross-inline rule)."""

    def clean(self) -> None:
        super().clean()
        questions = self._posted_questions()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if _deleted(self, form):
                continue
            try:
                scale = form.instance.definition()
            except ValueError:
                continue  # malformed bands: the form already says so
            errors = check_scale(scale, questions)
            # Only the rules that need the posted questions: the form checked the others already.
            for name in ("items", "direction", "practical_change"):
                for message in errors.get(name, []):
                    if message not in form.errors.get(name, []):
                        form.add_error(name, message)

    def _posted_questions(self) -> dict[str, QuestionDef]:
        prefix = Question.instrument.field.remote_field.get_accessor_name()
        data = self.data
        if f"{prefix}-TOTAL_FORMS" not in data:
            return {
                question.key: question.definition()
                for question in Question.objects.filter(instrument=self.instance)
            }
        try:
            total = int(data[f"{prefix}-TOTAL_FORMS"])
        except (TypeError, ValueError):
            return {}
        parser = OptionsField()
        questions: dict[str, QuestionDef] = {}
        for index in range(total):
            key = (data.get(f"{prefix}-{index}-key") or "").strip()
            if not key or data.get(f"{prefix}-{index}-DELETE"):
                continue
            try:
                options = options_from_json(parser.to_python(data.get(f"{prefix}-{index}-options", "")))
            except (ValidationError, ValueError):
                options = ()
            kind = data.get(f"{prefix}-{index}-kind") or CHOICE
            questions[key] = QuestionDef(key=key, order=index, text={}, kind=kind, options=options)
        return questions


# --- read-only displays ----------------------------------------------------------------------------------


def _em(text: str) -> SafeString:
    return format_html("<em>{}</em>", text)


def _texts_html(texts: Mapping[str, str] | None) -> SafeString:
    texts = texts or {}
    rows = []
    for code in configured_locales():
        if texts.get(code):
            rows.append(format_html("<div><b>{}</b> {}</div>", code, texts[code]))
        elif code != FALLBACK_LOCALE:
            rows.append(format_html("<div><b>{}</b> <em>missing: English is shown</em></div>", code))
    return mark_safe("".join(rows))  # noqa: S308 - every row went through format_html


def _options_html(options: Any) -> SafeString:
    try:
        parsed = options_from_json(options)
    except ValueError:
        return _em("malformed options")
    if not parsed:
        return _em("free text")
    rows = []
    for option in parsed:
        labels = []
        for code in configured_locales():
            if option.label.get(code):
                labels.append(format_html("{}: {}", code, option.label[code]))
            elif code != FALLBACK_LOCALE:
                labels.append(format_html("{}: <em>missing</em>", code))
        rows.append(format_html("<div><b>{}</b> {}</div>", option.value, mark_safe(" · ".join(labels))))  # noqa: S308
    return mark_safe("".join(rows))  # noqa: S308 - every row went through format_html


class _LockAwareInline(admin.TabularInline[_M, Instrument]):
    """Editable while the instrument is editable; read-only displays once it is locked."""

    editable_fields: list[str] = []
    locked_fields: list[str] = []

    def _locked(self, obj: Instrument | None) -> bool:
        return obj is not None and obj.is_locked

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self.locked_fields if self._locked(obj) else self.editable_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.locked_fields if self._locked(obj) else []

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 0 if self._locked(obj) else (3 if obj is None else 1)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_delete_permission(request, obj)


class QuestionInline(_LockAwareInline[Question]):
    model = Question
    form = QuestionForm
    formset = QuestionInlineFormSet
    editable_fields = ["order", "key", "kind", "text", "options", "reversed", "optional"]
    locked_fields = ["order", "key", "kind", "text_display", "options_display", "reversed", "optional"]

    @admin.display(description="text")
    def text_display(self, question: Question) -> SafeString:
        return _texts_html(question.text)

    @admin.display(description="options (value and labels)")
    def options_display(self, question: Question) -> SafeString:
        return _options_html(question.options)


class ScaleInline(_LockAwareInline[Scale]):
    model = Scale
    form = ScaleForm
    formset = ScaleInlineFormSet
    editable_fields = SCALE_FIELDS
    locked_fields = [
        "key",
        "name",
        "items_display",
        "method",
        "factor",
        "min_answered",
        "bands_display",
        "note",
        "direction",
        "label",
        "practical_change",
        "cutoff_word",
    ]

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 0 if self._locked(obj) else 1

    @admin.display(description="items")
    def items_display(self, scale: Scale) -> str:
        return ", ".join(scale.items or [])

    @admin.display(description="bands (first that holds wins)")
    def bands_display(self, scale: Scale) -> str:
        try:
            return "; ".join(band.describe() for band in bands_from_json(scale.bands)) or "none"
        except ValueError:
            return "malformed bands"


# --- the instrument admin ---------------------------------------------------------------------------------


@admin.register(Instrument)
class InstrumentAdmin(SimpleHistoryAdmin[Instrument]):
    form = InstrumentForm
    inlines = [QuestionInline, ScaleInline]
    list_display = [
        "key",
        "version",
        "name",
        "validated",
        "is_default_library",
        "recall_period_days",
        "status",
        "translations",
        "licence_summary",
    ]
    list_filter = ["is_default_library", "validated", "organisation"]
    search_fields = ["key", "name"]
    actions = ["make_new_version"]
    always_readonly = [
        "version",
        "status",
        "validated",
        "is_default_library",
        "first_used_at",
        "missing_translations_display",
    ]
    editable_fields = [
        "key",
        "version",
        "name",
        "status",
        "citation",
        "licence",
        "recall_period_days",
        "validated",
        "is_default_library",
        "organisation",
        "short_name",
        "stem",
        "translation_sources",
        "missing_translations_display",
        "notes",
        "first_used_at",
    ]
    locked_fields = [
        "key",
        "version",
        "name",
        "status",
        "citation",
        "licence",
        "recall_period_days",
        "validated",
        "is_default_library",
        "organisation",
        "short_name",
        "stem_display",
        "translation_sources_display",
        "missing_translations_display",
        "notes",
        "first_used_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Instrument]:
        # The translations column reads every question: one prefetch instead of a query per row.
        return super().get_queryset(request).prefetch_related("questions", "scales")

    def get_fields(self, request: HttpRequest, obj: Instrument | None = None) -> _FieldGroups:
        return tuple(self.locked_fields if obj is not None and obj.is_locked else self.editable_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Instrument | None = None) -> list[str]:
        if obj is not None and obj.is_locked:
            # The declared translation fields are named too, so that the admin drops them from the form.
            return [*self.locked_fields, "stem", "translation_sources"]
        return self.always_readonly

    def has_delete_permission(self, request: HttpRequest, obj: Instrument | None = None) -> bool:
        return not (obj is not None and obj.is_locked) and super().has_delete_permission(request, obj)

    @admin.display(description="status")
    def status(self, instrument: Instrument) -> str:
        if instrument.pk is None:
            return "New (custom, not validated)"
        if instrument.is_default_library:
            return "Locked: validated default library, wording cannot change"
        if instrument.first_used_at is not None:
            return f"Locked: used since {instrument.first_used_at:%Y-%m-%d}; make a new version to change it"
        return "Editable: not used yet"

    @admin.display(description="translations")
    def translations(self, instrument: Instrument) -> str:
        missing = instrument.missing_translations()
        codes = [code for code in configured_locales() if code != FALLBACK_LOCALE]
        return "; ".join(
            f"{code}: {len(missing[code])} missing" if code in missing else f"{code}: complete"
            for code in codes
        )

    @admin.display(description="licence")
    def licence_summary(self, instrument: Instrument) -> str:
        return instrument.licence if len(instrument.licence) <= 60 else instrument.licence[:57] + "…"

    @admin.display(description="stem")
    def stem_display(self, instrument: Instrument) -> SafeString:
        return _texts_html(instrument.stem) if instrument.stem else _em("none")

    @admin.display(description="translation sources")
    def translation_sources_display(self, instrument: Instrument) -> SafeString:
        sources = instrument.translation_sources or {}
        if not sources:
            return _em("none: English only")
        return format_html_join("", "<div><b>{}</b> {}</div>", sorted(sources.items()))

    @admin.display(description="missing translations (English is shown)")
    def missing_translations_display(self, instrument: Instrument) -> SafeString:
        if instrument.pk is None:
            return _em("shown after saving")
        missing = instrument.missing_translations()
        if not missing:
            return _em("All texts are translated.")
        return format_html_join(
            "", "<div><b>{}</b> {}</div>", ((code, ", ".join(gaps)) for code, gaps in sorted(missing.items()))
        )

    @admin.action(description="Make a new version (an editable copy) of the selected instruments")
    def make_new_version(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        for instrument in queryset:
            try:
                new = instrument_new_version(instrument=instrument)
            except ValidationError as error:
                for message in error.messages:
                    self.message_user(request, f"{instrument}: {message}", level=messages.ERROR)
                continue
            url = reverse("admin:surveys_instrument_change", args=[new.pk])
            self.message_user(
                request,
                format_html('Made <a href="{}">{}</a>: edit it until a round uses it.', url, new),
                level=messages.SUCCESS,
            )
