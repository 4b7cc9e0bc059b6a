"""Verified email changes: the account takeover walked step by step, refused at each.

The attack: an organisation admin who is not staff changes the email of a person linked to a superuser to
an address they read, asks for a sign-in link there, and signs in as the superuser. Now the change is
refused (only staff may change a staff account's or another admin's email), a sign-in link goes only to
the verified address, and an allowed change waits for the new address to confirm while the old one is told.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from pulse.models import AuthEmail, EmailChange
from pulse.services.auth_emails import auth_emails_send_due
from surveys.models import Person
from tests.factories import PersonFactory
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

ATTACKER = "attacker@evil.example"
SIGN_IN = re.compile(r"http://[^/]+(/login/link/[A-Za-z0-9_\-]+/)")
CONFIRM = re.compile(r"http://[^/]+(/account/email/[A-Za-z0-9_\-]+/)")


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def root(world: World) -> Person:
    """A person of organisation A whose user is a Django superuser (who can see every organisation)."""
    user = User.objects.create_superuser("root@a.example", "root@a.example", "irrelevant-password")
    return PersonFactory(
        organisation=world.a.organisation, email="root@a.example", display_name="Root", user=user
    )


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(person: Person, **changes: str) -> dict[str, str]:
    data = {"email": person.email, "display_name": person.display_name, "locale": "", "time_zone": ""}
    if person.user is None or person.user.is_active:
        data["can_sign_in"] = "on"
    if person.is_admin:
        data["is_admin"] = "on"
    return {**data, **changes}


def mails_to(address: str) -> list[str]:
    return [str(message.body) for message in mail.outbox if address in message.to]


def sign_in_path(body: str) -> str:
    found = SIGN_IN.search(body)
    assert found is not None
    return found.group(1)


def test_the_takeover_of_a_superuser_is_refused_at_each_step(world: World, root: Person) -> None:
    admin = world.a.admin
    assert admin.user is not None
    assert not admin.user.is_staff

    # Step 1, the API: a field error in the API's error format, nothing changed, nothing queued.
    response = api(admin.user).patch(f"/api/v1/people/{root.pk}/", {"email": ATTACKER}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"email": ["Only staff can change the email of a person whose account is staff."]}
    }
    # Step 1 again, the /manage/ form: the same message at the email field, the typed value kept.
    page = web(admin.user).post(f"/manage/people/{root.pk}/", form(root, email=ATTACKER))
    assert page.status_code == 400
    html = page.content.decode()
    assert "Only staff can change the email of a person whose account is staff." in html
    assert f'value="{ATTACKER}"' in html
    assert 'aria-invalid="true"' in html
    # Switching the superuser's sign-in off (or on) is refused too.
    switched = api(admin.user).patch(f"/api/v1/people/{root.pk}/", {"can_sign_in": False}, format="json")
    assert switched.status_code == 400
    assert list(switched.json()["errors"]) == ["can_sign_in"]
    root.refresh_from_db()
    assert root.email == "root@a.example"
    assert root.user_id is not None
    assert User.objects.get(pk=root.user_id).email == "root@a.example"
    assert User.objects.get(pk=root.user_id).is_active
    assert not EmailChange.objects.exists()
    assert not AuthEmail.objects.exists()

    # Step 2: a sign-in link asked for at the attacker's address goes nowhere.
    attacker = Client()
    assert attacker.post("/login/email/", {"email": ATTACKER}).status_code == 302
    auth_emails_send_due()
    assert mail.outbox == []

    # Step 3: no session as the superuser, and /admin/ stays closed.
    assert SESSION_KEY not in attacker.session
    assert attacker.get("/admin/").status_code == 302

    # The same for another admin of the organisation, also when the request first takes the admin flag.
    other_admin = world.a.leader
    api(admin.user).patch(f"/api/v1/people/{other_admin.pk}/", {"is_admin": True}, format="json")
    for body in ({"email": ATTACKER}, {"email": ATTACKER, "is_admin": False}):
        refused = api(admin.user).patch(f"/api/v1/people/{other_admin.pk}/", body, format="json")
        assert refused.status_code == 400
        assert refused.json() == {"errors": {"email": ["Only staff can change another admin's email."]}}
    assert Person.objects.get(pk=other_admin.pk).is_admin


def test_staff_may_change_a_staff_account_and_the_change_still_needs_confirming(
    world: World, root: Person
) -> None:
    staff = root.user
    assert staff is not None
    staff_person = PersonFactory(organisation=world.a.organisation, is_admin=True, user=None)
    staff_person.user = User.objects.create_user("ops@a.example", "ops@a.example", is_staff=True)
    staff_person.save()
    response = api(staff_person.user).patch(
        f"/api/v1/people/{root.pk}/", {"email": "root2@a.example"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["pending_email"]) == (
        "root@a.example",
        "root2@a.example",
    )


def test_an_allowed_change_waits_for_the_new_address_and_the_old_one_is_told(world: World) -> None:
    admin, engineer = world.a.admin, world.a.engineer
    assert admin.user is not None
    assert engineer.user is not None
    response = api(admin.user).patch(f"/api/v1/people/{engineer.pk}/", {"email": ATTACKER}, format="json")
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["pending_email"]) == ("engineer@a.example", ATTACKER)
    engineer.refresh_from_db()
    assert engineer.email == "engineer@a.example"
    assert mail.outbox == []  # queued, sent by the outbox
    auth_emails_send_due()
    [notice] = mails_to("engineer@a.example")
    assert f"Admin asked Pulse to change the address you sign in with from this one to {ATTACKER}" in notice
    [confirm] = mails_to(ATTACKER)

    # Before the new address confirms it is no sign-in identity: a link asked for there goes nowhere,
    # while the rightful owner still signs in with the old address.
    mail.outbox.clear()
    Client().post("/login/email/", {"email": ATTACKER})
    Client().post("/login/email/", {"email": "engineer@a.example"})
    auth_emails_send_due()
    assert mails_to(ATTACKER) == []
    [old_link] = mails_to("engineer@a.example")

    # The confirm link: opening it changes nothing (mail scanners); the button does.
    found = CONFIRM.search(confirm)
    assert found is not None
    owner = Client()
    opened = owner.get(found.group(1))
    assert (opened.status_code, opened["Location"]) == (302, "/account/email/confirm/")
    page = owner.get("/account/email/confirm/")
    assert page.status_code == 200
    assert f"Confirm {ATTACKER}" in page.content.decode()
    assert Person.objects.get(pk=engineer.pk).email == "engineer@a.example"
    done = owner.post("/account/email/confirm/")
    assert done.status_code == 200
    assert "Address confirmed" in done.content.decode()
    engineer.refresh_from_db()
    assert engineer.email == ATTACKER
    assert engineer.user_id is not None
    assert User.objects.get(pk=engineer.user_id).email == ATTACKER
    assert Client().get(found.group(1)).status_code == 410  # used

    # The link sent to the old address before the change no longer signs in.
    assert Client().get(sign_in_path(old_link)).status_code == 410
    # The new address signs in now, as the same user.
    Client().post("/login/email/", {"email": ATTACKER})
    mail.outbox.clear()
    auth_emails_send_due()
    [new_link] = mails_to(ATTACKER)
    client = Client()
    assert client.get(sign_in_path(new_link)).status_code == 302
    assert client.post("/login/link/confirm/").status_code == 302
    assert int(client.session[SESSION_KEY]) == engineer.user_id


def test_a_case_only_change_is_no_new_address(world: World) -> None:
    admin, engineer = world.a.admin, world.a.engineer
    assert admin.user is not None
    response = api(admin.user).patch(
        f"/api/v1/people/{engineer.pk}/", {"email": "Engineer@A.example"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["pending_email"]) == ("Engineer@A.example", None)
    assert not EmailChange.objects.exists()


def test_an_address_taken_in_the_organisation_is_refused_at_the_field(world: World) -> None:
    admin, engineer = world.a.admin, world.a.engineer
    assert admin.user is not None
    response = api(admin.user).patch(
        f"/api/v1/people/{engineer.pk}/", {"email": "leader@a.example"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"email": ["Someone in this organisation already has this email address."]}
    }


def test_the_manage_form_says_the_change_waits_for_confirmation(world: World) -> None:
    admin, engineer = world.a.admin, world.a.engineer
    assert admin.user is not None
    client = web(admin.user)
    saved = client.post(f"/manage/people/{engineer.pk}/", form(engineer, email="new@a.example"), follow=True)
    assert saved.status_code == 200
    html = saved.content.decode()
    assert "The new address new@a.example takes effect when its owner confirms it" in html
    assert "New address waiting for confirmation: <strong>new@a.example</strong>" in html
    assert Person.objects.get(pk=engineer.pk).email == "engineer@a.example"


def test_staff_see_the_changes_and_the_queued_emails_in_the_admin(world: World, root: Person) -> None:
    admin, engineer = world.a.admin, world.a.engineer
    assert admin.user is not None
    api(admin.user).patch(f"/api/v1/people/{engineer.pk}/", {"email": "new@a.example"}, format="json")
    auth_emails_send_due()
    assert root.user is not None
    staff = web(root.user)
    changes = staff.get("/admin/pulse/emailchange/")
    assert changes.status_code == 200
    assert "new@a.example" in changes.content.decode()
    change = EmailChange.objects.get()
    assert change.token_hash is not None
    detail = staff.get(f"/admin/pulse/emailchange/{change.pk}/change/").content.decode()
    assert "Token hash" not in detail
    emails = staff.get("/admin/pulse/authemail/").content.decode()
    assert "Confirm a new address" in emails
    assert "Tell the old address about a change" in emails
