"""The privacy page says what Slack, the company, sees in each mode, to everyone (someone who follows a
check-in link is not signed in), and tells a signed-in person which mode their organisation uses."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from surveys.services.slack import slack_workspace_connect, slack_workspace_settings_set
from tests.pulse.config_world import World, build_world
from tests.surveys.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackState, slack_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with slack_server() as (state, url), override_settings(PULSE_SLACK_API_URL=url):
        yield state


def page(client: Client) -> str:
    response = client.get("/privacy/")
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def section(text: str) -> str:
    match = re.search(r'<h2 id="slack">(.*?)<h2', text)
    assert match, "the page has its Slack section"
    return match.group(1)


def test_everyone_reads_what_slack_sees_in_each_mode() -> None:
    slack_part = section(page(Client()))
    assert (
        "<strong>Link mode</strong>: Slack sees that Pulse sent you a message and that you clicked"
        in slack_part
    )
    assert "never your answers" in slack_part
    assert "<strong>your answers pass through Slack's servers</strong>" in slack_part
    assert "its logs may keep them" in slack_part
    assert "without your Slack user" in slack_part
    assert '"Answered, thank you"' in slack_part
    assert "export direct messages" in slack_part
    assert 'id="slack-mode"' not in slack_part, "no organisation's mode for someone not signed in"


def test_a_signed_in_person_is_told_their_organisation_s_mode(slack: SlackState) -> None:
    world: World = build_world()
    client = Client()
    client.force_login(world.signed_in("engineer"))
    assert 'id="slack-mode"' not in section(page(client)), "no Slack connected yet"
    workspace = slack_workspace_connect(
        organisation=world.a.organisation, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    )
    assert "Your organisation uses the link mode" in section(page(client))
    slack_workspace_settings_set(workspace=workspace, default_channel="slack", mode="modal")
    assert "Your organisation uses the modal mode" in section(page(client))
    # Another organisation's person is not told Org A's mode.
    other = Client()
    other.force_login(world.signed_in("other_admin"))
    assert 'id="slack-mode"' not in section(page(other))
