"""The leaders' pages: home heatmap, team page, flags inbox and its actions; who may open what; and the
query counts of the home and team pages, which must not grow with the number of teams."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from pulse.models import Action, Flag, FlagEvent
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, START, WORKLOAD, ReportOrg, Value

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL; the point is that they are the same for 5 and 50 teams.
HOME_QUERIES = 20
# The team page also asks which rounds asked the team (its memberships, and the aggregates of rounds from
# before its people joined) and what it still needs (members, schedules): pulse.selectors.team_rounds.
# And the leader's note on the latest round (pulse.selectors.team_results.round_note_get), and the team's
# weekly on-call load (pulse.selectors.oncall).
TEAM_QUERIES = 24


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _text(response: TestResponse) -> str:
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def worked() -> ReportOrg:
    """docs/science.md §4.3's worked case at k = 6: Root 12 (mean 3.5), A 7 (mean 3.714), B 5 (no rows)."""
    org = ReportOrg(k=6)
    org.round(
        {"Root": {BURNOUT: Value(12, 3.5), RATE: (14, 12)}, "A": {BURNOUT: Value(7, 26 / 7), RATE: (8, 7)}}
    )
    return org


def test_home_shows_the_heatmap_with_reasons_and_never_a_withheld_number(worked: ReportOrg) -> None:
    leader = worked.person("Lena", leads="Root")
    response = _client(leader).get("/")
    assert response.status_code == 200
    text = _text(response)
    assert "Your teams" in text
    assert "withheld to protect a smaller group" in text  # A
    assert "fewer than 6 answers" in text  # B
    assert "3.5" in text
    # A's mean (3.714 → 3.7) and B's (16/5 = 3.2) appear nowhere, nor do their counts of answers.
    assert "3.7" not in text
    assert "3.2" not in text
    assert "7 answers" not in text
    assert "12 answers" in text


def test_home_lists_open_flags_first_without_numbers(worked: ReportOrg) -> None:
    leader = worked.person("Lena", leads="Root")
    worked.flag("A", explanation="Burnout (single item) was 3.7 in the round closing 2 Mar 2026.")
    worked.flag("Root", WORKLOAD, state=Flag.State.ACKNOWLEDGED)
    worked.flag("Root", RATE, state=Flag.State.RESOLVED)
    text = _text(_client(leader).get("/"))
    open_flags = text.split("Open flags", 1)[1].split("Latest results", 1)[0]
    assert open_flags.index("A: Burnout (single item)") < open_flags.index("Root: Workload")
    assert "A: Burnout (single item) — worsening trend" in open_flags  # its reasons, without numbers
    assert "Response rate" not in open_flags  # resolved
    assert "3.7" not in text
    assert "⚑ 1 open flag" in text


def test_engineers_get_their_check_ins_and_no_results(worked: ReportOrg) -> None:
    engineer = worked.person("Eve", member_of="A")
    client = _client(engineer)
    response = client.get("/")
    assert response.status_code == 200
    assert "You do not lead a team" in response.content.decode()
    assert client.get(f"/teams/{worked.team['A'].pk}/").status_code == 403
    assert client.get("/flags/").status_code == 403
    assert Client().get("/flags/").status_code == 302  # anonymous: to the sign-in page


def test_team_page_is_404_for_teams_not_led_and_other_organisations(worked: ReportOrg) -> None:
    other = ReportOrg()
    lead_a = _client(worked.person("Lead A", leads="A"))
    assert lead_a.get(f"/teams/{worked.team['A'].pk}/").status_code == 200
    assert lead_a.get(f"/teams/{worked.team['B'].pk}/").status_code == 404
    assert lead_a.get(f"/teams/{worked.team['Root'].pk}/").status_code == 404
    assert lead_a.get(f"/teams/{other.team['A'].pk}/").status_code == 404
    assert lead_a.get("/teams/999999999/").status_code == 404
    admin = _client(other.person("Other admin", admin=True))
    assert admin.get(f"/teams/{other.team['A'].pk}/").status_code == 200
    assert admin.get(f"/teams/{worked.team['A'].pk}/").status_code == 404


