"""The demo's head of Engineering (README) signs in and reads both stories on one page: SRE Americas'
decline with its alert, Payments' flag resolved after its action; Platform's comments include one with
markup, shown as text; the roll-up's CSV holds what its page shows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.test import Client

from pulse.devtools.demo_history import COMMENTS, demo_history_create
from pulse.permissions import Caller
from pulse.selectors.rollup import team_rollup_get
from surveys.models import Comment, Organisation, Person
from surveys.services.demo import DEMO_HEAD_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday


@time_machine.travel(NOW, tick=False)
def test_the_head_of_engineering_sees_both_stories_on_the_rollup() -> None:
    assert demo_history_create() is True
    acme = Organisation.objects.get(name="Acme")
    engineering = acme.teams.get(slug="engineering")
    client = Client()
    response = client.post("/login/", {"username": DEMO_HEAD_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    home = client.get("/").content.decode()
    assert f'href="/teams/{engineering.pk}/rollup/"' in home
    page = client.get(f"/teams/{engineering.pk}/rollup/").content.decode()
    # Erik reads German (his locale): the checks go by the page's structure, not its words.
    rows = re.findall(r'<th scope="row"[^>]*><a href="/teams/\d+/">([^<]+)</a>', page)
    assert rows == [
        "Platform",
        "SRE Europe",
        "SRE Americas",
        "Product Engineering",
        "Payments",
        "Mobile",
        "Data",
    ]
    assert 'class="trend trend-worse"' in page  # SRE Americas' burnout
    assert "badge sev-alert" in page
    head = Person.objects.get(email=DEMO_HEAD_EMAIL)
    rollup = team_rollup_get(caller=Caller(head), team_id=engineering.pk)
    assert rollup is not None
    assert not rollup.asked_as_whole  # no schedule asks Engineering itself: no row of its own
    by_name = {row.team.name: row for row in rollup.rows}
    assert by_name["SRE Americas"].severity == "alert"
    assert (by_name["Payments"].open_flags, by_name["Payments"].resolved) == (0, 1)  # after the action
    sre_burnout = next(c for c in by_name["SRE Americas"].cells if c.metric == "scale:burnout1.burnout1@1")
    assert sre_burnout.summary.heading == "worse"
    response = client.get(f"/teams/{engineering.pk}/rollup/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    sre = [r for r in rows if r["team"] == "SRE Americas"]
    assert {r["team path"] for r in sre} == {"Engineering / Platform / SRE Americas"}
    burnout = next(r for r in sre if r["measure"].startswith("Burnout"))
    assert burnout["status"] == "shown"
    # The head of engineering reads German: the page writes the CSV's 3.5 as 3,5 (docs/languages.md §3).
    assert f'<span class="value">{burnout["result"].replace(".", ",")}</span>' in page
    payments = next(r for r in rows if r["team"] == "Payments")
    assert payments["flags resolved over these rounds"] == "1"

    # Platform's latest round has comments (19 people answered), the first of them with markup in it.
    platform = acme.teams.get(slug="platform")
    latest = (
        Comment.objects.filter(team=platform).order_by("-round__closes_at").values_list("round_id", flat=True)
    )
    texts = set(Comment.objects.filter(team=platform, round_id=latest[0]).values_list("text", flat=True))
    assert COMMENTS[0] in texts
    team_page = client.get(f"/teams/{platform.pk}/").content.decode()
    assert "&quot;&lt;b&gt;TODO: owner&lt;/b&gt;&quot; &amp; nobody" in team_page
    assert "<b>TODO" not in team_page
