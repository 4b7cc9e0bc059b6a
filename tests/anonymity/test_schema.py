"""The answer-bearing tables cannot reach a person: no foreign key, column or timestamp path.

docs/anonymity.md §2: what someone answered and who answered are stored apart. These
tests read the models' metadata, so they fail the moment a field is added that would join the two, or a
new table that holds answers appears without being listed (EvaP's test suite does the same for its
answer counters).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models

from surveys.models import (
    ANSWER_BEARING_MODELS,
    Comment,
    Invitation,
    Participation,
    Person,
    Round,
    SealedBallot,
)

# Models whose rows are derived from the counters after close. They are not in ANSWER_BEARING_MODELS
# (``surveys`` never imports ``pulse``) but they carry answers too, so they get the same checks.
DERIVED_ANSWER_MODELS = ("pulse.TeamAggregate",)

# Fields whose names look like answers but are not, each with the reason.
NOT_ANSWERS: dict[tuple[str, str], str] = {
    ("surveys.Question", "text"): "the question's wording per language, written by admins",
    ("pulse.PagerDutyConnection", "api_key_sealed"): "the organisation's PagerDuty key, sealed",
    ("pulse.PagerDutyWebhookSecret", "secret_sealed"): "a webhook subscription's signing secret, sealed",
    ("pulse.RoundNote", "text"): "the leader's note to the team on a round, not an answer",
    ("pulse.RoundNoteRevision", "text"): "earlier versions of the leader's note",
    ("pulse.TeamSummarySlackMessage", "text"): (
        "a team summary DM's notification line (the team and the round's closing day), rendered from the "
        "published release, the same for every member of the team"
    ),
    ("surveys.HistoricalQuestion", "text"): "the history of the question's wording",
    ("surveys.Scale", "bands"): "the scale's published cut-offs, not anybody's band",
    ("surveys.HistoricalScale", "bands"): "the history of a scale's cut-offs",
    ("surveys.Round", "invited_count"): "how many people were invited, known when the round opens",
    ("surveys.Invitation", "sealed_token"): "the sealed link token for reminders, erased at close",
    ("surveys.Round", "answers_lost"): "whether the round's key was missing at close: one flag per round",
    ("surveys.DeliveryCount", "count"): (
        "messages sent or failed per transport and outcome, summed over every round and person (/metrics); "
        "no 'skipped' outcome, which would count who answered"
    ),
    (
        "pulse.Flag",
        "reopen_count",
    ): "how often a trend flag was reopened; a flag holds only published numbers",
}

ANSWER_LIKE = re.compile(
    r"(^|_)(value|values|answer|answers|text|texts|score|scores|bucket|buckets|ciphertext|sealed|"
    r"comment|comments|histogram|total|band|bands|count|respondents)($|_)"
)
# Times on answer rows that are the same for every respondent of the round, with the reason.
ROUND_LEVEL_TIMES: dict[tuple[str, str], str] = {
    ("pulse.TeamAggregate", "closes_at"): "a copy of Round.closes_at, shared by the whole round",
}
IDENTIFYING_NAME = re.compile(r"person|people|user|invitation|participation|email|token|name|ip_?addr")
FORBIDDEN = {Person, Participation, Invitation}

# Rows written once per submission must not reveal their order: a random (version 4) UUID key.
PER_SUBMISSION = (SealedBallot, Comment)


def _answer_models() -> list[type[models.Model]]:
    return [*ANSWER_BEARING_MODELS, *(apps.get_model(label) for label in DERIVED_ANSWER_MODELS)]


def _reachable(model: type[models.Model]) -> set[type[models.Model]]:
    """Every model reachable from ``model`` by following forward relations (FK, one-to-one, many-to-many)."""
    seen: set[type[models.Model]] = set()
    stack = [model]
    while stack:
        current = stack.pop()
        for field in current._meta.get_fields():
            if not field.is_relation or (field.auto_created and not field.concrete):
                continue  # reverse relations: every table is someone's target, that is not a path out
            target = field.related_model
            if isinstance(target, type) and issubclass(target, models.Model) and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _project_models() -> list[type[models.Model]]:
    """Models of the apps that live in this repository (not Django's, not third-party packages')."""
    base = Path(settings.BASE_DIR).resolve()
    venv = base / ".venv"
    found: list[type[models.Model]] = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(base) and not path.is_relative_to(venv):
            found.extend(config.get_models())
    return found


def test_the_walk_finds_a_person_when_there_is_a_path() -> None:
    """The walk itself must be able to fail: from Participation and Invitation it does reach people."""
    assert Person in _reachable(Participation)
    assert Person in _reachable(Invitation)
    assert Round in _reachable(Invitation)
    assert get_user_model() in _reachable(Participation)  # Person.user


@pytest.mark.parametrize("model", _answer_models(), ids=lambda model: model._meta.label)
def test_no_relation_path_to_a_person(model: type[models.Model]) -> None:
    reachable = _reachable(model)
    forbidden = FORBIDDEN | {get_user_model()}
    assert not (reachable & forbidden), f"{model._meta.label} reaches {reachable & forbidden}"


@pytest.mark.parametrize("model", _answer_models(), ids=lambda model: model._meta.label)
def test_no_column_that_names_a_person(model: type[models.Model]) -> None:
    """Also no plain column (an integer with no foreign key, a copied email) that could identify someone."""
    offending = [
        field.name
        for field in model._meta.concrete_fields
        if IDENTIFYING_NAME.search(field.name) or IDENTIFYING_NAME.search(field.column or "")
    ]
    assert not offending, f"{model._meta.label} has columns {offending}"


@pytest.mark.parametrize("model", _answer_models(), ids=lambda model: model._meta.label)
def test_no_timestamp(model: type[models.Model]) -> None:
    """A time on an answer row would order it beside the Participation written at the same instant."""
    timed = [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.DateField | models.TimeField | models.DurationField)
        and (model._meta.label, field.name) not in ROUND_LEVEL_TIMES
    ]
    assert not timed, f"{model._meta.label} has time fields {timed}"


@pytest.mark.parametrize("model", PER_SUBMISSION, ids=lambda model: model._meta.label)
def test_rows_written_per_submission_have_random_keys(model: type[models.Model]) -> None:
    """A sequential id, or a time-based UUID (version 1), would give away the order of submission."""
    pk = model._meta.pk
    assert isinstance(pk, models.UUIDField)
    assert pk.default is uuid.uuid4
    keys = {pk.default() for _ in range(3)}
    assert all(key.version == 4 for key in keys)


def test_answer_bearing_models_hold_answers() -> None:
    """The list is not padded with unrelated tables: each listed model has an answer-like field."""
    for model in _answer_models():
        assert any(ANSWER_LIKE.search(field.name) for field in model._meta.concrete_fields), model


def test_every_answer_like_table_is_listed_or_explained() -> None:
    """A new model with answer-like fields must be added to ANSWER_BEARING_MODELS (and so to the checks
    above) or to NOT_ANSWERS here with a reason."""
    listed = {model._meta.label for model in _answer_models()}
    unexplained = []
    for model in _project_models():
        label = model._meta.label
        if label in listed:
            continue
        for field in model._meta.concrete_fields:
            if ANSWER_LIKE.search(field.name) and (label, field.name) not in NOT_ANSWERS:
                unexplained.append(f"{label}.{field.name}")
    assert not unexplained, (
        "answer-like fields on models that are neither in ANSWER_BEARING_MODELS nor explained in "
        f"NOT_ANSWERS: {unexplained}"
    )


def test_the_guard_would_catch_a_new_answer_table() -> None:
    """The name pattern recognises the fields an answer table would have."""
    for name in ("value", "answer_text", "score", "bucket", "ciphertext", "free_text", "answers"):
        assert ANSWER_LIKE.search(name), name
    for name in ("counted_at", "valued", "context", "name", "scale"):
        assert not ANSWER_LIKE.search(name), name


def test_explanations_still_apply() -> None:
    """An allow-list entry for a field that no longer exists is stale and must go."""
    for label, field_name in NOT_ANSWERS:
        model = apps.get_model(label)
        assert any(field.name == field_name for field in model._meta.concrete_fields), (label, field_name)
