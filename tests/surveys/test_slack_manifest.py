"""docs/slack-manifest.yml is a Slack app manifest that makes the app Pulse's code expects: a bot user named
Pulse with exactly the scopes of the Web API methods Pulse calls, and interactivity sent to the URL the
project serves Slack's requests at."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from django.conf import settings
from django.urls import resolve, reverse

from surveys import slack_app

MANIFEST = Path(settings.BASE_DIR) / "docs" / "slack-manifest.yml"

# Each scope for the methods Pulse calls (surveys/services/slack.py, slack_delivery.py, slack_app.py):
# auth.test and views.open need none.
SCOPES = {
    "chat:write",  # chat.postMessage, chat.update
    "im:write",  # conversations.open
    "users:read",  # users:read.email's prerequisite
    "users:read.email",  # users.lookupByEmail
}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_names_the_app_and_its_bot_user() -> None:
    loaded = manifest()
    assert loaded["_metadata"]["major_version"] in (1, 2)
    assert loaded["display_information"]["name"] == "Pulse"
    # Slack's limits: a short description of at most 139 characters, a long one of 175 to 4,000.
    assert len(loaded["display_information"]["description"]) <= 139
    assert 175 <= len(loaded["display_information"]["long_description"]) <= 4000
    assert loaded["features"]["bot_user"]["display_name"] == "Pulse"
    # The DMs are readable in the Messages tab, which takes no replies: Pulse reads none.
    assert loaded["features"]["app_home"]["messages_tab_enabled"] is True
    assert loaded["features"]["app_home"]["messages_tab_read_only_enabled"] is True


def test_the_manifest_asks_for_exactly_the_scopes_pulse_uses() -> None:
    oauth = manifest()["oauth_config"]["scopes"]
    assert set(oauth) == {"bot"}, "no user scopes: Pulse acts only as its bot"
    assert len(oauth["bot"]) == len(set(oauth["bot"]))
    assert set(oauth["bot"]) == SCOPES


def test_interactivity_goes_to_the_url_pulse_serves_slack_at() -> None:
    settings_ = manifest()["settings"]
    assert settings_["interactivity"]["is_enabled"] is True
    url = urlparse(settings_["interactivity"]["request_url"])
    assert url.scheme == "https"
    assert url.netloc == "<your-pulse>"
    assert url.path == reverse("slack_events")
    assert resolve(url.path).func is slack_app.slack_events
    # HTTP by default; the file's comment says how to switch to Socket Mode.
    assert settings_["socket_mode_enabled"] is False
    assert "event_subscriptions" not in settings_, "Pulse subscribes to no events"
    assert "pulse_slack_socket" in MANIFEST.read_text(encoding="utf-8")
