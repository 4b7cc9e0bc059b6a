"""The demo organisation that `make run` loads."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from surveys.models import Membership, Organisation, Person, Schedule, SlackWorkspace, Team
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_HEAD_EMAIL, DEMO_LEADER_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_demo_is_complete_and_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("pulse_demo")
    call_command("pulse_demo", "--once")
    assert Organisation.objects.filter(name="Acme").count() == 1
    teams = Team.objects.filter(organisation__name="Acme")
    assert teams.count() == 8
    assert max(team.depth for team in teams) == 2  # three levels
    assert len({team.effective_time_zone for team in teams}) >= 3
    assert 55 <= Person.objects.filter(organisation__name="Acme").count() <= 65
    for team in teams:
        assert Membership.objects.current().filter(team=team, role="leader").exists(), team
    assert Person.objects.get(email=DEMO_ADMIN_EMAIL).is_admin
    schedules = Schedule.objects.filter(organisation__name="Acme")
    assert {schedule.effective_time_zone for schedule in schedules} == {
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
    }
    assert all(schedule.next_opening_at for schedule in schedules)
    out = capsys.readouterr().out
    assert DEMO_LEADER_EMAIL in out
    assert DEMO_HEAD_EMAIL in out
    assert DEMO_ADMIN_EMAIL in out
    assert Person.objects.get(email=DEMO_HEAD_EMAIL).memberships.get(role="leader").team.parent is None


def test_demo_log_ins_work() -> None:
    call_command("pulse_demo")
    client = Client()
    response = client.post("/login/", {"username": DEMO_LEADER_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert "SRE Americas" in home.content.decode()
    admin = Client()
    assert admin.login(username=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD)
    assert admin.get("/admin/surveys/schedule/").status_code == 200


def test_the_demo_asks_by_email_and_shows_how_to_connect_slack() -> None:
    call_command("pulse_demo")
    assert not SlackWorkspace.objects.exists(), "no stand-in Slack: the demo is asked by email"
    admin = Client()
    assert admin.login(username=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD)
    page = admin.get("/manage/slack/").content.decode()
    assert "No workspace is connected: everyone is asked by email." in page
    assert "From an app manifest" in page
    assert "/slack/events/" in page
    assert "Check-ins in Slack</a>: not connected" in admin.get("/manage/").content.decode()
    leader = Client()
    assert leader.login(username=DEMO_LEADER_EMAIL, password=DEMO_PASSWORD)
    assert 'name="channel"' not in leader.get("/me/checkins/").content.decode()
