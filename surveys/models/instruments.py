"""Instruments, their questions and their scales, versioned.

An instrument is identified by (key, version). Once it has been used (``first_used_at``) or if it belongs
to the validated default library, it is locked: its wording, options and scoring never change in place.
A change makes a new version (``surveys.services.instruments.instrument_new_version``), and everything
counted later names the version it came from, so trends never mix versions silently (docs/science.md §1.9).

Translations are JSON objects ``{"en": ..., "de": ...}`` on the field they translate, not rows of a
Translation model: a question's wording in every language is one unit that is versioned, copied and
validated together, read together (no join per text), and turned into the pure definition in one step.
Django's gettext catalogues are for the interface, not for data that admins edit and version.

The rules every route must respect live in the pure ``surveys.definitions``; the models' ``clean()``
apply them field by field, so the admin (model forms) and the services refuse the same things.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from surveys.definitions import (
    CHOICE,
    CONVENTION,
    CUTOFF,
    HIGHER_IS_BETTER,
    HIGHER_IS_WORSE,
    LABEL_MAX_LENGTH,
    MEAN,
    SHORT_NAME_MAX_LENGTH,
    SUM,
    TEXT,
    BandDef,
    InstrumentDef,
    QuestionDef,
    ScaleDef,
    bands_from_json,
    check_key,
    check_question,
    check_scale,
    check_short_name,
    check_texts,
    missing_translations,
    options_from_json,
    text_for,
    to_fraction,
)
from surveys.models.organisation import Organisation


def configured_locales() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def validate_identifier(value: str) -> None:
    messages = check_key(value, what="key")
    if messages:
        raise ValidationError(messages[0], code="invalid_key")


LOCKED_MESSAGE = (
    "This instrument is locked: it belongs to the validated default library or has been used. "
    "Make a new version to change it."
)


class Instrument(models.Model):
    key = models.CharField(
        max_length=50,
        validators=[validate_identifier],
        help_text="Stable identifier, e.g. team_mood. Lower-case letters, digits and underscores.",
    )
    version = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    name = models.CharField(max_length=200)
    citation = models.TextField(blank=True, help_text="Where the instrument and its scoring come from.")
    licence = models.TextField(help_text="Under which licence it is used; for your own questions: 'ours'.")
    recall_period_days = models.PositiveSmallIntegerField(
        "recall period (days)",
        default=7,
        help_text="The instrument is never asked more often than this. 0: no limit.",
    )
    validated = models.BooleanField(
        default=False,
        editable=False,
        help_text="A published, validated instrument. Custom instruments are never marked validated.",
    )
    is_default_library = models.BooleanField("default library", default=False, editable=False)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="instruments",
        help_text="The organisation that owns a custom instrument. Empty: available to all.",
    )
    stem = models.JSONField(
        default=dict, blank=True, help_text="Instructions shown above the items, per language."
    )
    translation_sources = models.JSONField(
        default=dict, blank=True, help_text="Where each translation comes from, per language."
    )
    notes = models.TextField(blank=True)
    short_name = models.CharField(
        max_length=SHORT_NAME_MAX_LENGTH,
        blank=True,
        help_text="How report sentences name it beside a cut-off, e.g. WHO-5. Empty: not named.",
    )
    first_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set when a round first uses it; locks it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["key", "version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="instrument_key_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="instrument_version_positive"),
            models.CheckConstraint(
                condition=Q(is_default_library=False) | Q(organisation__isnull=True),
                name="instrument_library_has_no_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key} v{self.version})"

    @property
    def is_locked(self) -> bool:
        """Locked against edits in place: validated default library, or used by a round."""
        return self.is_default_library or self.first_used_at is not None

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        locales = configured_locales()
        for name, messages in (
            ("stem", check_texts(self.stem, locales, required=bool(self.stem))),
            ("translation_sources", check_texts(self.translation_sources, locales, required=False)),
            ("short_name", check_short_name(self.short_name)),
        ):
            if messages:
                errors[name] = messages
        if self.key and self.version:
            clash = Instrument.objects.filter(key=self.key, version=self.version).exclude(pk=self.pk)
            if clash.exists():
                errors.setdefault("key", []).append(
                    f"Version {self.version} of {self.key!r} exists already; choose another key."
                )
        if self.pk is not None and self._stored_is_locked():
            errors.setdefault("__all__", []).append(LOCKED_MESSAGE)
        if errors:
            raise ValidationError(errors)

    def _stored_is_locked(self) -> bool:
        stored = Instrument.objects.filter(pk=self.pk).values("is_default_library", "first_used_at").first()
        return bool(stored and (stored["is_default_library"] or stored["first_used_at"] is not None))

    def stem_in(self, locale: str) -> str:
        """The instructions in ``locale``, or in English when that translation is missing."""
        return text_for(self.stem or {}, locale)

    def definition(self) -> InstrumentDef:
        """The pure definition of this version, for ``surveys.scoring.score_with`` (two queries, or none
        when questions and scales were prefetched).

        A locked instrument cannot change, so its definition is built once per object: the aggregation
        step scores every ballot of a round with it.
        """
        cached: InstrumentDef | None = getattr(self, "_locked_definition", None)
        if cached is not None and self.is_locked:
            return cached
        definition = self._build_definition()
        if self.is_locked:
            self._locked_definition = definition
        return definition

    def _build_definition(self) -> InstrumentDef:
        return InstrumentDef(
            key=self.key,
            version=self.version,
            name=self.name,
            citation=self.citation,
            licence=self.licence,
            recall_period_days=self.recall_period_days,
            validated=self.validated,
            questions=tuple(question.definition() for question in self.questions.all()),
            scales=tuple(scale.definition() for scale in self.scales.all()),
            stem=self.stem or {},
            translation_sources=self.translation_sources or {},
            notes=self.notes,
            short_name=self.short_name,
        )

    def missing_translations(self) -> dict[str, list[str]]:
        """Per locale, the texts that fall back to English."""
        return missing_translations(self.definition(), configured_locales())


class Question(models.Model):
    class Kind(models.TextChoices):
        CHOICE = CHOICE, "Single choice"
        TEXT = TEXT, "Free text"

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="questions")
    key = models.CharField(max_length=50, validators=[validate_identifier])
    order = models.PositiveSmallIntegerField()
    # blank=True: whether a text or an item list is missing is judged by the shared rules in clean(),
    # which say what is missing instead of Django's generic "cannot be blank".
    text = models.JSONField(
        default=dict, blank=True, help_text="The item text per language; English is required."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHOICE)
    options = models.JSONField(
        default=list,
        blank=True,
        help_text="Single choice: the options, each a whole-number value and a label per language.",
    )
    reversed = models.BooleanField(
        default=False, help_text="Scored as (lowest + highest value − chosen value)."
    )
    optional = models.BooleanField(default=False, help_text="Respondents may leave it out without a prompt.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["instrument", "order"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "key"], name="question_key_unique_per_instrument"),
            models.UniqueConstraint(
                fields=["instrument", "order"], name="question_order_unique_per_instrument"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        try:
            options = options_from_json(self.options)
        except ValueError as error:
            raise ValidationError({"options": [str(error)]}) from None
        errors = check_question(self._definition_with(options), configured_locales())
        if self.instrument_id is not None and self.instrument.is_locked:
            errors.setdefault("__all__", []).append(LOCKED_MESSAGE)
        if errors:
            raise ValidationError(errors)

    def text_in(self, locale: str) -> str:
        """The item text in ``locale``, or in English when that translation is missing."""
        return text_for(self.text or {}, locale)

    def options_in(self, locale: str) -> list[dict[str, Any]]:
        """The options as ``{"value": 5, "label": "..."}``, labels in ``locale`` (English when missing)."""
        return [
            {"value": option.value, "label": text_for(option.label, locale)}
            for option in options_from_json(self.options)
        ]

    def definition(self) -> QuestionDef:
        return self._definition_with(options_from_json(self.options))

    def _definition_with(self, options: Any) -> QuestionDef:
        return QuestionDef(
            key=self.key,
            order=self.order if self.order is not None else 0,
            text=self.text if isinstance(self.text, dict) else {},
            kind=self.kind,
            options=options,
            reversed=self.reversed,
            optional=self.optional,
        )


class Scale(models.Model):
    class Method(models.TextChoices):
        SUM = SUM, "Sum × factor (every item required)"
        MEAN = MEAN, "Mean × factor of the answered items"

    class Direction(models.TextChoices):
        HIGHER_IS_BETTER = HIGHER_IS_BETTER, "Higher is better"
        HIGHER_IS_WORSE = HIGHER_IS_WORSE, "Higher is worse"

    class CutoffWord(models.TextChoices):
        CUTOFF = CUTOFF, "cut-off"
        CONVENTION = CONVENTION, "convention (not a published cut-off)"

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="scales")
    key = models.CharField(max_length=50, validators=[validate_identifier])
    name = models.CharField(max_length=200)
    items = models.JSONField(default=list, blank=True, help_text="The keys of the questions it scores.")
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.MEAN)
    factor = models.DecimalField(
        max_digits=9, decimal_places=4, default=Decimal(1), help_text="The sum or mean is multiplied by it."
    )
    min_answered = models.PositiveSmallIntegerField(
        "minimum answered",
        null=True,
        blank=True,
        help_text="Mean only: fewer answered items give no score. Empty: every item is required.",
    )
    bands = models.JSONField(
        default=list, blank=True, help_text="Named cut-offs, most severe first; the first that holds wins."
    )
    note = models.TextField(blank=True)
    direction = models.CharField(
        max_length=20,
        choices=Direction.choices,
        blank=True,
        help_text="Which way the score is read. Empty: the scale is counted but no report shows it.",
    )
    label = models.CharField(
        "report label",
        max_length=LABEL_MAX_LENGTH,
        blank=True,
        help_text="Its name in reports and sentences, e.g. Well-being (WHO-5). Empty: the name.",
    )
    practical_change = models.DecimalField(
        max_digits=9,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=(
            "The smallest change per round that matters, in score points. Empty: 2 on a 0–100 score, "
            "0.05 on a 1–5 or 0–5 score."
        ),
    )
    cutoff_word = models.CharField(
        "threshold word",
        max_length=20,
        choices=CutoffWord.choices,
        default=CUTOFF,
        help_text="What sentences call the bands' thresholds: a published cut-off or a convention.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["instrument", "key"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "key"], name="scale_key_unique_per_instrument"),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        try:
            bands = bands_from_json(self.bands)
        except ValueError as error:
            raise ValidationError({"bands": [str(error)]}) from None
        if not isinstance(self.items, list) or not all(isinstance(item, str) for item in self.items):
            raise ValidationError({"items": ["Items must be a list of question keys."]})
        # Whether the items exist is checked with the instrument's questions, by the service and by the
        # admin's formset, because new questions may be added in the same request.
        errors = check_scale(self._definition_with(bands))
        if self.instrument_id is not None and self.instrument.is_locked:
            errors.setdefault("__all__", []).append(LOCKED_MESSAGE)
        if errors:
            raise ValidationError(errors)

    def definition(self) -> ScaleDef:
        return self._definition_with(bands_from_json(self.bands))

    def _definition_with(self, bands: tuple[BandDef, ...]) -> ScaleDef:
        factor = self.factor if self.factor is not None else Decimal(1)
        return ScaleDef(
            key=self.key,
            name=self.name,
            items=tuple(self.items or ()),
            method=self.method,
            factor=to_fraction(factor),
            min_answered=self.min_answered,
            bands=bands,
            note=self.note,
            direction=self.direction,
            label=self.label,
            practical_change=to_fraction(self.practical_change)
            if self.practical_change is not None
            else None,
            cutoff_word=self.cutoff_word,
        )
