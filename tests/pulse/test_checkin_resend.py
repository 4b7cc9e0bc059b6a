"""'Get my check-in link again': the open rounds' links are emailed again by the normal sender,
and the page answers the same whether the address exists or not (nothing is sent in the request)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from surveys.models import Instrument, Invitation, Participation, Schedule
from surveys.services.emails import emails_send_due
from surveys.services.rounds import rounds_open_due, schedule_refresh
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


pytestmark = pytest.mark.django_db

UTC = dt.UTC
OPENS = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHECKIN = re.compile(r"/checkin/([A-Za-z0-9_\-]+)/")


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


def open_round_for(*emails: str) -> None:
    organisation = OrganisationFactory(time_zone="Europe/Berlin")
    team = TeamFactory(organisation=organisation, time_zone="Europe/Berlin")
    for email in emails:
        MembershipFactory(person=PersonFactory(organisation=organisation, email=email), team=team)
    schedule = Schedule.objects.create(
        organisation=organisation,
        team=team,
        name="Weekly",
        weekday=0,
        local_time=dt.time(10, 0),
        starts_on=dt.date(2026, 11, 1),
        reminder_1=None,
    )
    schedule.instruments.set(Instrument.objects.filter(key="workload1"))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == len(emails)


def ask(email: str) -> TestResponse:
    return Client().post("/login/checkin-link/", {"email": email}, follow=True)


def links_to(address: str) -> list[str]:
    return [
        match.group(1)
        for message in mail.outbox
        if address in message.to
        for match in [CHECKIN.search(str(message.body))]
        if match is not None
    ]


def test_a_lost_link_is_sent_again_by_the_normal_sender_and_the_answer_says_nothing() -> None:
    open_round_for("ada@example.org", "bob@example.org")
    [first] = links_to("ada@example.org")
    mail.outbox.clear()
    later = OPENS + dt.timedelta(hours=3)
    with time_machine.travel(later, tick=False):
        with CaptureQueriesContext(connection) as known_queries:
            known = ask("Ada@Example.org")
        with CaptureQueriesContext(connection) as unknown_queries:
            unknown = ask("nobody@example.org")
        assert mail.outbox == []  # nothing is sent in the request
        assert (known.status_code, known.redirect_chain) == (200, [("/login/checkin-link/sent/", 302)])
        assert (unknown.status_code, unknown.redirect_chain) == (known.status_code, known.redirect_chain)
        assert known.content == unknown.content
        assert len(known_queries.captured_queries) == len(unknown_queries.captured_queries)
        assert emails_send_due() == 1
    # The same link as before (the invitation's own), to Ada only.
    assert links_to("ada@example.org") == [first]
    assert links_to("bob@example.org") == []


def test_each_check_in_is_emailed_at_most_three_times_and_never_once_answered() -> None:
    open_round_for("ada@example.org", "bob@example.org")
    moment = OPENS + dt.timedelta(hours=1)
    sent = []
    for _ in range(4):
        moment += dt.timedelta(minutes=20)
        with time_machine.travel(moment, tick=False):
            ask("ada@example.org")
            sent.append(emails_send_due())
    assert sent == [1, 1, 0, 0]  # the invitation, then two more: three in all
    assert Invitation.objects.get(person__email="ada@example.org").email_outcomes == "sss"

    bob = Invitation.objects.get(person__email="bob@example.org")
    Participation.objects.create(round=bob.round, person=bob.person)
    mail.outbox.clear()
    with time_machine.travel(moment + dt.timedelta(minutes=20), tick=False):
        ask("bob@example.org")
        assert emails_send_due() == 0
    assert mail.outbox == []


def test_the_pages_offer_it() -> None:
    assert b'href="/login/checkin-link/"' in Client().get("/login/").content
    refused = Client().get("/checkin/not-a-real-token-at-all/")
    assert b'href="/login/checkin-link/"' in refused.content
    form = Client().get("/login/checkin-link/")
    assert form.status_code == 200
    assert b"Get my check-in link again" in form.content
    assert Client().post("/login/checkin-link/", {"email": "not an address"}).status_code == 400
