"""The admin's Slack page over HTTP, against the local server that speaks the Slack Web API: how to make the
app (the manifest with this installation's address), connect (the token checked with auth.test, errors on
their fields, nothing stored on a refusal, secrets shown only by their hints), how people are asked and in
which mode, matching people by email, and disconnecting, for organisation admins only."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.models import SlackUser, SlackWorkspace
from surveys.services.slack import slack_people_match, slack_workspace_connect
from tests.factories import PersonFactory
from tests.pulse.config_world import World, build_world
from tests.surveys.slack_server import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, SlackState, slack_server

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

PAGE = "/manage/slack/"
BASE_URL = "https://pulse.acme.example"


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with (
        slack_server() as (state, url),
        override_settings(
            PULSE_SLACK_API_URL=url,
            PULSE_SLACK_PACE_SECONDS=0,
            PULSE_BASE_URL=BASE_URL,
            PULSE_SLACK_SIGNING_SECRET="",
            PULSE_SLACK_APP_TOKEN="",
        ),
    ):
        yield state


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def admin(world: World) -> Client:
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def page_manifest(response: TestResponse) -> dict[str, Any]:
    match = re.search(r'<pre class="manifest"[^>]*><code>(.*?)</code></pre>', response.content.decode(), re.S)
    assert match, "the page shows the manifest"
    loaded = yaml.safe_load(html.unescape(match.group(1)))
    assert isinstance(loaded, dict)
    return loaded


def connect(world: World) -> SlackWorkspace:
    return slack_workspace_connect(
        organisation=world.a.organisation, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    )


def workspace_row(world: World) -> dict[str, Any]:
    return dict(SlackWorkspace.objects.filter(organisation=world.a.organisation).values().get())


def test_only_admins_open_the_page_or_change_anything(world: World, slack: SlackState) -> None:
    assert Client().get(PAGE).status_code == 302
    assert Client().post(PAGE, {"action": "connect", "bot_token": BOT_TOKEN}).status_code == 302
    connect(world)
    before = workspace_row(world)
    for role in ("engineer", "leader", "no_person"):
        client = Client()
        client.force_login(world.signed_in(role))
        assert client.get(PAGE).status_code == 403
        for data in (
            {"action": "connect", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET},
            {"action": "settings", "default_channel": "slack", "mode": "modal"},
            {"action": "match"},
            {"action": "disconnect", "confirm": "on"},
        ):
            assert client.post(PAGE, data).status_code == 403
    assert workspace_row(world) == before
    assert not slack.of("users.lookupByEmail")
    assert not SlackUser.objects.exists()


def test_an_admin_of_another_organisation_sees_and_changes_only_their_own(
    world: World, slack: SlackState
) -> None:
    connect(world)
    other = Client()
    other.force_login(world.signed_in("other_admin"))
    page = text(other.get(PAGE))
    assert "No workspace is connected" in page
    assert TEAM_ID not in page
    assert other.post(PAGE, {"action": "disconnect", "confirm": "on"}).status_code == 302
    assert other.post(PAGE, {"action": "match"}).status_code == 302
    assert SlackWorkspace.objects.filter(organisation=world.a.organisation).exists()
    assert not slack.of("users.lookupByEmail")
    # The workspace is Org A's: Org B cannot take it over with the same token.
    taken = other.post(PAGE, {"action": "connect", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET})
    assert taken.status_code == 400
    assert "already connected to another organisation" in text(taken)
    assert not SlackWorkspace.objects.filter(organisation=world.b.organisation).exists()


def test_the_page_explains_how_to_make_the_app_with_this_installation_s_address(
    admin: Client, slack: SlackState
) -> None:
    response = admin.get(PAGE)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = text(response)
    assert "No workspace is connected" in page
    for step in ("From an app manifest", "Install to Workspace", "Bot User OAuth Token", "App Credentials"):
        assert step in html.unescape(page), step
    manifest = page_manifest(response)
    assert manifest["settings"]["interactivity"]["request_url"] == BASE_URL + reverse("slack_events")
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write",
        "im:write",
        "users:read",
        "users:read.email",
    }
    assert 'name="bot_token"' in page
    assert "not an https address" not in page
    # Only the connect form until a workspace is connected.
    assert 'value="match"' not in page
    assert 'value="disconnect"' not in page
    assert f'href="{PAGE}" aria-current="page"' in page, "the admin navigation leads here"


def test_without_a_public_https_address_the_page_says_so_and_socket_mode_has_no_request_url(
    admin: Client, slack: SlackState
) -> None:
    with override_settings(PULSE_BASE_URL="http://127.0.0.1:8000"):
        page = text(admin.get(PAGE))
    assert "not an https address" in page
    with override_settings(PULSE_SLACK_APP_TOKEN="xapp-1-A1-2-abc"):
        response = admin.get(PAGE)
    manifest = page_manifest(response)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["interactivity"]
    assert "pulse_slack_socket" in text(response)
    assert "xapp-1-A1-2-abc" not in text(response)


def test_an_admin_connects_with_a_token_slack_accepts_and_sees_only_hints(
    admin: Client, slack: SlackState, world: World
) -> None:
    response = admin.post(
        PAGE,
        {"action": "connect", "bot_token": f"  {BOT_TOKEN} ", "signing_secret": SIGNING_SECRET},
        follow=True,
    )
    assert response.redirect_chain == [(PAGE, 302)]
    page = text(response)
    assert "Slack accepted the token: connected to the workspace Pulse Test" in page
    assert [call.method for call in slack.calls] == ["auth.test"]
    assert slack.calls[0].token == BOT_TOKEN
    workspace = SlackWorkspace.objects.get(organisation=world.a.organisation)
    assert workspace.team_id == TEAM_ID
    assert BOT_TOKEN not in workspace.bot_token
    assert SIGNING_SECRET not in workspace.signing_secret
    # The secrets are never shown again: only their last four characters, and empty inputs.
    assert BOT_TOKEN not in page
    assert SIGNING_SECRET not in page
    assert f"ending in <code>…{BOT_TOKEN[-4:]}</code>" in page
    assert f"ending in <code>…{SIGNING_SECRET[-4:]}</code>" in page
    assert re.search(r'<input type="password" name="bot_token"(?![^>]*value=)', page)
    assert re.search(r'<input type="password" name="signing_secret"(?![^>]*value=)', page)
    for section in ('value="settings"', 'value="match"', 'value="disconnect"'):
        assert section in page


@pytest.mark.parametrize(
    ("bot_token", "signing_secret", "field", "message"),
    [
        ("", SIGNING_SECRET, "bot_token", "This field is required."),
        ("xoxp-a-user-token", SIGNING_SECRET, "bot_token", "A bot token starts with xoxb-"),
        ("xoxb-revoked", SIGNING_SECRET, "bot_token", "Slack refused this token (slack: invalid_auth)"),
        (BOT_TOKEN, "short", "signing_secret", "A signing secret is a string of letters and digits"),
        (BOT_TOKEN, "", "signing_secret", "Paste the app&#x27;s signing secret"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_on_its_field_and_nothing_is_stored(
    admin: Client,
    slack: SlackState,
    bot_token: str,
    signing_secret: str,
    field: str,
    message: str,
) -> None:
    response = admin.post(
        PAGE, {"action": "connect", "bot_token": bot_token, "signing_secret": signing_secret}
    )
    assert response.status_code == 400
    page = text(response)
    error = re.search(rf'<ul class="error field-errors" id="id_{field}_error"><li>(.*?)</li>', page)
    assert error, page
    assert message in error.group(1)
    assert f'href="#id_{field}"' in page, "the error summary links to the field"
    # Slack's answer is its error code (invalid_auth: it was asked); the server records no refused call.
    assert not slack.of("auth.test")
    assert not SlackWorkspace.objects.exists()
    for secret in (bot_token, signing_secret):
        if len(secret) > 5:
            assert secret not in page, "nothing pasted is sent back"


def test_a_signing_secret_is_optional_where_the_installation_has_one_or_uses_socket_mode(
    admin: Client, slack: SlackState
) -> None:
    for setting in ({"PULSE_SLACK_SIGNING_SECRET": SIGNING_SECRET}, {"PULSE_SLACK_APP_TOKEN": "xapp-1-x"}):
        with override_settings(**setting):
            response = admin.post(PAGE, {"action": "connect", "bot_token": BOT_TOKEN, "signing_secret": ""})
        assert response.status_code == 302, setting
        workspace = SlackWorkspace.objects.get()
        assert workspace.signing_secret == ""
        workspace.delete()


def test_connecting_again_with_a_refused_token_keeps_the_connection_as_it_was(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    before = workspace_row(world)
    response = admin.post(PAGE, {"action": "connect", "bot_token": "xoxb-not-this-one", "signing_secret": ""})
    assert response.status_code == 400
    assert "Slack refused this token" in text(response)
    assert '<details class="setup" id="slack-setup" open>' in text(response), "the error is in sight"
    assert workspace_row(world) == before
    # A new valid token without a secret keeps the saved secret.
    assert (
        admin.post(PAGE, {"action": "connect", "bot_token": BOT_TOKEN, "signing_secret": ""}).status_code
        == 302
    )
    after = workspace_row(world)
    assert after["signing_secret"] == before["signing_secret"]
    assert "Leave empty to keep the saved one." in text(admin.get(PAGE))


def test_an_admin_chooses_the_default_channel_and_the_mode(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    page = text(admin.get(PAGE))
    assert re.search(r'name="default_channel" value="email"[^>]*checked', page)
    assert re.search(r'name="mode" value="link"[^>]*checked', page)
    assert "never the answers" in page
    assert "pass through Slack&#x27;s servers" in page
    response = admin.post(
        PAGE, {"action": "settings", "default_channel": "both", "mode": "modal"}, follow=True
    )
    assert "Saved: how people are asked" in text(response)
    workspace = SlackWorkspace.objects.get()
    assert (workspace.default_channel, workspace.mode) == ("both", "modal")
    assert re.search(r'name="mode" value="modal"[^>]*checked', text(response))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"default_channel": "pigeon", "mode": "link"}, "default_channel"),
        ({"default_channel": "slack", "mode": "telepathy"}, "mode"),
        ({"default_channel": "slack"}, "mode"),
    ],
)
def test_bad_settings_are_refused_on_their_field_and_change_nothing(
    admin: Client, slack: SlackState, world: World, data: dict[str, str], field: str
) -> None:
    connect(world)
    before = workspace_row(world)
    response = admin.post(PAGE, {"action": "settings", **data})
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in text(response)
    assert workspace_row(world) == before


def test_matching_people_counts_them_and_names_those_slack_does_not_know(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    slack.users[world.a.engineer.email.lower()] = "U0ENGINEER"
    slack.users[world.a.leader.email.lower()] = "U0LEADER"
    page = text(admin.get(PAGE))
    assert "<strong>0</strong> of 3 active people matched" in page
    assert "<strong>3</strong> not looked up yet" in page

    response = admin.post(PAGE, {"action": "match"}, follow=True)
    page = text(response)
    assert "2 people matched to Slack users; 1 not found in Slack (asked by email)." in page
    assert "<strong>2</strong> of 3 active people matched" in page
    assert "not looked up yet" not in page
    not_found = re.search(r'<details id="slack-not-found">(.*?)</details>', page)
    assert not_found
    assert world.a.admin.display_name in not_found.group(1)
    assert world.a.engineer.display_name not in not_found.group(1)
    assert "U0ENGINEER" not in page, "no Slack user id is shown"
    assert {email for (email,) in SlackUser.objects.exclude(user_id="").values_list("person__email")} == {
        world.a.engineer.email,
        world.a.leader.email,
    }
    assert {call.params["email"] for call in slack.of("users.lookupByEmail")} == {
        world.a.admin.email,
        world.a.engineer.email,
        world.a.leader.email,
    }


def test_matching_stopped_by_slack_s_rate_limit_says_how_many_wait(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    slack.users[world.a.admin.email.lower()] = "U0ADMIN"
    slack.rate_limits["users.lookupByEmail"] = [30]  # the first lookup is answered with 429
    response = admin.post(PAGE, {"action": "match"}, follow=True)
    page = text(response)
    assert (
        "0 people matched to Slack users; 0 not found in Slack (asked by email); 3 not looked up yet" in page
    )
    assert "<strong>3</strong> not looked up yet" in page
    slack.rate_limits.clear()
    slack_people_match(organisation=world.a.organisation)
    assert "<strong>1</strong> of 3 active people matched" in text(admin.get(PAGE))


def test_disconnecting_needs_the_tick_and_then_forgets_slack(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    slack.users[world.a.engineer.email.lower()] = "U0ENGINEER"
    slack_people_match(organisation=world.a.organisation)
    SlackUser.objects.filter(person=world.a.engineer).update(channel="slack")
    before = workspace_row(world)

    refused = admin.post(PAGE, {"action": "disconnect"})
    assert refused.status_code == 400
    assert "Tick the box to disconnect." in text(refused)
    assert workspace_row(world) == before
    assert SlackUser.objects.get(person=world.a.engineer).user_id == "U0ENGINEER"

    response = admin.post(PAGE, {"action": "disconnect", "confirm": "on"}, follow=True)
    page = text(response)
    revoked = "Slack is disconnected: everyone is asked by email, and Slack has revoked Pulse&#x27;s token."
    assert revoked in page
    assert len(slack.of("auth.revoke")) == 1
    assert slack.revoked  # the token no longer works in Slack
    assert "No workspace is connected" in page
    assert not SlackWorkspace.objects.exists()
    engineer = SlackUser.objects.get(person=world.a.engineer)
    assert (engineer.user_id, engineer.looked_up_at, engineer.channel) == ("", None, "slack")
    # Once disconnected, the other actions do nothing.
    assert admin.post(PAGE, {"action": "match"}).status_code == 302
    assert (
        admin.post(PAGE, {"action": "settings", "default_channel": "slack", "mode": "link"}).status_code
        == 302
    )
    assert not SlackWorkspace.objects.exists()


def test_a_token_slack_cannot_revoke_is_forgotten_all_the_same_and_the_admin_told(
    admin: Client, slack: SlackState, world: World
) -> None:
    connect(world)
    slack.revoked = True  # revoked already in Slack (the app removed there): auth.revoke is invalid_auth
    response = admin.post(PAGE, {"action": "disconnect", "confirm": "on"}, follow=True)
    page = text(response)
    told = "Slack did not confirm that it revoked Pulse&#x27;s token: remove the app from the workspace"
    assert told in page
    assert not SlackWorkspace.objects.exists()


def test_the_admin_overview_says_whether_slack_is_connected(
    admin: Client, slack: SlackState, world: World
) -> None:
    assert f'<a href="{PAGE}">Check-ins in Slack</a>: not connected' in text(admin.get("/manage/"))
    connect(world)
    assert f'<a href="{PAGE}">Check-ins in Slack</a>: connected to Pulse Test' in text(admin.get("/manage/"))


def test_the_page_names_a_bounded_few_and_its_queries_do_not_grow_with_the_people(
    admin: Client, slack: SlackState, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(world)
    slack_people_match(organisation=world.a.organisation)  # Slack knows none of the three
    monkeypatch.setattr("pulse.web.slack.NOT_FOUND_SHOWN", 1)
    with CaptureQueriesContext(connection) as few:
        page = text(admin.get(PAGE))
    assert "<strong>3</strong> not found in Slack" in page
    names = re.search(r'<details id="slack-not-found">(.*?)</details>', page)
    assert names
    assert names.group(1).count("<li>") == 1
    assert "and 2 more" in names.group(1)

    for number in range(20):
        PersonFactory(organisation=world.a.organisation, email=f"new{number}@a.example")
    slack_people_match(organisation=world.a.organisation)
    with CaptureQueriesContext(connection) as many:
        page = text(admin.get(PAGE))
    assert "<strong>23</strong> not found in Slack" in page
    assert "and 22 more" in page
    assert len(many) == len(few)
