"""A person's own choice of where they are asked to check in (email, Slack, both, or the organisation's
default), on their own page /me/checkins/ over HTTP: offered only once the organisation has connected
Slack, stored with ``slack_channel_choose``, followed by the senders' one rule (``channels_of``), and
never anyone else's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.test import Client, override_settings

from surveys.models import SlackUser
from surveys.selectors import slack_choice_of
from surveys.services.slack import slack_people_match, slack_workspace_connect, slack_workspace_settings_set
from tests.pulse.config_world import World, build_world
from tests.surveys.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackState, slack_server

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

PAGE = "/me/checkins/"
CHOOSE = "/me/checkins/channel/"


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with slack_server() as (state, url), override_settings(PULSE_SLACK_API_URL=url):
        yield state


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def engineer(world: World) -> Client:
    client = Client()
    client.force_login(world.signed_in("engineer"))
    return client


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def checked(page: str) -> str:
    match = re.search(r'<input type="radio" name="channel" value="([a-z]*)"[^>]*checked', page)
    assert match, "one choice is checked"
    return match.group(1)


def connect(world: World, slack: SlackState, *, matched: bool = True) -> None:
    if matched:
        slack.users[world.a.engineer.email.lower()] = "U0ENGINEER"
    workspace = slack_workspace_connect(
        organisation=world.a.organisation, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    )
    slack_workspace_settings_set(workspace=workspace, default_channel="email", mode="link")
    slack_people_match(organisation=world.a.organisation)


def test_without_slack_the_page_offers_no_choice_and_a_post_changes_nothing(
    engineer: Client, world: World
) -> None:
    page = text(engineer.get(PAGE))
    assert 'name="channel"' not in page
    assert "Email or Slack" not in page
    assert engineer.post(CHOOSE, {"channel": "slack"}).status_code == 302
    assert not SlackUser.objects.exists()


def test_a_person_chooses_slack_and_the_page_says_how_they_are_asked(
    engineer: Client, world: World, slack: SlackState
) -> None:
    connect(world, slack)
    page = text(engineer.get(PAGE))
    assert "Your organisation has connected its Slack workspace Pulse Test" in page
    assert "your answers never pass through Slack" in page, "link mode"
    assert checked(page) == ""
    assert "As your organisation chose (now: by email)" in page
    assert "Right now Pulse asks you by email." in page
    assert "channel-unmatched" not in page

    response = engineer.post(CHOOSE, {"channel": "slack"}, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    page = text(response)
    assert "Saved: where Pulse asks you to check in." in page
    assert checked(page) == "slack"
    assert "Right now Pulse asks you in Slack." in page
    assert SlackUser.objects.get(person=world.a.engineer).channel == "slack"
    choice = slack_choice_of(world.a.engineer)
    assert choice is not None
    assert choice.channels == {"slack"}

    engineer.post(CHOOSE, {"channel": "both"})
    assert "Right now Pulse asks you by email and in Slack." in text(engineer.get(PAGE))
    # Back to the organisation's default, which then decides.
    engineer.post(CHOOSE, {"channel": ""})
    assert SlackUser.objects.get(person=world.a.engineer).channel == ""
    slack_workspace_settings_set(
        workspace=world.a.organisation.slack_workspace, default_channel="slack", mode="modal"
    )
    page = text(engineer.get(PAGE))
    assert checked(page) == ""
    assert "(now: in Slack)" in page
    assert "Right now Pulse asks you in Slack." in page
    assert "your answers pass through Slack's servers" in page, "modal mode"
    # Only the engineer's own choice changed.
    assert not SlackUser.objects.exclude(person=world.a.engineer).exclude(channel="").exists()


def test_someone_slack_does_not_know_is_told_they_are_asked_by_email(
    engineer: Client, world: World, slack: SlackState
) -> None:
    connect(world, slack, matched=False)
    engineer.post(CHOOSE, {"channel": "slack"})
    page = text(engineer.get(PAGE))
    assert checked(page) == "slack"
    assert "Pulse has found no Slack user with your address engineer@a.example" in page
    assert "Right now Pulse asks you by email." in page


@pytest.mark.parametrize("bad", ["pigeon", "SLACK", "slack "])
def test_a_choice_not_offered_is_refused_at_the_choice_and_changes_nothing(
    engineer: Client, world: World, slack: SlackState, bad: str
) -> None:
    connect(world, slack)
    engineer.post(CHOOSE, {"channel": "both"})
    response = engineer.post(CHOOSE, {"channel": bad})
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'<ul class="error" id="id_channel_error"><li>[^<]+</li>', page)
    assert SlackUser.objects.get(person=world.a.engineer).channel == "both"


def test_only_the_signed_in_person_chooses_and_only_by_post(world: World, slack: SlackState) -> None:
    connect(world, slack)
    anonymous = Client()
    assert anonymous.post(CHOOSE, {"channel": "slack"}).status_code == 302
    nobody = Client()
    nobody.force_login(world.signed_in("no_person"))
    assert nobody.post(CHOOSE, {"channel": "slack"}).status_code == 302
    engineer = Client()
    engineer.force_login(world.signed_in("engineer"))
    assert engineer.get(CHOOSE).status_code == 405
    # Org B has no Slack: its admin is offered nothing and changes nothing.
    other = Client()
    other.force_login(world.signed_in("other_admin"))
    assert 'name="channel"' not in text(other.get(PAGE))
    other.post(CHOOSE, {"channel": "slack"})
    assert not SlackUser.objects.exclude(channel="").exists()


def test_the_form_needs_its_csrf_token(world: World, slack: SlackState) -> None:
    connect(world, slack)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.signed_in("engineer"))
    assert client.post(CHOOSE, {"channel": "slack"}).status_code == 403
    assert not SlackUser.objects.exclude(channel="").exists()
