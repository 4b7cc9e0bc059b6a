"""A report organisation's workspace connected to the local Slack Web API server
(tests/surveys/slack_server.py), for the team summaries' Slack tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.test import override_settings

from surveys.models import Person, SlackWorkspace
from surveys.services.slack import slack_people_match, slack_workspace_connect, slack_workspace_settings_set
from tests.pulse.helpers_reports import ReportOrg
from tests.surveys.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackState, slack_server


@contextmanager
def local_slack() -> Iterator[SlackState]:
    """The local Slack server, with Pulse pointed at it and no pause between DMs."""
    with (
        slack_server() as (state, url),
        override_settings(PULSE_SLACK_API_URL=url, PULSE_SLACK_PACE_SECONDS=0),
    ):
        yield state


def slack_connect(
    state: SlackState, org: ReportOrg, in_slack: Sequence[Person], *, default: str = "slack"
) -> SlackWorkspace:
    """Connect the organisation's workspace (asking people on ``default``) and match ``in_slack`` to Slack
    users; everyone else is unknown to Slack."""
    for person in in_slack:
        state.users[person.email.lower()] = f"U{person.pk:08d}"
    workspace = slack_workspace_connect(
        organisation=org.organisation, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    )
    slack_workspace_settings_set(workspace=workspace, default_channel=default, mode="link")
    slack_people_match(organisation=org.organisation)
    return workspace


def user_id_of(state: SlackState, person: Person) -> str:
    return state.users[person.email.lower()]


def dms_to(state: SlackState, person: Person) -> list[dict[str, Any]]:
    """The messages posted into the DM with this person, oldest first (the server names a DM "D…" after
    the user "U…")."""
    channel = "D" + user_id_of(state, person)[1:]
    return [call.params for call in state.of("chat.postMessage") if call.params["channel"] == channel]


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A posted message's blocks (the client may send them as a JSON string)."""
    blocks = message["blocks"]
    parsed: list[dict[str, Any]] = json.loads(blocks) if isinstance(blocks, str) else blocks
    return parsed


def blocks_text(value: Any) -> str:
    """Every text of a message's blocks, in order, one a line: what a reader of the DM sees (a button's
    address aside)."""
    texts: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, inner in item.items():
                if key == "text" and isinstance(inner, str):
                    texts.append(inner)
                else:
                    walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    walk(value)
    return "\n".join(texts)