def test_team_page_shows_trend_table_words_and_a_chart_with_the_same_numbers() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1", "workload1"))
    for mean in (2.0, 2.1, 2.3, 2.2, 2.5, 2.6, 2.8):
        org.round({"Root": {BURNOUT: Value(9, mean), WORKLOAD: Value(9, 3.1), RATE: (10, 9)}})
    response = _client(org.person("Lena", leads="Root")).get(f"/teams/{org.team['Root'].pk}/")
    assert response.status_code == 200
    text = _text(response)
    assert "What changed since the last round" in text
    assert "Burnout (single item) moved +0.2, from 2.6 (" in text
    assert "within the noise between two rounds of this size" in text
    assert "Over the last 7 rounds with a result, Burnout (single item) moved" in text
    charts = response.context["charts"]
    assert charts[BURNOUT]["values"] == [2.0, 2.1, 2.3, 2.2, 2.5, 2.6, 2.8]
    assert charts[RATE]["values"] == [90.0] * 7
    assert all(value is not None for value in charts[BURNOUT]["trend"])
    html = response.content.decode()
    assert 'id="pulse-charts"' in html
    assert "pulse/vendor/uPlot.iife.min.js" in html
    assert '<table class="series">' in html  # the accessible table beside each chart


def _flagged() -> tuple[ReportOrg, Flag]:
    org = ReportOrg()
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 3.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    return org, org.flag("A", explanation="Burnout (single item) was 3.4 in the round closing 2 Mar 2026.")


def test_a_leader_reads_a_flag_plans_a_suggested_action_resolves_and_reopens_it() -> None:
    org, flag = _flagged()
    lena = org.person("Lena", leads="Root")
    client = _client(lena)
    inbox = _text(client.get("/flags/"))
    assert "Waiting for a response (1)" in inbox
    assert "Burnout (single item) has risen over the last 8 rounds, from 2.1 to 3.4." in inbox  # the headline
    assert "2 Mar 2026." not in inbox  # the statistics wait on the flag's own page
    assert f'id="id_ack{flag.pk}-note"' not in inbox  # the forms open on demand, on the flag's page

    page = client.get(f"/flags/{flag.pk}/")
    text = _text(page)
    assert "Why Pulse raised it" in text
    assert "Worsening trend" in text
    assert "Burnout (single item) was 3.4 in the round closing 2 Mar 2026." in text  # under the numbers
    assert 'href="/help/glossary/#trend"' in page.content.decode()
    assert "Review the team's on-call load" in text
    assert "Being On-Call" in text

    response = client.post(
        f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "Talking to the team on Monday."}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/flags/{flag.pk}/"
    flag.refresh_from_db()
    assert flag.state == Flag.State.ACKNOWLEDGED
    event = FlagEvent.objects.get(flag=flag, kind=FlagEvent.Kind.ACKNOWLEDGED)
    assert (event.actor_id, event.why) == (lena.pk, "Talking to the team on Monday.")

    # A suggestion is a starting point: chosen with "what" left empty, its text is what will be done.
    due = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
    response = client.post(
        f"/flags/{flag.pk}/plan/",
        {
            f"act{flag.pk}-suggestion": "time_off",
            f"act{flag.pk}-what": "",
            f"act{flag.pk}-who": "Lena",
            f"act{flag.pk}-due_on": due,
        },
    )
    assert response.status_code == 302
    action = Action.objects.get(flag=flag)
    assert action.what.startswith("Make sure people take time off: Check that everyone")
    assert (action.who, action.due_on.isoformat()) == ("Lena", due)
    flag.refresh_from_db()
    assert flag.state == Flag.State.ACTION_PLANNED
    page_text = _text(client.get(f"/flags/{flag.pk}/"))
    assert "Make sure people take time off: Check that everyone" in page_text
    assert "The action's date has not come yet." in page_text
    assert "Talking to the team on Monday." in page_text  # the history
    team_page = _text(client.get(f"/teams/{org.team['A'].pk}/"))
    assert "Burnout (single item) has risen over the last 8 rounds" in team_page  # it opens the team page

    response = client.post(
        f"/flags/{flag.pk}/resolve/", {f"res{flag.pk}-note": "Swaps paused; back to normal."}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.state, flag.resolution) == (Flag.State.RESOLVED, Flag.Resolution.BY_HAND)
    inbox = _text(client.get("/flags/"))
    assert "Recently resolved" in inbox
    assert "Swaps paused; back to normal. (Lena)" in inbox  # a resolved flag keeps its resolution note

    # Reopening needs a reason; without one nothing changes.
    response = client.post(f"/flags/{flag.pk}/reopen/", {f"reo{flag.pk}-reason": " "})
    assert response.status_code == 400
    flag.refresh_from_db()
    assert flag.state == Flag.State.RESOLVED
    response = client.post(
        f"/flags/{flag.pk}/reopen/", {f"reo{flag.pk}-reason": "The swaps were only paused for a week."}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.state, flag.resolution, flag.reopen_count) == (Flag.State.OPEN, "", 1)
    reopened = FlagEvent.objects.get(flag=flag, kind=FlagEvent.Kind.REOPENED_BY_HAND)
    assert (reopened.actor_id, reopened.why) == (lena.pk, "The swaps were only paused for a week.")
    assert "Waiting for a response (1)" in _text(client.get("/flags/"))


