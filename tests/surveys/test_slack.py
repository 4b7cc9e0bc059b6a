"""Check-ins in Slack, end to end against a local server that speaks the Slack Web API: the DMs (exactly
once, paced, a 429 waited out), the button in link mode and in modal mode, signed interactivity requests,
and the DM turned into "Answered, thank you"."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone

from surveys.models import Invitation, Participation, SealedBallot, SlackMessage, SlackUser, SlackWorkspace
from surveys.services.emails import emails_send_due
from surveys.services.slack import (
    slack_channel_choose,
    slack_people_match,
    slack_workspace_connect,
    slack_workspace_settings_set,
)
from surveys.services.slack_delivery import slack_messages_claim, slack_messages_plan, slack_messages_send_due
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round
from tests.surveys.slack_server import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackState,
    button_click,
    signed,
    slack_server,
    view_submission,
)


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with (
        slack_server() as (state, url),
        override_settings(PULSE_SLACK_API_URL=url, PULSE_SLACK_PACE_SECONDS=0),
    ):
        yield state


def slack_round(
    state: SlackState, *, mode: str, people: int = 3, channel: str = "slack", unmatched: int = 0
) -> OpenRound:
    """An open round whose engineers are Slack users of a connected workspace, but for the last
    ``unmatched`` (the leaders, who are not asked, are not Slack users either)."""
    opened = open_round(people_per_team=(people + unmatched,), min_group_size=3)
    for index, person in enumerate(opened.people[:people]):
        state.users[person.email.lower()] = f"U{opened.round.pk:04d}{index:04d}"
    workspace = slack_workspace_connect(
        organisation=opened.organisation, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    )
    slack_workspace_settings_set(workspace=workspace, default_channel=channel, mode=mode)
    result = slack_people_match(organisation=opened.organisation)
    assert (result.matched, result.unmatched) == (people, unmatched + len(opened.leaders))
    return opened


def user_of(state: SlackState, opened: OpenRound, index: int = 0) -> str:
    return state.users[opened.people[index].email.lower()]


def dm_to(state: SlackState, user_id: str) -> list[dict[str, Any]]:
    """The messages posted into the DM with this user, oldest first."""
    return [
        call.params for call in state.of("chat.postMessage") if call.params["channel"] == "D" + user_id[1:]
    ]


def button(message: dict[str, Any]) -> dict[str, Any]:
    blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
    actions = [block for block in blocks if block["type"] == "actions"]
    assert len(actions) == 1
    assert len(actions[0]["elements"]) == 1, "one button"
    element: dict[str, Any] = actions[0]["elements"][0]
    return element


def send_all() -> int:
    slack_messages_plan()
    return slack_messages_send_due()


def modal_values(opened: OpenRound, answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for key, value in answers.items():
        if isinstance(value, str):
            values[key] = {"answer": {"type": "plain_text_input", "value": value}}
        else:
            values[key] = {"answer": {"type": "radio_buttons", "selected_option": {"value": str(value)}}}
    return values


@pytest.mark.django_db
def test_the_people_matched_get_one_dm_each_and_no_email(slack: SlackState, mailoutbox: list[Any]) -> None:
    opened = slack_round(slack, mode="link", unmatched=1)
    assert send_all() == 3
    assert sorted(len(dm_to(slack, user_of(slack, opened, i))) for i in range(3)) == [1, 1, 1]
    # The engineer Slack does not know keeps email; the others (Slack only) get none.
    emails_send_due()
    assert [message.to[0] for message in mailoutbox] == [opened.people[3].email]
    # Sent once: another drain finds nothing due.
    assert send_all() == 0
    assert len(slack.of("chat.postMessage")) == 3


@pytest.mark.django_db
def test_link_mode_the_button_opens_the_web_checkin_and_the_dm_says_answered(
    slack: SlackState, client: Client
) -> None:
    opened = slack_round(slack, mode="link")
    send_all()
    person = opened.people[0]
    message = dm_to(slack, user_of(slack, opened))[0]
    assert button(message)["text"]["text"] == "Answer (about a minute)"
    url = button(message)["url"]
    assert url.endswith(f"/checkin/{opened.token_of(person)}/")
    assert "value" not in button(message), "link mode: nothing for Slack to send back"
    # Slack reports the click too; it is acknowledged and nothing else.
    clicked = client.post(
        "/slack/events/",
        **signed(button_click(user_id=user_of(slack, opened), value="", action_id="pulse_checkin_link")),
    )
    assert clicked.status_code == 200
    assert not slack.of("views.open")

    answered = client.post(urlparse(url).path, as_form(answers_for(opened.round)))
    assert answered.status_code == 200
    assert Participation.objects.filter(person=person).count() == 1

    send_all()
    updates = slack.of("chat.update")
    assert len(updates) == 1
    assert updates[0].params["channel"] == message["channel"]
    assert updates[0].params["text"] == "Answered, thank you."
    row = SlackMessage.objects.get(invitation__person=person)
    assert row.thanked
    assert row.due_at is None
    # The reminder is not sent to someone who has answered.
    assert row.outcomes == "skk"
    assert len(dm_to(slack, user_of(slack, opened))) == 1


@pytest.mark.django_db
def test_a_reminder_goes_to_someone_who_has_not_answered(slack: SlackState) -> None:
    opened = slack_round(slack, mode="link")
    send_all()
    SlackMessage.objects.update(due_at=timezone.now() - dt.timedelta(seconds=1))
    assert send_all() == 3
    second = dm_to(slack, user_of(slack, opened))[1]
    assert second["text"].startswith("Reminder: your check-in")
    assert set(SlackMessage.objects.values_list("outcomes", flat=True)) == {"ss"}


@pytest.mark.django_db
def test_modal_mode_a_person_answers_in_slack_through_the_web_s_own_validation(
    slack: SlackState, client: Client
) -> None:
    opened = slack_round(slack, mode="modal")
    send_all()
    person, user_id = opened.people[0], user_of(slack, opened)
    message = dm_to(slack, user_id)[0]
    token = button(message)["value"]
    assert token == opened.token_of(person)

    response = client.post("/slack/events/", **signed(button_click(user_id=user_id, value=token)))
    assert response.status_code == 200
    (opened_view,) = slack.of("views.open")
    view = (
        json.loads(opened_view.params["view"])
        if isinstance(opened_view.params["view"], str)
        else (opened_view.params["view"])
    )
    inputs = [block for block in view["blocks"] if block["type"] == "input"]
    answers = answers_for(opened.round, comment="More focus time, please.")
    assert {block["block_id"] for block in inputs} == set(answers)
    assert all(
        len(block["element"]["options"]) <= 10
        for block in inputs
        if block["element"]["type"] == "radio_buttons"
    )
    assert len(view["blocks"]) <= 100

    # A question left out: the error is shown at that question, nothing is stored.
    missing = dict(answers)
    first_choice = next(key for key, value in answers.items() if not isinstance(value, str))
    del missing[first_choice]
    refused = client.post(
        "/slack/events/",
        **signed(view_submission(user_id=user_id, token=token, values=modal_values(opened, missing))),
    )
    assert refused.status_code == 200
    assert refused.json() == {
        "response_action": "errors",
        "errors": {first_choice: "Please answer this question."},
    }
    assert not Participation.objects.exists()
    assert not SealedBallot.objects.exists()

    done = client.post(
        "/slack/events/",
        **signed(view_submission(user_id=user_id, token=token, values=modal_values(opened, answers))),
    )
    assert done.status_code == 200
    assert done.json()["response_action"] == "update"
    assert "Answered, thank you." in json.dumps(done.json()["view"])
    assert list(Participation.objects.values_list("person_id", flat=True)) == [person.pk]
    assert SealedBallot.objects.count() == 1
    assert Invitation.objects.get(person=person, round=opened.round).spent
    # After the answer went back, the DM became the neutral thank-you: no answer, no score.
    (update,) = slack.of("chat.update")
    assert update.params["channel"] == message["channel"]
    assert update.params["text"] == "Answered, thank you."
    assert "More focus" not in json.dumps(update.params)

    # The same submission again (Slack retries, a double click): refused, nothing more stored.
    again = client.post(
        "/slack/events/",
        **signed(view_submission(user_id=user_id, token=token, values=modal_values(opened, answers))),
    )
    assert "already been answered" in json.dumps(again.json())
    assert Participation.objects.count() == 1
    assert SealedBallot.objects.count() == 1


@pytest.mark.django_db
def test_a_modal_in_german_for_a_german_person(slack: SlackState, client: Client) -> None:
    opened = slack_round(slack, mode="modal")
    person = opened.people[1]
    person.locale = "de"
    person.save()
    send_all()
    message = dm_to(slack, user_of(slack, opened, 1))[0]
    assert button(message)["text"]["text"] != "Answer (about a minute)"
    assert "Hi " not in message["text"]
    client.post(
        "/slack/events/",
        **signed(button_click(user_id=user_of(slack, opened, 1), value=button(message)["value"])),
    )
    view = slack.of("views.open")[0].params["view"]
    assert "Your answers are anonymous" not in json.dumps(view)


@pytest.mark.django_db
def test_someone_else_clicking_the_button_gets_no_form(slack: SlackState, client: Client) -> None:
    opened = slack_round(slack, mode="modal")
    send_all()
    token = button(dm_to(slack, user_of(slack, opened, 0))[0])["value"]
    client.post("/slack/events/", **signed(button_click(user_id=user_of(slack, opened, 1), value=token)))
    view = json.dumps(slack.of("views.open")[0].params["view"])
    assert "sent to someone else" in view
    assert '"input"' not in view


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["replayed", "wrong secret", "unsigned", "altered"])
def test_a_replayed_or_badly_signed_request_is_refused_and_changes_nothing(
    slack: SlackState, client: Client, how: str
) -> None:
    opened = slack_round(slack, mode="modal")
    send_all()
    user_id = user_of(slack, opened)
    token = button(dm_to(slack, user_id)[0])["value"]
    payload = view_submission(
        user_id=user_id, token=token, values=modal_values(opened, answers_for(opened.round))
    )
    if how == "replayed":
        request = signed(payload, at=int(time.time()) - 6 * 60)  # outside Slack's five minutes
    elif how == "wrong secret":
        request = signed(payload, secret="0" * 32)
    elif how == "unsigned":
        request = signed(payload)
        request["headers"] = {}
    else:
        request = signed(payload)
        request["data"] = request["data"].replace("pulse_checkin", "pulse_checkin ")
    for body in (request, signed(button_click(user_id=user_id, value=token), at=int(time.time()) - 400)):
        if how != "replayed":
            body = request
        response = client.post("/slack/events/", **body)
        assert response.status_code == 401
    assert not Participation.objects.exists()
    assert not SealedBallot.objects.exists()
    assert not slack.of("views.open")
    assert not slack.of("chat.update")
    assert not Invitation.objects.filter(spent=True).exists()
    # The same payload signed now goes through: it was the signature that was refused.
    assert client.post("/slack/events/", **signed(payload)).status_code == 200
    assert Participation.objects.count() == 1


@pytest.mark.django_db
def test_a_429_is_waited_out_and_nothing_is_lost(slack: SlackState) -> None:
    slack_round(slack, mode="link")
    slack.rate_limits["chat.postMessage"] = [30]
    before = timezone.now()
    assert send_all() == 0
    limited = SlackMessage.objects.exclude(error="").get()
    assert limited.attempts == 0, "a 429 is not a failed attempt"
    assert limited.outcomes == ""
    assert limited.claim is None
    assert limited.due_at is not None
    assert before + dt.timedelta(seconds=29) <= limited.due_at <= timezone.now() + dt.timedelta(seconds=31)
    workspace = SlackWorkspace.objects.get()
    assert workspace.next_send_at is not None
    assert workspace.next_send_at >= before + dt.timedelta(seconds=29)
    # The workspace waits: the other rows are not sent into Slack's limit either.
    assert slack_messages_send_due() == 0
    assert not slack.of("chat.postMessage")
    assert not SlackMessage.objects.exclude(claim=None).exists()
    # Once Retry-After has passed, every DM goes, once.
    past = timezone.now() - dt.timedelta(seconds=1)
    SlackWorkspace.objects.update(next_send_at=past)
    SlackMessage.objects.filter(pk=limited.pk).update(due_at=past)
    assert slack_messages_send_due() == 3
    assert len(slack.of("chat.postMessage")) == 3
    assert set(SlackMessage.objects.values_list("outcomes", flat=True)) == {"s"}


@pytest.mark.django_db
def test_messages_are_paced_per_workspace(slack: SlackState) -> None:
    slack_round(slack, mode="link", people=4)
    with override_settings(PULSE_SLACK_PACE_SECONDS=0.3):
        slack_messages_plan()
        began = time.monotonic()
        assert slack_messages_send_due() == 4
        took = time.monotonic() - began
    assert took >= 0.85, "four messages a workspace's pace apart: at least three gaps"


@pytest.mark.django_db
def test_a_user_slack_no_longer_knows_is_a_permanent_failure(slack: SlackState) -> None:
    opened = slack_round(slack, mode="link")
    gone = user_of(slack, opened, 0)
    del slack.users[opened.people[0].email.lower()]
    assert send_all() == 2
    row = SlackMessage.objects.get(invitation__person=opened.people[0])
    assert row.outcomes == "f"
    assert "user_not_found" in row.error
    assert gone not in row.error


@pytest.mark.django_db
def test_a_person_who_chose_email_gets_no_dm(slack: SlackState, mailoutbox: list[Any]) -> None:
    opened = slack_round(slack, mode="link")
    slack_channel_choose(person=opened.people[0], channel="email")
    slack_channel_choose(person=opened.people[1], channel="both")
    assert send_all() == 2
    emails_send_due()
    emailed = {message.to[0] for message in mailoutbox}
    assert opened.people[0].email in emailed
    assert opened.people[1].email in emailed
    assert opened.people[2].email not in emailed
    assert not dm_to(slack, user_of(slack, opened, 0))
    assert SlackUser.objects.get(person=opened.people[0]).user_id  # still matched, just not asked there


@pytest.mark.django_db
def test_two_claims_never_share_a_row(slack: SlackState) -> None:
    slack_round(slack, mode="link", people=5)
    slack_messages_plan()
    now = timezone.now()
    _first_claim, first = slack_messages_claim(now=now, batch=3)
    _second_claim, second = slack_messages_claim(now=now, batch=3)
    assert len(first) == 3
    assert len(second) == 2
    assert not {row.pk for row in first} & {row.pk for row in second}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_dm_twice(slack: SlackState) -> None:
    opened = slack_round(slack, mode="link", people=8)
    slack_messages_plan()
    slack.delay = 0.05
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    sent: Counter[str] = Counter()

    def worker(name: str) -> None:
        try:
            barrier.wait()
            # Both keep sending until every DM is out: a worker that finds nothing free this moment (the
            # other holds the due rows, or the workspace's pace slot) tries again, as the tick's drain does.
            deadline = time.monotonic() + 30
            while sum(sent.values()) < 8 and time.monotonic() < deadline:
                sent[name] += slack_messages_send_due(batch=3)
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
    assert received == Counter({"D" + user_of(slack, opened, i)[1:]: 1 for i in range(8)})
    assert sum(sent.values()) == 8
    assert sent["a"], "both workers took part"
    assert sent["b"], "both workers took part"
