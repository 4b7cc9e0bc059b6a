"""Flag.Kind names every reason the trend run stores, on-call load's too (threshold, busiest, joint), by the
reason names the pages show, translated where they are displayed: the Django admin's flag list and filter,
the API's schema and answers, and model validation (an admin saving a load flag)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from pulse.analysis.glossary import REASON_NAME
from pulse.analysis.rules import FlagKind
from pulse.models import Flag
from pulse.services.trends import trend_run
from tests.pulse.test_oncall_pages import NOW, World, world  # noqa: F401 (the world fixture)

pytestmark = pytest.mark.django_db


def test_every_reason_the_trend_run_stores_is_a_kind_with_the_name_the_pages_give_it() -> None:
    assert set(Flag.Kind.values) == {kind.value for kind in FlagKind}
    for kind in FlagKind:
        label = Flag.Kind(kind.value).label
        assert str(label) == REASON_NAME[kind]
        with translation.override("de"):
            german = str(label)
            assert german == translation.gettext(REASON_NAME[kind])
        assert german != REASON_NAME[kind]  # the catalogue has it
    field = Flag._meta.get_field("kind")
    for value in ("threshold", "busiest", "joint"):
        field.validate(value, Flag())  # an admin saving a load flag is not refused its own kind


def _load_flags(w: World) -> list[Flag]:
    for days in (14, 7, 0):
        moment = NOW - timedelta(days=days)
        with time_machine.travel(moment, tick=False):
            trend_run(organisation_id=w.org.organisation.pk, now=moment)
    flags = list(Flag.objects.filter(metric__startswith="oncall:", state=Flag.State.OPEN))
    # Thin breaches the SRE book's limits; in Wide one person carried most of the pages of its first weeks
    # (the 03:00 pages of a Monday always reach the Monday shift).
    assert {flag.kind for flag in flags} == {"threshold", "busiest"}
    return [flag for flag in flags if flag.kind == "threshold"]


def test_the_admin_lists_a_load_flag_by_its_kinds_name(world: World) -> None:  # noqa: F811
    flags = _load_flags(world)
    staff = User.objects.create(username="staff@example.org", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/pulse/flag/").content.decode()
    assert listing.count("Beyond the SRE book&#x27;s on-call limit") >= len(flags)  # rows and the filter
    assert ">threshold<" not in listing
    for name in ("One person carries most of the pages", "On-call load rose at the same time"):
        assert name in listing  # the kind filter offers every kind
    page = client.get(f"/admin/pulse/flag/{flags[0].pk}/change/").content.decode()  # read-only: words
    assert "Beyond the SRE book&#x27;s on-call limit" in page


def test_the_api_describes_and_returns_the_load_kinds(world: World) -> None:  # noqa: F811
    flags = _load_flags(world)
    client = world.client
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    document = json.loads(schema.content)
    # The flag's kind and reasons share one enum component (drf-spectacular names it after the choices).
    enums: list[list[str]] = [
        schema["enum"]
        for schema in document["components"]["schemas"].values()
        if "threshold" in schema.get("enum", [])
    ]
    assert enums
    assert set(enums[0]) == {"trend", "shift", "cutoff", "threshold", "busiest", "joint"}
    with time_machine.travel(NOW, tick=False):
        answer = client.get(f"/api/v1/flags/{flags[0].pk}/")
    assert answer.status_code == 200
    assert answer.json()["kind"] == "threshold"
    assert answer.json()["reasons"] == ["threshold"]
