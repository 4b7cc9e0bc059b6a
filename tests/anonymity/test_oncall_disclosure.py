"""On-call load tells a leader about a team, never about a person: nothing any route returns holds the busiest
person's share of a rotation below k, the time off of a team below k, or anyone's on-call reference.

The attacker is a leader (or anyone reading what Pulse sends: an email, a Slack message, an API client)
who knows the team is small. With a rotation of three, "one person carried 60 % of the pages" is nearly a
name, and the share of a team of three with no week off says who has had one. The defences: the on-call
computation stores the busiest share only for a rotation of at least k people and the time-off share only
for a team of at least k (``pulse.analysis.oncall``, ``pulse.analysis.time_off``, docs/oncall.md §2.6 and
§8), so no page, export, API answer or notification can show what does not exist; and responders,
incidents and people on leave are stored only as keyed hashes that no output carries (docs/oncall.md §6).

The world is the one of ``tests/pulse/test_oncall_pages.py`` (k = 5): Thin, a rota of three with three
members; Wide, six and six. Three trend runs, a week apart, open the load flags and queue their
notifications. Each route a leader or an API client has is read: the home page, the flags inbox and every
flag's page, every team page and its printable version, the roll-up and its print, every CSV, the reports
and flags API, and every queued notification. Without the k rule in ``pulse.analysis.oncall`` the first
test fails at Thin's flag "the busiest person carried most of the pages"; without the one in
``pulse.analysis.time_off``, at Thin's page showing its time-off share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from pulse.analysis.oncall import Page, Shift, weekly_load
from pulse.models import Flag, Notification, OncallAbsence, OncallPage, OncallShift, OncallWeek
from pulse.services.trends import trend_run
from tests.pulse.helpers_oncall import table_rows
from tests.pulse.test_oncall_pages import NOW, THIN, WIDE, World, _section, world  # noqa: F401

pytestmark = pytest.mark.django_db


def _judged(town: World) -> None:
    """Three trend runs a week apart: the load flags open (two evaluations) and notifications are queued."""
    for days in (14, 7, 0):
        moment = NOW - timedelta(days=days)
        with time_machine.travel(moment, tick=False):
            trend_run(organisation_id=town.org.organisation.pk, now=moment)


def _outputs(town: World) -> Iterator[tuple[str, str]]:
    """(route, what it returned) for every route that shows on-call load or a flag, and every notification."""
    client = town.client
    teams = [town.team_id(name) for name in ("Root", "Thin", "Wide")]
    flags = list(Flag.objects.filter(state__in=Flag.VISIBLE_STATES).values_list("pk", flat=True))
    urls = ["/", "/flags/", *(f"/flags/{pk}/" for pk in flags)]
    for pk in teams:
        urls += [
            f"/teams/{pk}/",
            f"/teams/{pk}/print/",
            f"/teams/{pk}/export.csv",
            f"/api/v1/reports/teams/{pk}/",
        ]
    root = town.team_id("Root")
    urls += [f"/teams/{root}/rollup/", f"/teams/{root}/rollup/print/", f"/teams/{root}/rollup/export.csv"]
    urls += ["/api/v1/reports/home/", "/api/v1/flags/", *(f"/api/v1/flags/{pk}/" for pk in flags)]
    with time_machine.travel(NOW, tick=False):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            yield url, response.content.decode("utf-8-sig")
    for note in Notification.objects.all():
        yield f"notification {note.pk}", "\n".join((note.subject, note.body, json.dumps(note.payload)))


def _thin_concentration_if_computed_at_any_size(town: World) -> list[int]:
    """Thin's busiest share per week, in whole percent, as it would be with no minimum size (k = 1): the
    numbers that must not appear. Read from the stored rows, as ``oncall_weeks_compute`` reads them."""
    team = town.org.team["Thin"]
    shifts = [
        Shift("t", r, a, b, level, site)
        for r, a, b, level, site in OncallShift.objects.filter(team=team).values_list(
            "responder", "starts_at", "ends_at", "level", "site"
        )
    ]
    pages = [
        Page("t", r, z, at, i, u, c)  # type: ignore[arg-type]
        for r, z, at, i, u, c in OncallPage.objects.filter(team=team).values_list(
            "responder", "responder_time_zone", "occurred_at", "incident", "urgency", "channel"
        )
    ]
    loads = weekly_load("t", team.effective_time_zone, shifts, pages, k=1)
    return [round(100 * load.concentration) for load in loads if load.concentration is not None]


def test_at_a_rotation_below_k_no_route_shows_the_busiest_share_or_the_time_off(world: World) -> None:  # noqa: F811
    _judged(world)
    assert Flag.objects.filter(team=world.org.team["Thin"], state=Flag.State.OPEN).exists()
    assert Notification.objects.exists()
    thin = world.team_id("Thin")
    hidden = _thin_concentration_if_computed_at_any_size(world)
    assert hidden[:4] == [100, 100, 89, 79]  # what a rotation of three would give away (over each cycle)
    for route, output in _outputs(world):
        if route == f"/teams/{thin}/" or route == f"/teams/{thin}/print/":
            people = table_rows(_section(output, "load-people"), "load-table")[1:]
            assert people, route
            for day, busiest, time_off in people:
                assert busiest == "not shown: rotation below 5", (route, day, busiest)
                assert time_off == "not shown: team below 5", (route, day, time_off)
            load = _section(output, "load-title")
            assert not [f"{share}%" for share in hidden if f"{share}%" in load], route
            assert "person carried" not in load, route
        elif route.endswith("/rollup/") or route.endswith("/rollup/print/"):
            (row,) = [row for row in table_rows(output, "load-rollup") if row[0].startswith("Thin")]
            assert row[-2:] == ["⊘ not shown: rotation below 5", "⊘ not shown: team below 5"], route
        elif route.endswith(".csv"):
            lines = [
                line for line in output.splitlines() if "Thin" in line or route == f"/teams/{thin}/export.csv"
            ]
            assert not [line for line in lines if "busiest" in line or "week off" in line], route
        # No flag, sentence, notification or API answer of Thin speaks of its busiest person.
        assert not re.search(r"busiest|concentration|most of the pages", _about_thin(output, route, thin)), (
            route
        )
    assert not Flag.objects.filter(team=world.org.team["Thin"], metric="oncall:concentration").exists()
    # The reason none of it can appear: nothing is stored to show.
    weeks = OncallWeek.objects.filter(team=world.org.team["Thin"])
    assert weeks.count() == 5
    assert set(weeks.values_list("concentration", "without_time_off_share")) == {(None, None)}
    # And the same pages do show them for Wide, where the groups are large enough.
    wide = OncallWeek.objects.filter(team=world.org.team["Wide"], ends_at__lte=NOW).order_by("week_start")
    assert all(w.concentration is not None and w.without_time_off_share == pytest.approx(5 / 6) for w in wide)


def _about_thin(output: str, route: str, thin: int) -> str:
    """What of an output speaks of Thin's flags or reports: its report in the API, its flags' pages and API
    answers and their notifications, whole. (Its team page names the busiest share's column to say it is
    withheld; the test reads that table cell by cell instead.)"""
    if f"/reports/teams/{thin}/" in route:
        return output.lower()
    thin_flags = Flag.objects.filter(team_id=thin)
    flag_page = (route.startswith("/flags/") and route != "/flags/") or route.startswith("/api/v1/flags/")
    if flag_page and any(
        route.rstrip("/").endswith(f"/{pk}") for pk in thin_flags.values_list("pk", flat=True)
    ):
        return output.lower()
    if route.startswith("notification"):
        note = Notification.objects.get(pk=int(route.split()[1]))
        return output.lower() if note.flag.team_id == thin else ""
    return ""


def test_no_output_holds_a_responder_an_incident_or_a_person_on_leave_in_clear_or_hashed(
    world: World,  # noqa: F811
) -> None:
    _judged(world)
    secrets = {*THIN.hours, *WIDE.hours}
    secrets |= set(OncallPage.objects.values_list("incident", flat=True))
    stored = [
        *OncallShift.objects.values_list("responder", flat=True),
        *OncallPage.objects.values_list("responder", flat=True),
        *OncallPage.objects.values_list("incident", flat=True),
        *OncallAbsence.objects.values_list("person", flat=True),
    ]
    assert stored
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in stored)
    # A hash cut short is still a reference: its first 16 hex digits are looked for too.
    secrets |= {value[:16] for value in stored}
    # The clear references, as the tool wrote them (the incidents' are in the test's rota).
    clear = {*THIN.hours, *WIDE.hours, "INC-2026-", "W-2026-"}
    seen = 0
    for route, output in _outputs(world):
        seen += 1
        lowered = output.lower()
        assert not [secret for secret in secrets | clear if secret.lower() in lowered], route
    assert seen > 20
