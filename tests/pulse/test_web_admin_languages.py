"""The admin app in the admin's language (docs/languages.md §1, issue #19).

Before: a German admin (``locale="de"``) saw a German header over English admin pages ("Organisation
settings", "Add a person", "Please correct 1 problem", "Schedule Fortnightly a saved."). Now every word the
admin templates, forms and views write is German for her; what is an instrument's own data (its name,
citation, licence, items and scales) and the CSV import's report, written in English by
``surveys.services.people_import``, is marked ``lang="en"``. The check, as for the leaders' pages: the text
outside ``lang="en"`` (visible text and accessible names) has no English word left; an English admin's
pages stay English.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.test import Client

from tests.pulse.config_world import World, build_world
from tests.pulse.test_leader_languages import _pieces
from tests.pulse.test_web_admin import NOW

pytestmark = pytest.mark.django_db

# Words of the English admin templates, forms and messages that German does not use. The world's names
# are German-neutral ("Engineering a", "Fortnightly a", "Admin", "Leader", "Team mood"), so they are left
# out; so are words German shares ("team", "name", "version", "status", "filter", "organisation", "token",
# "tokens", "person", "import", "check" as in "Check-in").
ENGLISH = {
    "the", "and", "of", "to", "is", "for", "with", "by", "on", "or", "your", "you", "no", "this", "none",
    "save", "add", "back", "people", "schedule", "schedules", "active", "time", "zone", "email",
    "file", "change", "changes", "next", "opening", "openings", "week", "weeks", "every",
    "monthly", "monday", "required", "instruments", "library", "source", "licence", "missing", "make",
    "revoke", "expires", "days", "hours", "reminder", "quiet", "language", "please",
    "correct", "problem", "saved", "members", "leaders", "today", "end", "deactivate", "questions",
    "scoring", "sign", "default", "overview", "settings", "level", "part", "short",
    "first", "last", "day", "weekday", "opens", "until", "local", "preview", "nobody", "dry", "run",
}  # fmt: skip


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _pages(world: World) -> list[str]:
    a = world.a
    return [
        "/manage/",
        "/manage/organisation/",
        "/manage/people/",
        "/manage/people/new/",
        f"/manage/people/{a.engineer.pk}/",
        "/manage/people/import/",
        "/manage/teams/",
        f"/manage/teams/{a.platform.pk}/",
        "/manage/schedules/",
        "/manage/schedules/new/",
        f"/manage/schedules/{a.schedule.pk}/",
        "/manage/instruments/",
        f"/manage/instruments/{a.instrument.pk}/",
        "/account/api-token/",
    ]


# Loanwords German uses as they are (the catalogue's "Single Sign-on" is the sign-in pages' term too), and
# names that are identifiers: the CSV's column names and the API's path.
LOANWORDS = re.compile(r"Single Sign-on|email, name, team, role, locale, time_zone|/api/v1/instruments/")


def _english_words(html: str) -> set[str]:
    """The English words outside ``lang="en"``; ``<code>`` (column names, paths, headers) is not prose."""
    html = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)
    text = " ".join(LOANWORDS.sub(" ", text) for lang, text in _pieces(html) if lang != "en")
    return set(re.findall(r"[a-zA-Z]+", text.lower())) & ENGLISH


def _admin(world: World, locale: str) -> Client:
    admin = world.a.admin
    admin.locale = locale
    admin.save(update_fields=["locale"])
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


def test_a_german_admin_reads_every_admin_page_in_german() -> None:
    world = build_world()
    client = _admin(world, "de")
    found: dict[str, set[str]] = {}
    for path in _pages(world):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert '<html lang="de">' in html, path
        found[path] = _english_words(html)
    assert not any(found.values()), found
    overview = client.get("/manage/").content.decode()
    assert "Einstellungen der Organisation" not in overview  # the overview names the counts instead
    assert "aktive Personen" in overview or "aktive Person" in overview
    schedules = client.get("/manage/schedules/").content.decode()
    assert "Alle 2 Wochen am Montag, 10:00" in schedules  # the weekday from Django's own catalogue


def test_a_german_admins_form_errors_and_messages_are_german() -> None:
    world = build_world()
    client = _admin(world, "de")
    refused = client.post("/manage/teams/", {"name": "", "slug": "", "parent": "", "time_zone": "Mars/Base"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Bitte beheben Sie 2 Probleme" in html
    assert not _english_words(html), _english_words(html)
    created = client.post(
        "/manage/teams/",
        {"name": "Kasse", "slug": "", "parent": world.a.root.pk, "time_zone": ""},
        follow=True,
    )
    assert "Das Team Kasse ist angelegt." in created.content.decode()


def test_an_english_admin_reads_them_in_english() -> None:
    world = build_world()
    client = _admin(world, "en")
    page = client.get("/manage/organisation/").content.decode()
    assert '<html lang="en">' in page
    assert "Organisation settings" in page
    assert "Minimum group size (k)" in page
    schedules = client.get("/manage/schedules/").content.decode()
    assert "Every 2 weeks on Monday, 10:00" in schedules
