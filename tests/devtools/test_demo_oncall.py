"""The demo's on-call load, loaded through the CSV import: SRE Americas' thin rota and rising night pages
(ahead of its rising burnout), SRE Europe's steady load, their time off; a second call does nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from pulse.devtools.demo_oncall import HISTORY_WEEKS, LEAD_WEEKS, demo_oncall_create
from pulse.models import OncallImport, OncallPage, OncallShift, OncallWeek
from surveys.models import Organisation
from surveys.services.demo import DEMO_ORGANISATION, demo_create

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday


@time_machine.travel(NOW, tick=False)
def test_the_sre_teams_get_load_that_tells_a_story_through_the_csv_import() -> None:
    demo_create()
    acme = Organisation.objects.get(name=DEMO_ORGANISATION)
    assert demo_oncall_create(organisation=acme) is True
    assert set(OncallImport.objects.filter(organisation=acme).values_list("source", flat=True)) == {"csv"}
    assert set(OncallShift.objects.values_list("source", flat=True)) == {"csv"}

    americas = list(OncallWeek.objects.filter(team__slug="sre-americas").order_by("week_start"))
    europe = list(OncallWeek.objects.filter(team__slug="sre-europe").order_by("week_start"))
    # Four weeks before the twelve survey weeks, and this week so far.
    assert len(americas) == len(europe) == LEAD_WEEKS + HISTORY_WEEKS + 1
    complete = americas[:-1]
    assert all(week.rotation_size == 4 and week.rotation_by_site == {"new-york": 4} for week in complete)
    assert all("rotation_size" in [r["code"] for r in week.reasons] for week in complete)
    # Night pages rise already in the weeks before the survey history starts, and keep rising.
    sleep = [week.interruptions_sleep for week in complete]
    assert sleep[LEAD_WEEKS - 1] > sleep[0]
    assert sum(sleep[-4:]) > 2 * sum(sleep[LEAD_WEEKS : LEAD_WEEKS + 4])
    assert any("incidents_per_shift" in [r["code"] for r in week.reasons] for week in complete[-3:])
    assert not any("incidents_per_shift" in [r["code"] for r in week.reasons] for week in complete[:8])
    assert all(week.concentration is None for week in americas)  # a rotation of 4 is below Acme's k
    # Europe: eight at one site, no threshold breached, the busiest share shown (8 >= k).
    assert all(week.reasons == [] and week.rotation_size == 8 for week in europe[:-1])
    assert all(week.concentration is not None for week in europe[:-1] if week.interruptions)
    # Time off: most of Europe had a week off in the last quarter; almost nobody in the Americas.
    assert americas[-2].without_time_off_share == pytest.approx(7 / 8)
    assert europe[-2].without_time_off_share == pytest.approx(2 / 8)

    pages = OncallPage.objects.count()
    assert demo_oncall_create(organisation=acme) is False
    assert OncallPage.objects.count() == pages
