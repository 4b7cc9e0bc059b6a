"""Comments are deleted a configurable time after their round was counted; counts and aggregates stay."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from pytest_django import DjangoAssertNumQueries

from pulse.models import TeamAggregate
from pulse.services.aggregation import round_aggregate
from pulse.services.retention import comments_delete_expired
from surveys.models import AnswerCount, Comment, RespondentCount, Round, ScoreCount
from tests.pulse.factories import RoundBuilder, who5

pytestmark = pytest.mark.django_db


def round_with_comments(now: dt.datetime, comments: int) -> Round:
    """Team A of 3 people under the root (k = 3); the first ``comments`` people leave a comment, which the
    close step writes once for A and once for the root."""
    builder = RoundBuilder(now=now)
    builder.team("A")
    for number in range(3):
        builder.person(f"p{number}", "A")
    builder.open()
    for number in range(3):
        extra = {"comment_1": f"comment {number}"} if number < comments else {}
        builder.answer(f"p{number}", {**who5(3, 3, 3, 3, 3), "burnout1_1": 2, **extra})
    round_ = builder.close()
    round_aggregate(round_id=round_.pk)
    return round_


def kept(round_: Round) -> tuple[int, int, int, int]:
    return (
        RespondentCount.objects.filter(round=round_).count(),
        AnswerCount.objects.filter(round=round_).count(),
        ScoreCount.objects.filter(round=round_).count(),
        TeamAggregate.objects.filter(round=round_).count(),
    )


def test_comments_go_after_the_retention_period_and_counts_stay() -> None:
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    old = round_with_comments(start, comments=2)
    recent = round_with_comments(start + dt.timedelta(days=200), comments=1)
    assert old.counted_at is not None
    assert Comment.objects.filter(round=old).count() == 4  # 2 comments × (A, root)
    assert Comment.objects.filter(round=recent).count() == 2
    counts_before = kept(old)
    assert all(counts_before)

    # 365 days (the default) after the old round was counted: still kept.
    assert comments_delete_expired(now=old.counted_at + dt.timedelta(days=365)) == 0
    assert Comment.objects.filter(round=old).count() == 4

    assert comments_delete_expired(now=old.counted_at + dt.timedelta(days=365, seconds=1)) == 4
    assert not Comment.objects.filter(round=old).exists()
    assert Comment.objects.filter(round=recent).count() == 2  # counted 200 days later: not due yet
    assert kept(old) == counts_before
    assert comments_delete_expired(now=old.counted_at + dt.timedelta(days=366)) == 0  # a rerun is harmless


@override_settings(PULSE_COMMENT_RETENTION_DAYS=30)
def test_period_is_configurable_and_deletion_is_bounded() -> None:
    round_ = round_with_comments(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), comments=3)
    assert round_.counted_at is not None
    later = round_.counted_at + dt.timedelta(days=31)
    assert Comment.objects.filter(round=round_).count() == 6
    assert comments_delete_expired(now=later, batch=4, max_batches=1) == 4
    assert comments_delete_expired(now=later, batch=4, max_batches=1) == 2
    assert comments_delete_expired(now=later) == 0


def test_nothing_to_delete_is_one_query(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    round_with_comments(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), comments=1)
    with django_assert_num_queries(1):
        assert comments_delete_expired(now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC)) == 0
