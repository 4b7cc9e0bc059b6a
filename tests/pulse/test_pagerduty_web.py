"""PagerDuty as an admin and as PagerDuty see it, over HTTP: the admin page (save a key, checked with the
local PagerDuty server; secrets; link a team; sync now; the last sync's result), and the webhook endpoint
(signatures as PagerDuty's "Verifying Signatures" page defines them, secret rotation, stale events)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import Client, override_settings

from pulse.analysis.pagerduty import signature
from pulse.devtools.pagerduty_server import PagerDutyServer, pagerduty_server
from pulse.models import OncallPage, OncallShift
from pulse.models.pagerduty import PagerDutyConnection, PagerDutyTeamLink, PagerDutyWebhookSecret
from pulse.services.pagerduty import (
    pagerduty_connection_save,
    pagerduty_team_link_save,
    pagerduty_team_sync,
    pagerduty_webhook_secret_add,
)
from tests.pulse.config_world import World, build_world

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

KEY = "y_Kx3-AdminPastedThisKey"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
OLD_SECRET = "old-signing-secret-0001"
NEW_SECRET = "new-signing-secret-0002"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def server() -> Iterator[PagerDutyServer]:
    with (
        pagerduty_server(KEY) as running,
        override_settings(
            PULSE_PAGERDUTY_API_URLS=[running.url],
            PULSE_PAGERDUTY_PACING_URL="",
            PULSE_PAGERDUTY_REQUESTS_PER_MINUTE=60_000,
            PULSE_PAGERDUTY_CA_BUNDLE=str(running.ca_file),
        ),
    ):
        yield running


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def admin(world: World) -> Client:
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _connect(world: World, server: PagerDutyServer) -> PagerDutyTeamLink:
    organisation_id = world.a.organisation.pk
    pagerduty_connection_save(organisation_id=organisation_id, api_url=server.url, api_key=KEY)
    pagerduty_webhook_secret_add(organisation_id=organisation_id, secret=OLD_SECRET)
    return pagerduty_team_link_save(
        organisation_id=organisation_id,
        team_id=world.a.sre.pk,
        schedule_ids=["PSCHED1"],
        escalation_policy_ids=["PPOLICY1"],
        service_ids=["PSERV1"],
    )


def test_only_admins_open_the_page(world: World) -> None:
    assert Client().get("/manage/oncall/pagerduty/").status_code == 302
    for role in ("engineer", "leader"):
        client = Client()
        client.force_login(world.signed_in(role))
        assert client.get("/manage/oncall/pagerduty/").status_code == 403


def test_an_admin_saves_a_key_that_pagerduty_accepts_and_sees_only_its_hint(
    admin: Client, server: PagerDutyServer, world: World
) -> None:
    response = admin.post(
        "/manage/oncall/pagerduty/",
        {"action": "save_key", "api_url": server.url, "api_key": KEY},
        follow=True,
    )

    assert response.status_code == 200
    page = text(response)
    assert "checked with PagerDuty and saved" in page
    assert "…-Key" not in page
    assert f"…{KEY[-4:]}" in page
    assert KEY not in page
    assert 'name="api_key"' in page
    assert f'value="{KEY}"' not in page
    assert server.requests_to("/users")[0].authorised
    connection = PagerDutyConnection.objects.get(organisation=world.a.organisation)
    assert KEY not in connection.api_key_sealed
    assert connection.webhook_token in page  # the webhook address to give PagerDuty


def test_a_wrong_key_is_refused_on_its_field_and_nothing_is_stored(
    admin: Client, server: PagerDutyServer, world: World
) -> None:
    response = admin.post(
        "/manage/oncall/pagerduty/",
        {"action": "save_key", "api_url": server.url, "api_key": "wrong-key-123456"},
    )

    assert response.status_code == 400
    assert "PagerDuty refused this API key" in text(response)
    assert 'id="id_api_key_error"' in text(response)
    assert not PagerDutyConnection.objects.exists()


def test_a_german_admin_reads_the_refusal_in_german(
    admin: Client, server: PagerDutyServer, world: World
) -> None:
    admin.cookies["django_language"] = "de"
    person = world.a.admin
    person.locale = "de"
    person.save()
    response = admin.post(
        "/manage/oncall/pagerduty/",
        {"action": "save_key", "api_url": server.url, "api_key": "wrong-key-123456"},
    )
    assert response.status_code == 400
    assert "PagerDuty hat diesen API-Schlüssel abgelehnt" in text(response)


def test_an_admin_links_a_team_syncs_it_now_and_sees_the_result(
    admin: Client, server: PagerDutyServer, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    pagerduty_connection_save(organisation_id=world.a.organisation.pk, api_url=server.url, api_key=KEY)
    response = admin.post(
        "/manage/oncall/pagerduty/",
        {
            "action": "link_team",
            "team": world.a.sre.pk,
            "schedule_ids": "PSCHED1, PSCHED2",
            "escalation_policy_ids": "",
            "service_ids": "PSERV1",
        },
    )
    assert response.status_code == 302
    link = PagerDutyTeamLink.objects.get(team=world.a.sre)
    assert (link.schedule_ids, link.service_ids) == (["PSCHED1", "PSCHED2"], ["PSERV1"])

    with django_capture_on_commit_callbacks() as queued:
        response = admin.post(
            "/manage/oncall/pagerduty/", {"action": "sync_now", "link": link.pk}, follow=True
        )
    assert "A sync was queued" in text(response)
    assert len(queued) == 1
    with django_capture_on_commit_callbacks() as queued_again:
        response = admin.post(
            "/manage/oncall/pagerduty/", {"action": "sync_now", "link": link.pk}, follow=True
        )
    assert "already queued" in text(response)
    assert queued_again == []

    server.add_user("PU1", "Europe/Berlin")
    server.add_oncall("PU1", NOW - timedelta(hours=20), NOW - timedelta(hours=8))
    pagerduty_team_sync(link_id=link.pk)
    page = text(admin.get("/manage/oncall/pagerduty/"))
    assert "Synced (1 new shift, 0 new pages)" in page


def test_a_sync_refused_by_pagerduty_shows_why_on_the_page(
    admin: Client, server: PagerDutyServer, world: World
) -> None:
    link = _connect(world, server)
    server.data.api_key = "rotated-away"
    pagerduty_team_sync(link_id=link.pk)
    page = text(admin.get("/manage/oncall/pagerduty/"))
    assert "PagerDuty refused the API key. Save a valid key.</strong> (HTTP 401)" in page
    assert not OncallShift.objects.exists()
    assert not OncallPage.objects.exists()


def test_linking_refuses_a_team_of_another_organisation_and_bad_ids(
    admin: Client, server: PagerDutyServer, world: World
) -> None:
    pagerduty_connection_save(organisation_id=world.a.organisation.pk, api_url=server.url, api_key=KEY)
    other = admin.post(
        "/manage/oncall/pagerduty/",
        {"action": "link_team", "team": world.b.root.pk, "schedule_ids": "PSCHED1", "service_ids": ""},
    )
    assert other.status_code == 400
    bad = admin.post(
        "/manage/oncall/pagerduty/",
        {"action": "link_team", "team": world.a.sre.pk, "schedule_ids": "P$BAD", "service_ids": ""},
    )
    assert bad.status_code == 400
    assert "letters and digits" in text(bad)
    assert not PagerDutyTeamLink.objects.exists()


# --- the webhook ------------------------------------------------------------------------------------------


def _event(
    event_type: str = "incident.triggered", *, occurred_at: datetime = NOW, service: str = "PSERV1"
) -> bytes:
    return json.dumps(
        {
            "event": {
                "id": "01DEN4HPBQAAAG05V5QQYBRZMF",
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
                "agent": None,
                "client": None,
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "service": {"id": service, "type": "service_reference"},
                    "escalation_policy": {"id": "PNOPE", "type": "escalation_policy_reference"},
                },
            }
        }
    ).encode()


Deliver = Callable[..., "TestResponse"]


@pytest.fixture
def deliver(world: World, server: PagerDutyServer) -> Deliver:
    link = _connect(world, server)
    url = f"/integrations/pagerduty/{link.connection.webhook_token}/"

    def post(body: bytes, header: str | None) -> TestResponse:
        headers = {"X-PagerDuty-Signature": header} if header is not None else {}
        return Client().post(url, data=body, content_type="application/json", headers=headers)

    return post


def _requested() -> bool:
    return PagerDutyTeamLink.objects.filter(sync_requested_at__isnull=False).exists()


@pytest.mark.parametrize(
    "event_type",
    [
        "incident.triggered",
        "incident.acknowledged",
        "incident.escalated",
        "incident.reassigned",
        "incident.resolved",
        "incident.reopened",
    ],
)
def test_a_well_signed_incident_event_queues_one_sync_of_its_team(
    deliver: Deliver, event_type: str, django_capture_on_commit_callbacks: Any
) -> None:
    body = _event(event_type)
    with django_capture_on_commit_callbacks() as queued:
        response = deliver(body, signature(body, OLD_SECRET))
    assert response.status_code == 202
    assert _requested()
    assert len(queued) == 1
    with django_capture_on_commit_callbacks() as queued_again:
        assert (
            deliver(body, signature(body, OLD_SECRET)).status_code == 202
        )  # PagerDuty delivers at least once
    assert queued_again == []


def test_during_rotation_either_secret_is_accepted(deliver: Deliver, world: World) -> None:
    pagerduty_webhook_secret_add(organisation_id=world.a.organisation.pk, secret=NEW_SECRET)
    body = _event()
    assert deliver(body, signature(body, NEW_SECRET)).status_code == 202
    PagerDutyTeamLink.objects.update(sync_requested_at=None)
    assert deliver(body, signature(body, OLD_SECRET)).status_code == 202
    PagerDutyTeamLink.objects.update(sync_requested_at=None)
    both = f"{signature(body, NEW_SECRET)},{signature(body, OLD_SECRET)}"
    assert deliver(body, both).status_code == 202


@pytest.mark.parametrize(
    ("make_header", "status"),
    [
        (lambda body: None, 401),
        (lambda body: "", 401),
        (lambda body: signature(body, "not-the-secret-at-all"), 401),
        (lambda body: signature(body + b"x", OLD_SECRET), 401),
        (lambda body: "v1=" + "0" * 64, 401),
    ],
)
def test_an_unsigned_or_badly_signed_delivery_is_refused_and_changes_nothing(
    deliver: Deliver, make_header: Callable[[bytes], str | None], status: int
) -> None:
    body = _event()
    assert deliver(body, make_header(body)).status_code == status
    assert not _requested()


def test_a_stale_or_malformed_delivery_is_refused_with_400_and_changes_nothing(deliver: Deliver) -> None:
    stale = _event(occurred_at=NOW - timedelta(hours=2))
    assert deliver(stale, signature(stale, OLD_SECRET)).status_code == 400
    broken = b'{"event": "no"}'
    assert deliver(broken, signature(broken, OLD_SECRET)).status_code == 400
    assert not _requested()


def test_a_removed_secret_no_longer_signs(deliver: Deliver) -> None:
    PagerDutyWebhookSecret.objects.all().delete()
    body = _event()
    assert deliver(body, signature(body, OLD_SECRET)).status_code == 401
    assert not _requested()


def test_an_event_of_another_service_or_type_is_accepted_but_queues_nothing(deliver: Deliver) -> None:
    other = _event(service="PELSEWHERE")
    assert deliver(other, signature(other, OLD_SECRET)).status_code == 202
    note = _event("incident.annotated")
    assert deliver(note, signature(note, OLD_SECRET)).status_code == 202
    assert not _requested()


def test_an_unknown_address_is_404_and_a_get_is_refused(deliver: Deliver) -> None:
    body = _event()
    response = Client().post(
        "/integrations/pagerduty/not-a-token/",
        data=body,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE=signature(body, OLD_SECRET),
    )
    assert response.status_code == 404
    token = PagerDutyConnection.objects.get().webhook_token
    assert Client().get(f"/integrations/pagerduty/{token}/").status_code == 405


def test_the_hourly_beat_queues_every_linked_team_once(world: World, server: PagerDutyServer) -> None:
    from pulse.services.pagerduty import pagerduty_syncs_request_all

    _connect(world, server)
    assert pagerduty_syncs_request_all() == 1
    assert pagerduty_syncs_request_all() == 0  # still queued: not twice
    link = PagerDutyTeamLink.objects.get()
    assert link.last_sync_outcome == ""
