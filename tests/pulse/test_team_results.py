"""You said, we did: a member's own team results page, the leader's note (who may write it, what it may
be), over HTTP as people use them."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from typing import TYPE_CHECKING

import pytest
from django.test import Client

from pulse.models import RoundNote, RoundNoteRevision
from pulse.services.flags import flag_action_plan
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


pytestmark = pytest.mark.django_db


def client_of(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def page_text(response: TestResponse) -> str:
    body = response.content.decode().split('id="main"', 1)[-1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def org() -> ReportOrg:
    """k = 5. Root 14 answers (burnout 2.9), A 8 of 9 (burnout 3.4 then 3.6), B 3 (below k: the close
    writes no counters for it, so it has no rows)."""
    org = ReportOrg(k=5)
    org.round(
        {"Root": {BURNOUT: Value(14, 2.8), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.4), RATE: (9, 8)}}
    )
    org.round(
        {"Root": {BURNOUT: Value(14, 2.9), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.6), RATE: (9, 8)}}
    )
    return org


def test_a_member_sees_their_team_s_results_as_the_leader_sees_them(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    text = page_text(client_of(alice).get("/results/"))
    assert "From the check-in that closed on 9 Mar 2026." in text
    assert "Burnout (single item)" in text
    assert "3.6" in text
    assert "3.4 (2 Mar 2026)" in text
    assert "90% of the team answered." in text  # 8 of 9, coarsened to 5 points as the leader sees it
    # Another team's numbers (Root's 2.9, 88%) are not on her page, nor how many were asked or answered.
    assert "2.9" not in text
    assert "9 answers" not in text
    assert "8 answers" not in text
    leader = org.person("Lena", leads="A")
    leader_text = page_text(client_of(leader).get(f"/teams/{org.team['A'].pk}/"))
    assert "Response rate 90%." in leader_text
    assert "3.6" in leader_text


def test_another_team_s_page_is_not_found_even_by_changing_the_url(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    client = client_of(alice)
    assert client.get(f"/results/{org.team['A'].pk}/").status_code == 200
    for team in ("Root", "B"):
        assert client.get(f"/results/{org.team[team].pk}/").status_code == 404
    assert client.get("/results/999999/").status_code == 404
    other = ReportOrg(k=5, name="Another organisation")
    assert client.get(f"/results/{other.team['A'].pk}/").status_code == 404


def test_a_team_below_k_shows_nothing_but_why(org: ReportOrg) -> None:
    bob = org.person("Bob", member_of="B")
    org.flag("B")  # even a flag of the team is not shown while its results are not
    response = client_of(bob).get(f"/results/{org.team['B'].pk}/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Fewer than 5 people of this team answered the check-in that closed on 9 Mar 2026" in text
    assert "could point to a person" in text
    assert not re.search(r"\d%", text)
    assert "Burnout" not in text
    assert "No action recorded yet" not in text


def test_a_member_of_two_teams_sees_each(org: ReportOrg) -> None:
    dora = org.person("Dora", member_of="A")
    org.person("Dora's second", member_of="B")  # another person; Dora joins Root too
    from surveys.models import Membership

    Membership.objects.create(person=dora, team=org.team["Root"], starts_on=dt.date(2026, 1, 1))
    text = page_text(client_of(dora).get("/results/"))
    assert "2.9" in text
    assert "3.6" in text
    assert client_of(dora).get(f"/results/{org.team['Root'].pk}/").status_code == 200


def test_a_flag_without_an_action_says_so_and_an_action_replaces_it(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    leader = org.person("Lena", leads="A")
    flag = org.flag("A")
    assert "No action recorded yet" in page_text(client_of(alice).get("/results/"))
    flag_action_plan(
        flag_id=flag.pk,
        by=leader,
        what="No pager on Fridays for a month",
        who="Lena",
        due_on=dt.date(2026, 4, 1),
    )
    text = page_text(client_of(alice).get("/results/"))
    assert "No action recorded yet" not in text
    assert "Planned: No pager on Fridays for a month (Lena, by 1 Apr 2026)" in text


def test_the_leader_s_note_is_shown_to_the_team_escaped(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    leader = org.person("Lena", leads="A")
    team, round_ = org.team["A"], org.rounds[-1]
    note = "<script>alert('x')</script> Thanks for answering.\r\n\r\nWe will talk about on-call on Monday."
    response = client_of(leader).post(f"/teams/{team.pk}/rounds/{round_.pk}/note/", {"text": note})
    assert response.status_code == 302
    page = client_of(alice).get("/results/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Thanks for answering." in page
    assert "<p>We will talk about on-call on Monday.</p>" in page  # paragraphs kept, as text
    # Edited: the first text is kept, and the page says when it was last edited.
    client_of(leader).post(f"/teams/{team.pk}/rounds/{round_.pk}/note/", {"text": "Thank you all."})
    stored = RoundNote.objects.get(round=round_, team=team)
    assert stored.text == "Thank you all."
    assert list(RoundNoteRevision.objects.filter(note=stored).values_list("text", flat=True)) == [
        note.replace("\r\n", "\n"),
        "Thank you all.",
    ]
    assert "Lena, last edited" in page_text(client_of(alice).get("/results/"))


def test_only_the_team_s_leaders_or_those_above_write_its_note(org: ReportOrg) -> None:
    team, round_ = org.team["A"], org.rounds[-1]
    url = f"/teams/{team.pk}/rounds/{round_.pk}/note/"
    member = org.person("Alice", member_of="A")
    other_leader = org.person("Bea", leads="B")
    admin = org.person("Ada", admin=True)
    above = org.person("Rolf", leads="Root")
    assert client_of(member).post(url, {"text": "Hello"}).status_code == 403
    assert client_of(other_leader).post(url, {"text": "Hello"}).status_code == 404
    assert client_of(admin).post(url, {"text": "Hello"}).status_code == 403  # sees results, leads nothing
    assert not RoundNote.objects.exists()
    assert client_of(above).post(url, {"text": "Hello from above"}).status_code == 302
    assert RoundNote.objects.get().written_by == above
    # The form is on the leader's page only for those who may write it.
    assert 'action="' + url + '"' in client_of(above).get(f"/teams/{team.pk}/").content.decode()
    assert 'action="' + url + '"' not in client_of(admin).get(f"/teams/{team.pk}/").content.decode()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "Write a note to the team"),
        ("x" * 1501, "Keep the note to 1500 characters (it has 1501)."),
        ("\n\n".join(["A paragraph."] * 6), "Keep the note to 5 paragraphs"),
        ("Tab\there", "cannot contain tabs or other control characters"),
    ],
)
def test_a_note_that_breaks_the_rules_is_refused_at_its_field_and_nothing_is_stored(
    org: ReportOrg, text: str, error: str
) -> None:
    leader = org.person("Lena", leads="A")
    team, round_ = org.team["A"], org.rounds[-1]
    response = client_of(leader).post(f"/teams/{team.pk}/rounds/{round_.pk}/note/", {"text": text})
    assert response.status_code == 400
    assert error in page_text(response)
    assert not RoundNote.objects.exists()


def test_a_german_member_reads_the_page_in_german(org: ReportOrg) -> None:
    alice = org.person("Alice", member_of="A")
    alice.locale = "de"
    alice.save(update_fields=["locale"])
    org.flag("A")
    text = page_text(client_of(alice).get("/results/"))
    assert "Noch keine Maßnahme erfasst" in text
    assert "90 % des Teams haben geantwortet." in text or "90% des Teams haben geantwortet." in text
    assert "No action recorded yet" not in text
