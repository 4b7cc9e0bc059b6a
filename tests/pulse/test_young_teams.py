"""Empty and young teams: a team's page lists only the rounds that asked it (none from before its people
joined), and a team without members or a schedule says what to do next, with the admin pages' links for
admins."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.test import Client

from pulse.disclosure.release import TeamIndex
from pulse.permissions import Caller, caller_for
from pulse.selectors import reports
from pulse.selectors.team_rounds import rounds_asking
from surveys.models import Membership, Person, Schedule, Team
from tests.pulse.helpers_reports import BURNOUT, RATE, START, ReportOrg, Value

pytestmark = pytest.mark.django_db


def _caller(person: Person) -> Caller:
    assert person.user is not None
    caller = caller_for(person.user)
    assert caller is not None
    return caller


def _text(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    page = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _twelve_rounds() -> ReportOrg:
    org = ReportOrg(tree=(("Platform", None), ("SRE", "Platform")), instruments=("burnout1",))
    org.person("Member of SRE", member_of="SRE")
    for _ in range(12):
        org.round({"Platform": {BURNOUT: Value(19, 2.4), RATE: (22, 19)}, "SRE": {BURNOUT: Value(8, 2.5)}})
    return org


def test_a_team_made_today_without_members_lists_no_past_round_and_says_what_to_do() -> None:
    org = _twelve_rounds()
    new = Team.objects.create(
        organisation=org.organisation, name="New", slug="new", parent=org.team["Platform"]
    )
    org.team["New"] = new
    admin = org.person("Ada", admin=True)
    report = reports.team_report_get(caller=_caller(admin), team_id=new.pk)
    assert report is not None
    assert report.latest_round is None
    assert report.metrics == ()
    assert report.setup is not None
    assert not report.setup.has_members
    assert report.setup.schedules == ("Weekly",)  # Platform's schedule asks the teams below it
    text = _text(_client(admin), f"/teams/{new.pk}/")
    assert "fewer than 5 answers" not in text
    assert "showing Platform" not in text
    assert "No one is a member of New today" in text
    page = _client(admin).get(f"/teams/{new.pk}/").content.decode()
    assert f'href="/manage/teams/{new.pk}/"' in page
    assert 'href="/manage/people/import/"' in page
    # A leader of the new team is told who can add people, without links to pages they cannot open.
    leader = org.person("Nils", leads="New")
    leader_page = _client(leader).get(f"/teams/{new.pk}/").content.decode()
    assert "/manage/" not in leader_page
    assert "An admin of" in leader_page


def test_rounds_from_before_a_teams_people_joined_are_not_listed_and_later_ones_are() -> None:
    org = ReportOrg(
        tree=(("Platform", None), ("SRE", "Platform"), ("Late", "Platform")), instruments=("burnout1",)
    )
    org.person("Member of SRE", member_of="SRE")
    late = org.person("Member of Late")
    # The fifth round opens three days before it closes, on the day Late's person joins.
    joined = (START + dt.timedelta(weeks=4, days=-3)).date()
    Membership.objects.create(person=late, team=org.team["Late"], starts_on=joined)
    for _ in range(8):
        # Late's one person never gives it an aggregate of its own: its rounds read "fewer than 5 answers".
        org.round({"Platform": {BURNOUT: Value(12, 2.4)}, "SRE": {BURNOUT: Value(8, 2.5)}})
    admin = _caller(org.person("Ada", admin=True))
    report = reports.team_report_get(caller=admin, team_id=org.team["Late"].pk)
    assert report is not None
    (burnout,) = report.metrics
    assert [p.round.pk for p in burnout.points] == [r.pk for r in org.rounds[4:]]
    assert all(p.cell.text == "fewer than 5 answers" for p in burnout.points)
    assert report.setup is not None
    assert report.setup.ready


def test_a_round_with_the_teams_aggregates_stays_listed_whatever_its_memberships_say_now() -> None:
    org = ReportOrg(tree=(("Platform", None), ("SRE", "Platform")), instruments=("burnout1",))
    for _ in range(3):
        org.round({"Platform": {BURNOUT: Value(16, 2.4)}, "SRE": {BURNOUT: Value(8, 2.5)}})
    # No memberships at all (ended and deleted since): the stored results still show.
    assert not Membership.objects.filter(team__organisation=org.organisation).exists()
    teams = TeamIndex.of(org.organisation.pk)
    sre = teams.by_id[org.team["SRE"].pk]
    assert len(rounds_asking(org.organisation.pk, [sre], limit=None)[sre.pk]) == 3
    assert len(rounds_asking(org.organisation.pk, [sre], limit=2)[sre.pk]) == 2
    admin = _caller(org.person("Ada", admin=True))
    report = reports.team_report_get(caller=admin, team_id=sre.pk)
    assert report is not None
    assert [p.cell.text for p in report.metrics[0].points] == ["2.5", "2.5", "2.5"]


def test_a_team_no_schedule_asks_says_so_with_the_schedule_page_for_admins() -> None:
    org = ReportOrg(tree=(("Platform", None), ("SRE", "Platform")), instruments=("burnout1",))
    other = Team.objects.create(organisation=org.organisation, name="Data", slug="data-x")
    person = org.person("Dana")
    Membership.objects.create(person=person, team=other, starts_on=dt.date(2026, 1, 1))
    admin = org.person("Ada", admin=True)
    report = reports.team_report_get(caller=_caller(admin), team_id=other.pk)
    assert report is not None
    assert report.setup is not None
    assert report.setup.has_members
    assert report.setup.schedules == ()
    text = _text(_client(admin), f"/teams/{other.pk}/")
    assert "No schedule asks Data" in text
    assert "No one is a member" not in text
    assert 'href="/manage/schedules/new/"' in _client(admin).get(f"/teams/{other.pk}/").content.decode()
    # A schedule that has ended asks no one either; a running one makes the team ready.
    Schedule.objects.create(
        organisation=org.organisation,
        team=other,
        name="Old",
        starts_on=dt.date(2025, 1, 1),
        ends_on=dt.date(2025, 6, 1),
    )
    assert "No schedule asks Data" in _text(_client(admin), f"/teams/{other.pk}/")
    Schedule.objects.create(
        organisation=org.organisation, team=other, name="Data weekly", starts_on=dt.date(2026, 1, 1)
    )
    text = _text(_client(admin), f"/teams/{other.pk}/")
    assert "Before Pulse can ask" not in text
    assert "No round that asked this team has closed yet." in text


def test_a_parent_whose_teams_below_have_schedules_is_not_told_to_make_one() -> None:
    org = ReportOrg(tree=(("Top", None), ("Platform", "Top"), ("SRE", "Platform")), instruments=("burnout1",))
    org.schedule.team = org.team["Platform"]
    org.schedule.save()
    org.person("Member of SRE", member_of="SRE")
    org.round({"Platform": {BURNOUT: Value(12, 2.4)}, "SRE": {BURNOUT: Value(8, 2.5)}})
    admin = org.person("Ada", admin=True)
    text = _text(_client(admin), f"/teams/{org.team['Top'].pk}/")
    assert "Before Pulse can ask" not in text
    assert "No round has asked Top as a whole" in text
