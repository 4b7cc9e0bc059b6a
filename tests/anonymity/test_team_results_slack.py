"""The team summary as a Slack DM releases nothing new either: every member of a team is sent the same
message (the same blocks, the same text), so neither its content nor its length says anything about the
person it went to, and it shows no number the leader's release of the team does not show.

The tree is docs/science.md §4.3's worked case at k = 6 (``test_team_results_disclosure.worked``): Root 12
answers, A 7 (withheld to protect B), B 5 (below k).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from pulse.models.team_results import TeamSummarySlackMessage
from pulse.services.team_results import round_note_save, team_summaries_queue_due
from pulse.services.team_summary_slack import team_summary_slack_send_due
from surveys.models import Membership
from tests.anonymity.test_team_results_disclosure import _leader_release, _member, _values_in, worked
from tests.pulse.helpers_reports import ReportOrg
from tests.pulse.helpers_slack import blocks_of, blocks_text, dms_to, local_slack, slack_connect
from tests.surveys.slack_server import SlackState

__all__ = ["worked"]  # the fixture, shared with the email's test

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with local_slack() as state:
        yield state


def test_every_member_s_dm_is_the_same_and_shows_only_the_leader_s_release(
    worked: ReportOrg, slack: SlackState
) -> None:
    root = [_member(worked, name, "Root")[0] for name in ("Ann", "Bartholomew Quimby-Smythe", "Cy", "Dee")]
    others = [_member(worked, f"Member of {team}", team)[0] for team in ("A", "B")]
    lena = worked.person("Lena", leads="Root")
    Membership.objects.filter(person=lena).update(starts_on=dt.date(2026, 1, 1))
    round_note_save(
        round_id=worked.rounds[-1].pk, team_id=worked.team["Root"].pk, by=lena, text="Thank you all."
    )
    slack_connect(slack, worked, [*root, *others, lena])
    aggregated = worked.rounds[-1].aggregated_at
    assert aggregated is not None
    team_summaries_queue_due(now=aggregated + dt.timedelta(hours=49))
    assert team_summary_slack_send_due() == 5

    # Nobody of A (withheld to protect B) or of B (below k) is sent a DM: it would have nothing to say.
    for person in others:
        assert not dms_to(slack, person)
    messages = [dms_to(slack, person) for person in [*root, lena]]
    assert all(len(dms) == 1 for dms in messages)
    blocks = {json.dumps(blocks_of(dms[0]), sort_keys=True) for dms in messages}
    texts = {dms[0]["text"] for dms in messages}
    stored = set(TeamSummarySlackMessage.objects.values_list("text", flat=True))
    assert len(blocks) == len(texts) == len(stored) == 1, "the same message for every member"

    said = blocks_text(blocks_of(messages[0][0]))
    for person in [*root, *others, lena]:
        assert person.display_name.split()[0] not in said
        assert person.email not in json.dumps(blocks_of(messages[0][0]))
    shown, words = _leader_release(worked, "Root")
    assert _values_in(said, words) <= shown | {str(worked.k)}
    assert "3.5" in said  # Root's published mean: the message is about something
    assert "3.7" not in said  # A's mean, withheld to protect B