def test_the_inbox_filters_by_state_team_and_severity() -> None:
    org, flag = _flagged()
    other = org.flag("B", severity=Flag.Severity.ALERT)
    resolved = org.flag("B", WORKLOAD, state=Flag.State.RESOLVED, resolved_at=START)
    client = _client(org.person("Lena", leads="Root"))

    def shown(query: str) -> set[int]:
        html = client.get(f"/flags/?{query}").content.decode()
        return {pk for pk in (flag.pk, other.pk, resolved.pk) if f'id="flag-{pk}"' in html}

    assert shown("") == {flag.pk, other.pk, resolved.pk}
    assert shown("severity=alert") == {other.pk}
    assert shown(f"team={org.team['A'].pk}") == {flag.pk}
    assert shown(f"team={org.team['Root'].pk}") == {flag.pk, other.pk, resolved.pk}  # a team and below
    assert shown("state=resolved") == {resolved.pk}
    assert shown("state=open&severity=warning") == {flag.pk}
    assert shown("state=nonsense") == {flag.pk, other.pk, resolved.pk}  # an unknown filter is no filter


def test_the_glossary_explains_every_term_with_its_source() -> None:
    org, _flag = _flagged()
    client = _client(org.person("Lena", leads="Root"))
    html = client.get("/help/glossary/").content.decode()
    for slug in ("trend", "slope", "q", "shift", "cutoff", "withheld"):
        assert f'<dt id="{slug}">' in html
    assert "Benjamini and Hochberg (1995)" in html
    engineer = _client(org.person("Eve", member_of="A"))
    assert engineer.get("/help/glossary/").status_code == 403


def test_an_empty_note_changes_nothing_and_says_so_at_the_field() -> None:
    org, flag = _flagged()
    client = _client(org.person("Lena", leads="Root"))
    response = client.post(
        f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "", "next": "/flags/"}, follow=True
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        f'<ul class="error field-errors" id="id_ack{flag.pk}-note_error"><li>This field is required.' in html
    )
    assert f'<a href="#id_ack{flag.pk}-note">Note: This field is required.</a>' in html
    flag.refresh_from_db()
    assert flag.state == Flag.State.OPEN


