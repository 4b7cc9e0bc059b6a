"""On-call words in the reader's language: the CSV imports' error messages and the load measures' names on
flags are catalogue entries (pulse.analysis.catalogue.gettext_noop), translated where they are shown, and no
longer marked ``lang="en"`` there; an instrument's label, which is English data, still is.

The project's German catalogue is its owner's to fill, so these tests give Django a catalogue of their own
(a temporary LOCALE_PATHS entry with a few German entries) and check that the pages show its words: the
wiring, whatever the shipped catalogue holds today. In English every message reads as before (the CSV and
flag tests elsewhere assert the English texts)."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone, translation

from pulse.analysis.oncall_csv import cell_error, parse_shifts
from pulse.models import Flag
from pulse.selectors.cells import metric_infos_for
from pulse.selectors.flag_words import label_lang, metric_label
from pulse.templatetags.oncall_words import problem
from tests.factories import OrganisationFactory, PersonFactory, TeamFactory, UserFactory
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

GERMAN = {
    "is not after start": "liegt nicht nach start",
    "%(value)s is not one of %(allowed)s": "%(value)s ist keiner von %(allowed)s",
    "Sleep-hour interruptions": "Unterbrechungen in Schlafstunden",
}
SLEEP = "oncall:sleep_interruptions"


def _mo(entries: dict[str, str]) -> bytes:
    """A GNU gettext catalogue (.mo) holding ``entries`` and a UTF-8 header."""
    catalogue = {"": "Content-Type: text/plain; charset=UTF-8\n", **entries}
    keys = sorted(catalogue)
    ids = [key.encode() for key in keys]
    strs = [catalogue[key].encode() for key in keys]
    start = 7 * 4 + 16 * len(keys)
    ids_blob = b"".join(item + b"\0" for item in ids)
    strs_blob = b"".join(item + b"\0" for item in strs)
    offsets: list[int] = []
    position = start
    for item in ids:
        offsets += [len(item), position]
        position += len(item) + 1
    for item in strs:
        offsets += [len(item), position]
        position += len(item) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    return header + struct.pack(f"<{len(offsets)}I", *offsets) + ids_blob + strs_blob


@pytest.fixture
def german(tmp_path: Path) -> Iterator[None]:
    directory = tmp_path / "de" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    (directory / "django.mo").write_bytes(_mo(GERMAN))
    # A changed LOCALE_PATHS makes Django load its catalogues afresh (django.test.signals).
    with override_settings(LOCALE_PATHS=[tmp_path, *settings.LOCALE_PATHS]):
        yield
    translation.trans_real._translations = {}  # type: ignore[attr-defined]


def _german(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    return client


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", page)


# --- the CSV errors --------------------------------------------------------------------------------------


def test_a_csv_error_keeps_its_english_message_and_is_worded_in_the_readers_language(german: None) -> None:
    parsed = parse_shifts(
        "team,responder,start,end,level\nsre,alice,2026-01-12T08:00:00+01:00,2026-01-12T07:00:00+01:00,3\n"
    )
    assert [str(error) for error in parsed.errors] == [
        "row 2, column level: '3' is not one of 1, 2",
        "row 2, column end: is not after start",
    ]
    with translation.override("de"):
        assert [problem(error) for error in parsed.errors] == [
            "'3' ist keiner von 1, 2",
            "liegt nicht nach start",
        ]
    # A message the catalogue does not hold is shown in English, filled the same way.
    untranslated = cell_error(4, "(row)", "a test message no catalogue holds, row %(row)s", row=2)
    with translation.override("de"):
        assert problem(untranslated) == "a test message no catalogue holds, row 2"


def test_the_import_page_shows_a_german_admin_the_errors_in_german_unmarked(german: None) -> None:
    organisation = OrganisationFactory(min_group_size=3, time_zone="Europe/Berlin")
    TeamFactory(organisation=organisation, name="SRE", slug="sre")
    person = PersonFactory(organisation=organisation, is_admin=True, user=UserFactory(), locale="de")
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    shifts = (
        "team,responder,start,end,level,site\n"
        "sre,alice,2026-01-12T08:00:00+01:00,2026-01-12T07:00:00+01:00,1,\n"
    )
    response = _german(client).post(
        "/manage/oncall/import/", {"action": "dry_run", "shifts_text": shifts, "pages_text": ""}
    )
    assert response.status_code == 400
    page = _text(response.content.decode())
    assert '<html lang="de">' in page
    assert "<td>liegt nicht nach start</td>" in page
    table = page[page.index('id="shift-errors"') :]
    table = table[: table.index("</table>")]
    assert 'lang="en"' not in table


# --- the load measures on flags --------------------------------------------------------------------------


def _load_flag(world: World) -> Flag:
    now = timezone.now()
    return Flag.objects.create(
        organisation=world.a.organisation,
        team=world.a.sre,
        metric=SLEEP,
        kind=Flag.Kind.TREND,
        reasons=[Flag.Kind.TREND],
        state=Flag.State.OPEN,
        severity=Flag.Severity.WARNING,
        headline="Sleep-hour interruptions are rising.",
        explanation="Sleep-hour interruptions went from 1 to 3.",
        evaluated_through=now,
        created_at=now,
        opened_at=now,
    )


def test_a_load_measure_is_named_in_the_readers_language_and_an_instrument_label_stays_english(
    german: None,
) -> None:
    infos = metric_infos_for([SLEEP, "scale:who5.wellbeing@1"])
    assert metric_label(infos, SLEEP) == "Sleep-hour interruptions"
    with translation.override("de"):
        assert metric_label(infos, SLEEP) == "Unterbrechungen in Schlafstunden"
        assert metric_label(infos, "scale:who5.wellbeing@1") == infos.label("scale:who5.wellbeing@1")
    assert (label_lang(SLEEP), label_lang("scale:who5.wellbeing@1")) == ("", "en")


def test_a_german_leader_reads_a_load_flags_name_in_german_without_an_english_mark(german: None) -> None:
    world = build_world()
    flag = _load_flag(world)
    leader = world.a.leader
    leader.locale = "de"
    leader.save()
    client = Client()
    client.force_login(world.signed_in("leader"))

    for path in (f"/flags/{flag.pk}/", "/flags/"):
        response = _german(client).get(path)
        assert response.status_code == 200, path
        page = _text(response.content.decode())
        # The name, unmarked; the stored English headline beside it (no words to derive) keeps its mark.
        assert "<span>Unterbrechungen in Schlafstunden</span>" in page, path
        assert "Sleep-hour interruptions</span>" not in page.replace("Sleep-hour interruptions are", ""), path

    english = Client()
    english.force_login(world.signed_in("leader"))
    leader.locale = "en"
    leader.save()
    page = _text(english.get(f"/flags/{flag.pk}/").content.decode())
    assert "<span>Sleep-hour interruptions</span></h1>" in page
