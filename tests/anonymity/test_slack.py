"""Answering in a Slack modal leaves no Slack user id, DM channel or message timestamp next to an answer.

A DBA with SELECT on everything, after people answered in Slack's modal: no table but the two Slack tables
holds any of them (not the ballot, not the participation row, not the invitation, not an answer-bearing
table), and those two hold them only beside the person (``SlackUser``) or on the invitation's outbox row
(``SlackMessage``), which the round's close removes. No log record holds one either, with every logger at
DEBUG: slack_sdk and slack_bolt print request bodies at DEBUG, which is why their logger is held at INFO
(``surveys.services.slack_delivery.slack_library_logger``). Run on PostgreSQL too (``DATABASE_URL``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from surveys.models import SlackMessage, SlackUser
from surveys.services.counting import round_close
from surveys.services.slack_delivery import slack_messages_plan
from tests.anonymity.test_logs import Seen, log_records  # noqa: F401 - the fixture
from tests.helpers_rounds import answers_for, opened_ballots
from tests.surveys.slack_server import button_click, signed, view_submission
from tests.surveys.test_slack import button, dm_to, modal_values, send_all, slack, slack_round, user_of  # noqa: F401

SLACK_TABLES = {SlackUser._meta.db_table, SlackMessage._meta.db_table}


def _rows_of_every_table() -> dict[str, str]:
    """Each table's rows as text, every column (system tables aside), read with plain SQL."""
    dumped: dict[str, str] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {quote(table)}")
            dumped[table] = repr(cursor.fetchall())
    return dumped


@pytest.mark.django_db
def test_a_modal_answer_stores_no_slack_id_beside_it_and_logs_none(
    slack: Any,  # noqa: F811 - the fixture imported above
    client: Client,
    log_records: list[Seen],  # noqa: F811 - the fixture imported above
) -> None:
    opened = slack_round(slack, mode="modal", people=3)
    send_all()
    secrets: set[str] = set()
    for index in range(3):
        user_id = user_of(slack, opened, index)
        message = dm_to(slack, user_id)[0]
        token = button(message)["value"]
        secrets |= {user_id, str(message["channel"])}
        client.post("/slack/events/", **signed(button_click(user_id=user_id, value=token)))
        values = modal_values(opened, answers_for(opened.round, comment=f"Comment {index}"))
        answered = client.post(
            "/slack/events/", **signed(view_submission(user_id=user_id, token=token, values=values))
        )
        assert answered.json()["response_action"] == "update"
    timestamps = set(SlackMessage.objects.values_list("message_ts", flat=True))
    assert len(timestamps) == 3
    assert "" not in timestamps
    secrets |= timestamps
    assert len(slack.of("chat.update")) == 3

    # Nowhere but the two Slack tables: not the ballots, the participation rows, the invitations.
    for table, rows in _rows_of_every_table().items():
        if table in SLACK_TABLES:
            continue
        found = [secret for secret in secrets if secret in rows or secret.replace(".", "") in rows]
        assert not found, f"{table} holds Slack ids or timestamps: {found}"
    # Not inside the sealed ballots either (opened as the close opens them).
    plaintexts = json.dumps(opened_ballots(opened.round))
    assert not [secret for secret in secrets if secret in plaintexts]

    # The close removes the DM's channel and timestamp too: then only the person's own Slack user is left.
    assert round_close(round_id=opened.round.pk, now=opened.close_moment)
    slack_messages_plan()
    everything = "".join(_rows_of_every_table().values())
    user_ids = {user_of(slack, opened, index) for index in range(3)}
    assert not [secret for secret in secrets - user_ids if secret in everything]

    # And no log record holds any of them.
    leaked = [seen for seen in log_records for secret in secrets if secret in seen.text]
    assert not leaked, leaked[:3]
    # Bolt gives the logger named after the app its quiet base logger's level: named "pulse", the app
    # set Pulse's own logger to ERROR on its first request, and the service's warnings went silent.
    assert logging.getLogger("pulse.ratelimit").isEnabledFor(logging.WARNING)
    assert logging.getLogger("surveys.services").isEnabledFor(logging.WARNING)


def test_the_slack_library_logger_never_passes_debug_on() -> None:
    """The defence the log half of the test above relies on: without it, slack_sdk's DEBUG lines (request
    bodies with user ids and channels) would reach every handler."""
    from surveys.services.slack_delivery import slack_library_logger
    from surveys.slack_app import bolt_logger

    assert slack_library_logger.getEffectiveLevel() >= logging.INFO
    assert bolt_logger.getEffectiveLevel() >= logging.ERROR
