"""Time off imported over HTTP is counted in the stored weeks by a real Celery worker, queued after commit;
with the broker unreachable, the same weeks are computed at once instead, so nothing waits on a lost task.

PostgreSQL only: the worker is another process and reads the test database by its name. It consumes its
own Redis database (11) and only the queues this test sends to.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection
from django.test import Client

from pulse.analysis.oncall_csv import parse_shifts
from pulse.models import OncallWeek
from pulse.services.oncall import oncall_rows_store
from surveys.models import Organisation, Team
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory, UserFactory
from tests.helpers_broker import use_broker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/11"
UNREACHABLE = "redis://127.0.0.1:8119/0"  # one of this workstream's ports, where nothing listens
SHIFTS = "team,responder,start,end,level,site\nsre,a,2026-01-12T00:00:00+01:00,2026-01-19T00:00:00+01:00,1,\n"


@pytest.fixture
def broker() -> Iterator[str]:
    before = current_app.conf.broker_url
    yield BROKER
    use_broker(before)


def _world() -> tuple[Organisation, Team, Client, str]:
    organisation = OrganisationFactory(min_group_size=3)
    team = TeamFactory(organisation=organisation, name="SRE", slug="sre")
    members = [PersonFactory(organisation=organisation) for _ in range(3)]
    for person in members:
        MembershipFactory(person=person, team=team, starts_on=date(2025, 1, 1))
    oncall_rows_store(team_id=team.pk, shifts=parse_shifts(SHIFTS).rows, pages=(), source="csv")
    admin = PersonFactory(organisation=organisation, is_admin=True, user=UserFactory())
    client = Client()
    assert admin.user is not None
    client.force_login(admin.user)
    time_off = f"email,first_day,last_day\n{members[0].email},2026-01-05,2026-01-09\n"
    return organisation, team, client, time_off


def _worker() -> subprocess.Popen[bytes]:
    database = connection.settings_dict
    env = {
        **os.environ,
        "PULSE_TESTING": "1",
        "DATABASE_URL": (
            f"postgres://{database.get('USER') or 'postgres'}@{database.get('HOST') or '127.0.0.1'}"
            f":{database.get('PORT') or 5432}/{database['NAME']}"
        ),
        "CELERY_BROKER_URL": BROKER,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "closing",
            "--pool=solo",
            "-n",
            "h1@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_a_worker_counts_imported_time_off_in_the_stored_weeks(broker: str) -> None:
    _organisation, team, client, time_off = _world()
    assert OncallWeek.objects.get(team=team).without_time_off_share == 1.0  # nobody had a break yet
    use_broker(broker)
    worker = _worker()
    try:
        response = client.post("/manage/oncall/time-off/", {"action": "apply", "csv_text": time_off})
        assert response.status_code == 302
        deadline = time.monotonic() + 60
        share = 1.0
        while time.monotonic() < deadline:
            share = OncallWeek.objects.get(team=team).without_time_off_share or 0.0
            if share < 1.0:
                break
            time.sleep(0.5)
        assert share == pytest.approx(2 / 3)  # one of three members had Monday to Friday off
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_with_the_broker_down_the_weeks_are_computed_at_once(broker: str) -> None:
    _organisation, team, client, time_off = _world()
    use_broker(UNREACHABLE)
    response = client.post("/manage/oncall/time-off/", {"action": "apply", "csv_text": time_off})
    assert response.status_code == 302
    assert OncallWeek.objects.get(team=team).without_time_off_share == pytest.approx(2 / 3)
