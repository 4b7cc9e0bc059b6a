"""You said, we did by email: the team summary after a round (content, language, exactly once, off by the
organisation's switch, nothing below k) and the leaders' no-action reminder (after N days only, once)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django.fixtures import Settings

from pulse.models import NoActionReminder, TeamResultsEmail, TeamSummaryRun
from pulse.services.flags import flag_action_plan
from pulse.services.notifications import escalation_clock_start
from pulse.services.team_results import (
    no_action_reminders_queue_due,
    round_note_save,
    team_results_emails_claim,
    team_results_emails_send_due,
    team_summaries_queue_due,
)
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> ReportOrg:
    """k = 5: Root 14 answers, A 8 (shown), B 3 (below k: no rows)."""
    org = ReportOrg(k=5)
    org.round(
        {"Root": {BURNOUT: Value(14, 2.8), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.4), RATE: (9, 8)}}
    )
    org.round(
        {"Root": {BURNOUT: Value(14, 2.9), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.6), RATE: (9, 8)}}
    )
    return org


def after_delay(org: ReportOrg, hours: int = 49) -> dt.datetime:
    aggregated = org.rounds[-1].aggregated_at
    assert aggregated is not None
    return aggregated + dt.timedelta(hours=hours)


def test_each_member_of_a_team_with_results_gets_one_summary_in_their_language(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    bernd = org.person("Bernd", member_of="A")
    bernd.locale = "de"
    bernd.save(update_fields=["locale"])
    bob = org.person("Bob", member_of="B")  # below k: nothing
    lena = org.person("Lena", leads="A")
    flag = org.flag("A")
    flag_action_plan(
        flag_id=flag.pk, by=lena, what="Fewer pages at night", who="Lena", due_on=dt.date(2026, 4, 1)
    )
    round_note_save(round_id=org.rounds[-1].pk, team_id=org.team["A"].pk, by=lena, text="Thank you <all>.")
    now = after_delay(org)
    assert team_summaries_queue_due(now=now) == 3  # Alice, Bernd and their leader Lena; nobody of B
    assert team_results_emails_send_due(now=now) == 3
    by_person = {message.to[0]: message for message in mail.outbox}
    assert bob.email not in by_person
    english, german = by_person[alice.email], by_person[bernd.email]
    assert english.subject == "[Pulse] Your team's results: A, check-in of 9 Mar 2026"
    assert "- Burnout (single item): 3.6 (burned out (≥ 3)); before: 3.4 (2 Mar 2026)" in english.body
    assert "- 90% of the team answered." in english.body
    assert "Planned: Fewer pages at night (Lena, by 1 Apr 2026)" in english.body
    assert "Thank you <all>." in english.body  # the text part is plain text
    html = english.alternatives[0].content  # type: ignore[attr-defined]
    assert isinstance(html, str)
    assert "Thank you &lt;all&gt;." in html
    assert "<all>" not in html
    assert "/results/" + str(org.team["A"].pk) + "/" in english.body
    assert german.subject.startswith("[Pulse] Die Ergebnisse Ihres Teams: A")
    assert "Geplant: Fewer pages at night" in german.body
    # Nothing of B (below k) or of Root (not their team) is in any of them.
    for message in mail.outbox:
        assert "2.9" not in message.body
        assert "88%" not in message.body


def test_summaries_wait_for_the_delay_and_are_queued_once(org: ReportOrg) -> None:
    org.person("Alice", member_of="A")
    assert team_summaries_queue_due(now=after_delay(org, hours=47)) == 0
    assert team_summaries_queue_due(now=after_delay(org)) == 1
    assert team_summaries_queue_due(now=after_delay(org, hours=50)) == 0
    assert TeamResultsEmail.objects.count() == 1
    assert TeamSummaryRun.objects.get().messages == 1
    # Only the latest round of a schedule: the earlier one never sends.
    assert not TeamResultsEmail.objects.filter(round=org.rounds[0]).exists()


def test_old_rounds_are_never_mailed(org: ReportOrg) -> None:
    org.person("Alice", member_of="A")
    assert team_summaries_queue_due(now=after_delay(org, hours=48 + 8 * 24)) == 0


def test_the_organisation_switches_summaries_off(org: ReportOrg) -> None:
    org.person("Alice", member_of="A")
    org.organisation.team_summaries = False
    org.organisation.save(update_fields=["team_summaries"])
    assert team_summaries_queue_due(now=after_delay(org)) == 0
    assert not TeamResultsEmail.objects.exists()


def test_two_senders_send_each_summary_exactly_once(org: ReportOrg) -> None:
    for index in range(4):
        org.person(f"Member {index}", member_of="A")
    now = after_delay(org)
    team_summaries_queue_due(now=now)
    _first_claim, first = team_results_emails_claim(now=now, batch=2)
    _second_claim, second = team_results_emails_claim(now=now, batch=50)
    assert len(first) == 2
    assert len(second) == 2
    assert {row.pk for row in first}.isdisjoint({row.pk for row in second})
    assert team_results_emails_claim(now=now)[1] == []  # everything is held
    assert team_results_emails_send_due(now=now) == 0  # a third sender finds nothing to send
    # A sender that died holding its rows: they are claimed again once its claim expires, never before.
    later = now + dt.timedelta(minutes=16)
    assert team_results_emails_send_due(now=later) == 4
    assert team_results_emails_send_due(now=later) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted({m.to[0] for m in mail.outbox})
    assert len(mail.outbox) == 4


def test_a_failed_summary_backs_off_and_is_sent_later(org: ReportOrg, settings: Settings) -> None:
    org.person("Alice", member_of="A")
    now = after_delay(org)
    team_summaries_queue_due(now=now)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 8159, 1  # nothing listens
    assert team_results_emails_send_due(now=now) == 0
    row = TeamResultsEmail.objects.get()
    assert row.attempts == 1
    assert row.status == TeamResultsEmail.Status.PENDING
    assert row.due_at > now
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert team_results_emails_send_due(now=now) == 0  # not before its backoff
    assert team_results_emails_send_due(now=row.due_at) == 1


# ------------------------------------------------------------------------------------------ reminders


def _open_flag_seen_now(org: ReportOrg) -> tuple[Person, dt.datetime]:
    lena = org.person("Lena", leads="A")
    moment = timezone.now()
    flag = org.flag("A", opened_at=moment, created_at=moment)
    escalation_clock_start(flag=flag, now=moment)
    return lena, moment


def test_leaders_are_reminded_once_after_n_days_without_an_action(org: ReportOrg) -> None:
    lena, opened = _open_flag_seen_now(org)
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=6, hours=23)) == 0
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=7, minutes=1)) == 1
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=8)) == 0
    assert team_results_emails_send_due(now=opened + dt.timedelta(days=8)) == 1
    (message,) = mail.outbox
    assert message.to == [lena.email]
    assert message.subject == "[Pulse] No action recorded yet: A — Burnout (single item)"
    assert "has no action yet, 7 days later" in message.body
    assert NoActionReminder.objects.count() == 1


def test_the_organisation_s_number_of_days_counts(org: ReportOrg) -> None:
    org.organisation.no_action_reminder_days = 3
    org.organisation.save(update_fields=["no_action_reminder_days"])
    _lena, opened = _open_flag_seen_now(org)
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=2)) == 0
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=3, minutes=1)) == 1


def test_a_flag_with_an_action_is_not_reminded_about(org: ReportOrg) -> None:
    lena, opened = _open_flag_seen_now(org)
    flag = org.team["A"].flags.get()
    flag_action_plan(flag_id=flag.pk, by=lena, what="Talk", who="Lena", due_on=timezone.localdate())
    assert no_action_reminders_queue_due(now=opened + dt.timedelta(days=8)) == 0


def test_a_german_leader_is_reminded_in_german(org: ReportOrg) -> None:
    lena, opened = _open_flag_seen_now(org)
    lena.locale = "de"
    lena.save(update_fields=["locale"])
    no_action_reminders_queue_due(now=opened + dt.timedelta(days=8))
    team_results_emails_send_due(now=opened + dt.timedelta(days=8))
    (message,) = mail.outbox
    assert message.subject.startswith("[Pulse] Noch keine Maßnahme erfasst: A")
