"""Names refuse line breaks and control characters, field by field, on every write path; an email subject
is one line whatever a name held, and a header Django refuses is a permanent failure, not a silent
drop."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings
from rest_framework.test import APIClient

from pulse.transports import EmailTransport
from surveys.models import Organisation, Team
from surveys.validators import single_line
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db
REFUSED = "Names cannot contain line breaks, tabs or other control characters."


@pytest.fixture
def admin(db: None) -> tuple[World, APIClient]:
    world = build_world()
    client = APIClient()
    client.force_login(world.signed_in("admin"))
    return world, client


@pytest.mark.parametrize("name", ["SRE\nBcc: attacker@example.org", "SRE\r\nX", "SRE\tEurope", "SRE\u2028X"])
def test_a_team_name_with_a_line_break_or_control_character_is_refused(
    admin: tuple[World, APIClient], name: str
) -> None:
    world, client = admin
    before = Team.objects.count()
    response = client.post("/api/v1/teams/", {"name": name, "parent": world.a.root.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == [REFUSED]
    assert Team.objects.count() == before


def test_an_organisation_name_with_a_newline_is_refused_and_nothing_changes(
    admin: tuple[World, APIClient],
) -> None:
    world, client = admin
    response = client.patch("/api/v1/organisation/", {"name": "Acme\nBcc: x@example.org"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"name": [REFUSED]}}
    assert Organisation.objects.get(pk=world.a.organisation.pk).name == "Org A"


def test_a_name_stored_before_validation_still_makes_a_one_line_subject() -> None:
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        transport = EmailTransport()
        transport.send(
            to="lead@example.org", subject="[Pulse] Alert: SRE\r\nBcc: x@example.org — burnout", body="b"
        )
        transport.close()
    (message,) = mail.outbox
    assert message.subject == "[Pulse] Alert: SRE Bcc: x@example.org — burnout"
    assert message.bcc == []
    assert "\nBcc:" not in message.message().as_string()
    assert single_line(" a\u2029b\x00c  d ") == "a b c d"
