"""You said, we did releases nothing new: a member's page and summary email show exactly what the leader's
release shows of their team (never a cell below k, nor one withheld to protect a smaller group), and a
team's summary emails are the same for every member, byte for byte, so neither their content nor their
length says anything about the person they were sent to.

The tree is docs/science.md §4.3's worked case at k = 6: Root 12 answers (mean 3.5), A 7 (mean 26/7 =
3.714…), B 5 (below k: the close writes no counters for it). A's 7 are at or above k, yet A's mean is
withheld: published beside Root's, it would give B's by subtraction.
"""

from __future__ import annotations

import datetime as dt
import html as html_module
import itertools
import re

import pytest
from django.core import mail
from django.test import Client

from pulse.permissions import Caller
from pulse.selectors.reports import team_report_get
from pulse.services.team_results import team_results_emails_send_due, team_summaries_queue_due
from surveys.models import Membership, Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db

_admins = itertools.count(1)
_DAY = re.compile(r"\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")


def _numbers(text: str) -> set[str]:
    """The numbers a text shows, dates aside."""
    return set(_NUMBER.findall(_DAY.sub(" ", text)))


def _text(html: str) -> str:
    body = html.split('id="main"', 1)[-1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def worked() -> ReportOrg:
    org = ReportOrg(k=6)
    for _ in range(2):
        org.round(
            {
                "Root": {BURNOUT: Value(12, 3.5), RATE: (14, 12)},
                "A": {BURNOUT: Value(7, 26 / 7), RATE: (8, 7)},
            }
        )
    return org


def _leader_release(org: ReportOrg, team: str) -> tuple[set[str], set[str]]:
    """Every value the leader's release shows for the team (all its rounds' published cells), and the
    words around them that carry digits of their own (the scales' names, "burned out (≥ 3)")."""
    admin = org.person(f"Admin {next(_admins)}", admin=True)
    report = team_report_get(caller=Caller(admin), team_id=org.team[team].pk)
    assert report is not None
    shown: set[str] = set()
    words: set[str] = set()
    for metric in [*report.metrics, *([report.response_rate] if report.response_rate else [])]:
        shown |= {point.cell.text for point in metric.points if point.cell.published}
        words |= {metric.label} | {point.cell.note for point in metric.points if point.cell.note}
    return shown, words


def _values_in(text: str, words: set[str]) -> set[str]:
    """The numbers of a page or email, once the names of scales and bands and any address are set aside."""
    for phrase in sorted(words, key=len, reverse=True):
        text = text.replace(phrase, " ")
    return _numbers(re.sub(r"https?://\S+", " ", text))


def _leader_shows(org: ReportOrg, team: str) -> set[str]:
    return _leader_release(org, team)[0]


def _member(org: ReportOrg, label: str, team: str) -> tuple[Person, Client]:
    person = org.person(label, member_of=team)
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return person, client


def test_a_member_page_shows_exactly_the_leader_s_release_of_the_team(worked: ReportOrg) -> None:
    k = {str(worked.k)}
    for team in ("Root", "A", "B"):
        _person, client = _member(worked, f"Member of {team}", team)
        text = _text(client.get(f"/results/{worked.team[team].pk}/").content.decode())
        shown, words = _leader_release(worked, team)
        assert _values_in(text, words) <= shown | k, team
    # A (7 answers, at or above k) is withheld to protect B: its page shows no number of it at all.
    _person, client = _member(worked, "Another of A", "A")
    a_text = _text(client.get(f"/results/{worked.team['A'].pk}/").content.decode())
    assert "3.7" not in a_text
    assert "to protect a smaller group" in a_text
    assert _values_in(a_text, _leader_release(worked, "A")[1]) <= k
    # Root's members see Root's published mean and rate, which is what its leader sees.
    _person, client = _member(worked, "Another of Root", "Root")
    root_text = _text(client.get(f"/results/{worked.team['Root'].pk}/").content.decode())
    assert "3.5" in root_text
    assert "85% of the team answered." in root_text


def test_summary_emails_hold_only_released_cells_and_are_the_same_for_every_member(worked: ReportOrg) -> None:
    members = [_member(worked, name, "Root")[0] for name in ("Ann", "Bartholomew Quimby-Smythe", "Cy")]
    for team in ("A", "B"):
        _member(worked, f"Member of {team}", team)
    lena = worked.person("Lena", leads="Root")
    Membership.objects.filter(person=lena).update(starts_on=dt.date(2026, 1, 1))
    aggregated = worked.rounds[-1].aggregated_at
    assert aggregated is not None
    now = aggregated + dt.timedelta(hours=49)
    team_summaries_queue_due(now=now)
    team_results_emails_send_due(now=now)
    to_root = [m for m in mail.outbox if m.to[0] in {p.email for p in [*members, lena]}]
    # Nobody of A (withheld to protect B) or of B (below k) is sent a summary: it would have nothing to say.
    assert len(mail.outbox) == len(to_root) == 4
    bodies = {m.body for m in to_root}
    subjects = {m.subject for m in to_root}
    parts = {m.alternatives[0].content for m in to_root}  # type: ignore[attr-defined]
    assert len(bodies) == len(subjects) == len(parts) == 1
    (body,) = bodies
    for person in [*members, lena]:
        assert person.display_name.split()[0] not in body
    shown, words = _leader_release(worked, "Root")
    assert _values_in(str(body), words) <= shown | {str(worked.k)}
    assert "3.7" not in body
