"""A member's results page and the team summary name a flag in the reader's language (docs/languages.md §1,
§8; issue #19).

Before: the page and the summary marked every flag's name and headline ``lang="en"``, though a flag is
worded when read (its headline in German for a German reader) and a load measure's name is Pulse's own,
translated word; the summary's text part and Slack message carried the page's HTML marks as text. Now each
is marked only where it is English: an instrument's label, a flag's stored English.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone, translation

from pulse.models import Flag
from pulse.selectors.team_results import team_results_get, team_summary
from surveys.models import Person
from tests.pulse.helpers_flags import History
from tests.pulse.test_notifications import open_alert

pytestmark = pytest.mark.django_db


def _german(person: Person) -> Client:
    user = get_user_model().objects.create_user(username=person.email, email=person.email, password="pw")
    person.user = user
    person.locale = "de"
    person.save(update_fields=["user", "locale"])
    client = Client()
    client.force_login(user)
    return client


def _load_flag(history: History) -> Flag:
    """A flag about on-call load, stored with its English words (as a flag from before they were data)."""
    now = timezone.now()
    return Flag.objects.create(
        organisation=history.organisation,
        team=history.team["Payments"],
        metric="oncall:sleep_interruptions",
        kind=Flag.Kind.TREND,
        reasons=[Flag.Kind.TREND.value],
        state=Flag.State.OPEN,
        severity=Flag.Severity.WARNING,
        headline="Sleep-hour interruptions have risen over the last 8 weeks.",
        explanation="Sleep-hour interruptions rose over the last 8 weeks.",
        evaluated_through=history.rounds[-1].closes_at,
        created_at=now,
        opened_at=now,
    )


def test_a_german_member_reads_each_flag_marked_only_where_it_is_english() -> None:
    history = History(teams=("Payments",))
    survey = open_alert(history)
    load = _load_flag(history)
    member = history.leader["Payments"]  # a leader is one of the team's people too
    html = _german(member).get(f"/results/{history.team['Payments'].pk}/").content.decode()

    survey_item = re.search(rf'<li data-flag="{survey.pk}">(.*?)</li>', html, re.S)
    load_item = re.search(rf'<li data-flag="{load.pk}">(.*?)</li>', html, re.S)
    assert survey_item is not None
    assert load_item is not None
    # The instrument's label is its English data; the headline is worded in German and not marked.
    assert '<strong lang="en">Burnout (single item)</strong>' in survey_item.group(1)
    headline = re.search(r"</p>\s*<p( lang=\"en\")?>(.*?)</p>", survey_item.group(1), re.S)
    assert headline is not None
    assert headline.group(1) is None
    assert "Runde" in headline.group(2)
    # A load measure's name is Pulse's own word, in German and unmarked; its stored English headline is
    # English and says so.
    assert "<strong>Unterbrechungen in den Schlafstunden</strong>" in load_item.group(1)
    assert '<p lang="en">Sleep-hour interruptions have risen' in load_item.group(1)


def test_the_summary_names_flags_the_same_way_and_its_text_has_no_markup() -> None:
    history = History(teams=("Payments",))
    open_alert(history)
    _load_flag(history)
    member = history.leader["Payments"]
    with translation.override("de"):
        results = team_results_get(person=member, team_id=history.team["Payments"].pk)
        assert results is not None
        summary = team_summary(results)
    assert summary is not None
    survey, load = sorted(summary.parts.flags, key=lambda f: f.label)
    assert "<" not in survey.headline
    assert "Runde" in survey.headline
    assert (survey.label_lang, survey.headline_lang) == ("en", "")
    assert (load.label, load.label_lang, load.headline_lang) == (
        "Unterbrechungen in den Schlafstunden",
        "",
        "en",
    )
    assert "<span" not in summary.text
    assert "&lt;span" not in str(summary.slack.blocks)
    assert "<span>Unterbrechungen in den Schlafstunden</span>" in summary.html
    assert '<span lang="en">Burnout (single item)</span>: <span>' in summary.html