def test_planning_an_action_in_the_past_keeps_the_typed_text_and_shows_the_error_at_the_date() -> None:
    org, flag = _flagged()
    client = _client(org.person("Lena", leads="Root"))
    past = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    form = {
        f"act{flag.pk}-what": "Move two on-call shifts to SRE Europe",
        f"act{flag.pk}-who": "Lena with Maya",
        f"act{flag.pk}-due_on": past,
    }
    for page in ("/flags/", f"/teams/{org.team['A'].pk}/"):
        response = client.post(f"/flags/{flag.pk}/plan/", {**form, "next": f"{page}#flag-{flag.pk}"})
        assert response.status_code == 400
        assert response.context["request"].path == f"/flags/{flag.pk}/plan/"
        html = response.content.decode()
        assert "Move two on-call shifts to SRE Europe</textarea>" in html
        assert 'value="Lena with Maya"' in html
        assert f'value="{past}"' in html
        error = f'id="id_act{flag.pk}-due_on_error"><li>Choose today or a later day.'
        assert error in html
        found = re.search(rf'<input [^>]*id="id_act{flag.pk}-due_on"[^>]*>', html)
        assert found
        assert f'aria-describedby="id_act{flag.pk}-due_on_error"' in found.group(0)
        assert 'aria-invalid="true"' in found.group(0)
        assert f'<a href="#id_act{flag.pk}-due_on">By when: Choose today or a later day.</a>' in html
        assert f'id="act{flag.pk}-errors" autofocus>' in html  # focus (and the view) move to the summary
    assert not Action.objects.filter(flag=flag).exists()


def test_flag_actions_are_for_the_teams_leaders_only() -> None:
    org, flag = _flagged()
    _other, other_flag = _flagged()
    admin = _client(org.person("Ada", admin=True))
    # An admin sees the flag but is not its team's leader: the flag service refuses.
    assert admin.get("/flags/").status_code == 200
    assert admin.post(f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "x"}).status_code == 403
    lead_b = _client(org.person("Lead B", leads="B"))
    assert lead_b.post(f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "x"}).status_code == 404
    lena = _client(org.person("Lena", leads="Root"))
    assert lena.post(f"/flags/{other_flag.pk}/resolve/", {f"res{other_flag.pk}-note": "x"}).status_code == 404
    assert lena.get(f"/flags/{flag.pk}/acknowledge/").status_code == 405
    flag.refresh_from_db()
    other_flag.refresh_from_db()
    assert flag.state == other_flag.state == Flag.State.OPEN


# --- query counts: the same for 5 and for 50 teams ------------------------------------------------------


def _organisation_of(size: int) -> tuple[ReportOrg, Client]:
    tree = (("Root", None), *((f"T{i}", "Root") for i in range(size)))
    org = ReportOrg(tree=tree, instruments=("burnout1", "workload1", "comment"))
    for week in range(3):
        values: dict[str, dict[str, Value | tuple[int, int]]] = {
            f"T{i}": {BURNOUT: Value(6, 2.0 + 0.1 * week), WORKLOAD: Value(6, 3.0), RATE: (7, 6)}
            for i in range(size)
        }
        values["Root"] = {
            BURNOUT: Value(6 * size, 2.0 + 0.1 * week),
            WORKLOAD: Value(6 * size, 3.0),
            RATE: (7 * size, 6 * size),
        }
        org.round(values)
    for i in range(size):
        org.flag(f"T{i}")
    leader = org.person("Lena", leads="Root")
    org.person("Engineer", member_of="T0")
    return org, _client(leader)


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_home_and_team_page_queries_do_not_grow_with_the_number_of_teams(
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    small, small_client = _organisation_of(5)
    large, large_client = _organisation_of(50)
    small_home, large_home = _count(small_client, "/"), _count(large_client, "/")
    assert small_home == large_home
    small_team = _count(small_client, f"/teams/{small.team['T1'].pk}/")
    large_team = _count(large_client, f"/teams/{large.team['T1'].pk}/")
    assert small_team == large_team
    small_root = _count(small_client, f"/teams/{small.team['Root'].pk}/")
    assert small_root == _count(large_client, f"/teams/{large.team['Root'].pk}/")
    with django_assert_max_num_queries(HOME_QUERIES):
        large_client.get("/")
    with django_assert_max_num_queries(TEAM_QUERIES):
        large_client.get(f"/teams/{large.team['T1'].pk}/")
    # The large page really has 51 rows and 50 flags: the count is not constant because it is empty.
    text = _text(large_client.get("/"))
    assert text.count("round closing") == 51
    assert "⚑ 1 open flag" in text


def test_no_template_leaves_a_comment_open_across_lines() -> None:
    """Django's {# #} comment is one line only: across lines it is printed on the page as text."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    open_comments = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert open_comments == []
