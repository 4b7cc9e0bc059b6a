"""``manage.py pulse_tick`` runs one tick: a due round opens, and running it again opens nothing more."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django import Settings as SettingsFixture

from surveys.models import Invitation, Round, Schedule
from tests.helpers_rounds import open_round


@pytest.mark.django_db
def test_one_tick_opens_what_is_due_and_a_second_run_does_no_work_twice() -> None:
    setup = open_round(people_per_team=(5,))
    schedule = setup.round.schedule
    Round.objects.filter(pk=setup.round.pk).delete()
    Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=timezone.now() - dt.timedelta(minutes=1))
    out = StringIO()
    call_command("pulse_tick", stdout=out)
    lines = dict(line.split() for line in out.getvalue().splitlines())
    assert lines["surveys.services.rounds.rounds_open_due"] == "1"
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert Invitation.objects.filter(round__schedule=schedule).count() == 5
    again = StringIO()
    call_command("pulse_tick", stdout=again)
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert (
        dict(line.split() for line in again.getvalue().splitlines())[
            "surveys.services.rounds.rounds_open_due"
        ]
        == "0"
    )


@pytest.mark.django_db
def test_a_failing_step_is_reported_and_the_command_fails(settings: SettingsFixture) -> None:
    settings.PULSE_TICK_STEPS = ["surveys.services.rounds.rounds_open_due", "surveys.services.nowhere.step"]
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 step\(s\) failed: surveys.services.nowhere.step"):
        call_command("pulse_tick", stdout=out)
    assert "rounds_open_due" in out.getvalue()
    assert "failed" in out.getvalue()
