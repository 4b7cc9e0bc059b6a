"""You said, we did in Slack, against a local server that speaks the Slack Web API: each member gets the
team's summary on the channels they are asked to check in on (email, a Slack DM, or both), in their
language, laid out from the same parts as the email; the DM outbox is claimed exactly once, paced with the
check-in DMs, waits out a 429, backs off and gives up after its attempts."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.core import mail
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from pulse.models.team_results import TeamSummarySlackMessage
from pulse.services.flags import flag_action_plan
from pulse.services.team_results import (
    round_note_save,
    team_results_emails_send_due,
    team_summaries_queue_due,
)
from pulse.services.team_summary_slack import (
    MAX_ATTEMPTS,
    team_summary_slack_claim,
    team_summary_slack_send_due,
)
from pulse.tasks import send_team_summary_slack_messages
from surveys.models import DeliveryCount, Person, SlackWorkspace
from surveys.services.slack import slack_channel_choose
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value
from tests.pulse.helpers_slack import blocks_of, blocks_text, dms_to, local_slack, slack_connect, user_id_of
from tests.surveys.slack_server import SlackState

UNREACHABLE = "http://127.0.0.1:18571/api/"  # in this suite's reserved range; nothing listens there


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with local_slack() as state:
        yield state


def _org() -> ReportOrg:
    """k = 5: Root 14 answers, A 8 (shown), B 3 (below k: no rows)."""
    org = ReportOrg(k=5)
    org.round(
        {"Root": {BURNOUT: Value(14, 2.8), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.4), RATE: (9, 8)}}
    )
    org.round(
        {"Root": {BURNOUT: Value(14, 2.9), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.6), RATE: (9, 8)}}
    )
    return org


def _due(org: ReportOrg) -> dt.datetime:
    aggregated = org.rounds[-1].aggregated_at
    assert aggregated is not None
    return aggregated + dt.timedelta(hours=49)


def _members(org: ReportOrg, *names: str) -> list[Person]:
    return [org.person(name, member_of="A") for name in names]


@pytest.mark.django_db
def test_each_member_gets_the_summary_on_the_channels_they_are_asked_on(slack: SlackState) -> None:
    org = _org()
    slack_only, both, email_only, unknown = _members(org, "Alice", "Bernd", "Carla", "Dora")
    lena = org.person("Lena", leads="A")
    flag = org.flag("A")
    flag_action_plan(
        flag_id=flag.pk, by=lena, what="Fewer pages at night", who="Lena", due_on=dt.date(2026, 4, 1)
    )
    round_note_save(round_id=org.rounds[-1].pk, team_id=org.team["A"].pk, by=lena, text="Thank you <all>.")
    slack_connect(slack, org, [slack_only, both, email_only])  # Dora and Lena are unknown to Slack
    slack_channel_choose(person=both, channel="both")
    slack_channel_choose(person=email_only, channel="email")
    now = _due(org)

    # Two DMs (Alice, Bernd) and four emails (Bernd, Carla, and Dora and Lena, whom Slack does not know).
    assert team_summaries_queue_due(now=now) == 6
    assert team_results_emails_send_due(now=now) == 4
    assert team_summary_slack_send_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in (both, email_only, unknown, lena))
    (to_alice,) = dms_to(slack, slack_only)
    (to_bernd,) = dms_to(slack, both)
    assert to_alice["text"] == to_bernd["text"] == "Results of A from the check-in that closed on 9 Mar 2026"
    assert blocks_of(to_alice) == blocks_of(to_bernd)
    text = blocks_text(blocks_of(to_alice))
    assert "• Burnout (single item): *3.6* (burned out (≥ 3)); before: 3.4 (2 Mar 2026)" in text
    assert "• 90% of the team answered." in text
    assert "What the leaders are doing about it" in text
    assert "◦ Planned: Fewer pages at night (Lena, by 1 Apr 2026)" in text
    assert "> Thank you &lt;all&gt;." in text  # mrkdwn escaped: Slack would read <all> as a mention
    assert "nobody's own answers are ever in a message" in text
    (actions,) = [block for block in blocks_of(to_alice) if block["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["text"]["text"] == "See your team's results"
    assert button["url"].endswith(f"/results/{org.team['A'].pk}/")
    # The email says the same, from the same parts.
    email = next(m for m in mail.outbox if m.to == [both.email])
    for said in ("Planned: Fewer pages at night (Lena, by 1 Apr 2026)", "before: 3.4 (2 Mar 2026)"):
        assert said in email.body
    # Nothing more on another run, of the queueing or of either sender.
    assert team_summaries_queue_due(now=now + dt.timedelta(minutes=1)) == 0
    assert team_summary_slack_send_due() == 0
    assert team_results_emails_send_due(now=now) == 0
    assert len(slack.of("chat.postMessage")) == 2
    counted = DeliveryCount.objects.get(transport=DeliveryCount.Transport.SLACK, outcome="sent")
    assert counted.count == 2


@pytest.mark.django_db
def test_a_flag_without_an_action_says_so_and_a_german_member_reads_german(slack: SlackState) -> None:
    org = _org()
    alice, bernd = _members(org, "Alice", "Bernd")
    bernd.locale = "de"
    bernd.save(update_fields=["locale"])
    org.flag("A")
    slack_connect(slack, org, [alice, bernd])
    team_summaries_queue_due(now=_due(org))
    assert team_summary_slack_send_due() == 2
    english = blocks_text(blocks_of(dms_to(slack, alice)[0]))
    german = blocks_text(blocks_of(dms_to(slack, bernd)[0]))
    assert "◦ _No action recorded yet_" in english
    assert "◦ _Noch keine Maßnahme erfasst_" in german
    assert "Ergebnisse von A aus dem Check-in" in german
    assert "Die Ergebnisse Ihres Teams ansehen" in german
    assert "Results of" not in german
    assert not mail.outbox


@pytest.mark.django_db
def test_nobody_of_a_team_with_nothing_shown_gets_a_dm(slack: SlackState) -> None:
    org = _org()
    below_k = org.person("Bob", member_of="B")
    slack_connect(slack, org, [below_k])
    assert team_summaries_queue_due(now=_due(org)) == 1  # the round is done, with nothing to send
    assert not TeamSummarySlackMessage.objects.exists()


@pytest.mark.django_db
def test_a_429_is_waited_out_by_the_whole_workspace_and_nothing_is_lost(slack: SlackState) -> None:
    org = _org()
    people = _members(org, "Alice", "Bernd", "Carla")
    slack_connect(slack, org, people)
    team_summaries_queue_due(now=_due(org))
    slack.rate_limits["chat.postMessage"] = [30]
    before = timezone.now()
    assert team_summary_slack_send_due() == 0
    limited = TeamSummarySlackMessage.objects.exclude(last_error="").get()
    assert limited.attempts == 0, "a 429 is not a failed attempt"
    assert limited.status == TeamSummarySlackMessage.Status.PENDING
    assert limited.claim is None
    assert before + dt.timedelta(seconds=29) <= limited.due_at <= timezone.now() + dt.timedelta(seconds=31)
    workspace = SlackWorkspace.objects.get()
    assert workspace.next_send_at is not None
    assert workspace.next_send_at >= before + dt.timedelta(seconds=29)
    # The workspace waits: neither the other summaries nor anything else is sent into Slack's limit.
    assert team_summary_slack_send_due() == 0
    assert not slack.of("chat.postMessage")
    assert not TeamSummarySlackMessage.objects.exclude(claim=None).exists()
    assert DeliveryCount.objects.get(transport="slack", outcome="deferred").count == 1
    # Once Retry-After has passed, every DM goes, once.
    past = timezone.now() - dt.timedelta(seconds=1)
    SlackWorkspace.objects.update(next_send_at=past)
    TeamSummarySlackMessage.objects.filter(pk=limited.pk).update(due_at=past)
    assert team_summary_slack_send_due() == 3
    assert sorted(len(dms_to(slack, person)) for person in people) == [1, 1, 1]
    assert set(TeamSummarySlackMessage.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_summaries_share_the_workspace_s_pace_with_the_check_in_dms(slack: SlackState) -> None:
    org = _org()
    people = _members(org, "Alice", "Bernd", "Carla", "Dora")
    slack_connect(slack, org, people)
    team_summaries_queue_due(now=_due(org))
    with override_settings(PULSE_SLACK_PACE_SECONDS=0.3):
        began = time.monotonic()
        assert team_summary_slack_send_due() == 4
        took = time.monotonic() - began
    assert took >= 0.85, "four messages a workspace's pace apart: at least three gaps"


@pytest.mark.django_db
def test_an_unreachable_slack_backs_off_and_gives_up_after_its_attempts(slack: SlackState) -> None:
    org = _org()
    (alice,) = _members(org, "Alice")
    slack_connect(slack, org, [alice])
    team_summaries_queue_due(now=_due(org))
    row = TeamSummarySlackMessage.objects.get()
    waits = []
    with override_settings(PULSE_SLACK_API_URL=UNREACHABLE):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            before = timezone.now()
            assert team_summary_slack_send_due() == 0
            row.refresh_from_db()
            assert row.attempts == attempt
            assert "URLError" in row.last_error or "OSError" in row.last_error
            if attempt < MAX_ATTEMPTS:
                assert row.status == TeamSummarySlackMessage.Status.PENDING
                waits.append(round((row.due_at - before).total_seconds() / 60))
                assert team_summary_slack_send_due() == 0  # not before its backoff
                TeamSummarySlackMessage.objects.filter(pk=row.pk).update(due_at=timezone.now())
    assert waits == [2, 4, 8, 16, 32]
    assert row.status == TeamSummarySlackMessage.Status.FAILED  # a dead letter, kept with its reason
    assert team_summary_slack_send_due() == 0
    assert not slack.of("chat.postMessage")
    assert DeliveryCount.objects.get(transport="slack", outcome="failed").count == 1
    assert DeliveryCount.objects.get(transport="slack", outcome="retried").count == MAX_ATTEMPTS - 1


@pytest.mark.django_db
def test_a_user_slack_no_longer_knows_is_a_permanent_failure_naming_no_one(slack: SlackState) -> None:
    org = _org()
    alice, bernd = _members(org, "Alice", "Bernd")
    slack_connect(slack, org, [alice, bernd])
    gone = user_id_of(slack, alice)
    del slack.users[alice.email.lower()]
    team_summaries_queue_due(now=_due(org))
    assert team_summary_slack_send_due() == 1
    failed = TeamSummarySlackMessage.objects.get(recipient=alice)
    assert failed.status == TeamSummarySlackMessage.Status.FAILED
    assert failed.attempts == 1
    assert "user_not_found" in failed.last_error
    assert gone not in failed.last_error
    assert alice.email not in failed.last_error


@pytest.mark.django_db
def test_two_claims_never_share_a_row(slack: SlackState) -> None:
    org = _org()
    slack_connect(slack, org, _members(org, *(f"Member {i}" for i in range(5))))
    team_summaries_queue_due(now=_due(org))
    now = timezone.now()
    _first, first = team_summary_slack_claim(now=now, batch=3)
    _second, second = team_summary_slack_claim(now=now, batch=3)
    assert (len(first), len(second)) == (3, 2)
    assert {row.pk for row in first}.isdisjoint({row.pk for row in second})
    assert team_summary_slack_send_due() == 0  # a third sender finds everything held


@pytest.mark.django_db
def test_the_task_sends_the_due_summaries_once_however_often_it_runs(slack: SlackState) -> None:
    org = _org()
    people = _members(org, "Alice", "Bernd")
    slack_connect(slack, org, people)
    team_summaries_queue_due(now=_due(org))
    assert send_team_summary_slack_messages.apply().get() == 2
    assert send_team_summary_slack_messages.apply().get() == 0
    assert len(slack.of("chat.postMessage")) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_summary_twice(slack: SlackState) -> None:
    org = _org()
    people = _members(org, *(f"Member {i}" for i in range(8)))
    slack_connect(slack, org, people)
    team_summaries_queue_due(now=_due(org))
    slack.delay = 0.05
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    sent: Counter[str] = Counter()

    def worker(name: str) -> None:
        try:
            barrier.wait()
            # Both keep sending until every DM is out, as the tick's drains do: a worker that finds nothing
            # free this moment (the other holds the due rows, or the workspace's slot) tries again.
            deadline = time.monotonic() + 30
            while sum(sent.values()) < 8 and time.monotonic() < deadline:
                sent[name] += team_summary_slack_send_due(batch=3)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    received = Counter(call.params["channel"] for call in slack.of("chat.postMessage"))
    assert received == Counter({"D" + user_id_of(slack, person)[1:]: 1 for person in people})
    assert sum(sent.values()) == 8
    assert sent["a"], "both workers took part"
    assert sent["b"], "both workers took part"
