"""Every page and endpoint of the configuration app, tried by every role, with ids of organisation A.

Roles: anonymous; a signed-in user linked to no person; A's engineer (member of SRE a); A's leader (leads
Platform a, so sees Platform a and SRE a); A's admin; and B's admin, who tries A's ids and must get 404
(never 403: a 403 would confirm that the id exists). Pages are opened with a session, the API with a token.

Each row is one request; the expected status per role is the table. Roles run in the order below with the
admin last, so that a write the admin is allowed to make cannot change what the others see.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no_person", "engineer", "leader", "other_admin", "admin")


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    url: Callable[[World], str]
    expected: tuple[int, int, int, int, int, int]  # in the order of ROLES
    data: Any = None
    api: bool = False


def statuses(
    anonymous: int, no_person: int, engineer: int, leader: int, other_admin: int, admin: int
) -> tuple[int, int, int, int, int, int]:
    return (anonymous, no_person, engineer, leader, other_admin, admin)


LOGIN = 302  # pages send anonymous visitors to sign in
CSV = "email,name,team\nsomeone@example.org,Someone,Team\n"

PAGES = [
    Row("home", "GET", lambda w: "/", statuses(LOGIN, 200, 200, 200, 200, 200)),
    Row("health", "GET", lambda w: "/health/", statuses(200, 200, 200, 200, 200, 200)),
    Row("my check-ins", "GET", lambda w: "/me/checkins/", statuses(LOGIN, 200, 200, 200, 200, 200)),
    Row("privacy", "GET", lambda w: "/privacy/", statuses(200, 200, 200, 200, 200, 200)),
    Row("sign in", "GET", lambda w: "/login/", statuses(200, 200, 200, 200, 200, 200)),
    Row("api schema", "GET", lambda w: "/api/schema/", statuses(200, 200, 200, 200, 200, 200)),
    Row("api docs", "GET", lambda w: "/api/docs/", statuses(200, 200, 200, 200, 200, 200)),
    Row("api token", "GET", lambda w: "/account/api-token/", statuses(LOGIN, 403, 200, 200, 200, 200)),
    Row("admin overview", "GET", lambda w: "/manage/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("organisation", "GET", lambda w: "/manage/organisation/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("people", "GET", lambda w: "/manage/people/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("person new", "GET", lambda w: "/manage/people/new/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row(
        "person",
        "GET",
        lambda w: f"/manage/people/{w.a.engineer.pk}/",
        statuses(LOGIN, 403, 403, 403, 404, 200),
    ),
    Row("import", "GET", lambda w: "/manage/people/import/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("teams", "GET", lambda w: "/manage/teams/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("team", "GET", lambda w: f"/manage/teams/{w.a.sre.pk}/", statuses(LOGIN, 403, 403, 403, 404, 200)),
    Row("schedules", "GET", lambda w: "/manage/schedules/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("schedule new", "GET", lambda w: "/manage/schedules/new/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row(
        "schedule",
        "GET",
        lambda w: f"/manage/schedules/{w.a.schedule.pk}/",
        statuses(LOGIN, 403, 403, 403, 404, 200),
    ),
    Row("instruments", "GET", lambda w: "/manage/instruments/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("slack", "GET", lambda w: "/manage/slack/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("on-call CSV", "GET", lambda w: "/manage/oncall/import/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("time off", "GET", lambda w: "/manage/oncall/time-off/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("pagerduty", "GET", lambda w: "/manage/oncall/pagerduty/", statuses(LOGIN, 403, 403, 403, 200, 200)),
    Row("team results", "GET", lambda w: "/results/", statuses(LOGIN, 200, 200, 200, 200, 200)),
    Row(
        "instrument",
        "GET",
        lambda w: f"/manage/instruments/{w.a.instrument.pk}/",
        statuses(LOGIN, 403, 403, 403, 404, 200),
    ),
    Row(
        "edit team",
        "POST",
        lambda w: f"/manage/teams/{w.a.sre.pk}/",
        statuses(LOGIN, 403, 403, 403, 404, 302),
        data={"name": "Renamed", "slug": "renamed"},
    ),
    Row(
        "deactivate",
        "POST",
        lambda w: f"/manage/people/{w.a.engineer.pk}/deactivate/",
        statuses(LOGIN, 403, 403, 403, 404, 302),
    ),
    Row(
        "end membership",
        "POST",
        lambda w: f"/manage/memberships/{w.a.membership.pk}/end/",
        statuses(LOGIN, 403, 403, 403, 404, 302),
    ),
    Row(
        "add membership",
        "POST",
        lambda w: "/manage/memberships/new/",
        # B's admin names A's person and team: not among B's choices, so the form is refused.
        statuses(LOGIN, 403, 403, 403, 400, 302),
        data=lambda w: {"person": w.a.engineer.pk, "team": w.a.data.pk, "role": "member"},
    ),
]

API = [
    Row("organisation", "GET", lambda w: "/api/v1/organisation/", statuses(401, 403, 200, 200, 200, 200)),
    Row(
        "organisation update",
        "PATCH",
        lambda w: "/api/v1/organisation/",
        statuses(401, 403, 403, 403, 200, 200),
        data={"locale": "de"},
    ),
    Row("teams", "GET", lambda w: "/api/v1/teams/", statuses(401, 403, 200, 200, 200, 200)),
    Row(
        "team in subtree",
        "GET",
        lambda w: f"/api/v1/teams/{w.a.sre.pk}/",
        statuses(401, 403, 404, 200, 404, 200),
    ),
    Row(
        "team outside",
        "GET",
        lambda w: f"/api/v1/teams/{w.a.data.pk}/",
        statuses(401, 403, 404, 404, 404, 200),
    ),
    Row(
        "team create",
        "POST",
        lambda w: "/api/v1/teams/",
        statuses(401, 403, 403, 403, 201, 201),
        data={"name": "New"},
    ),
    Row(
        "team update",
        "PATCH",
        lambda w: f"/api/v1/teams/{w.a.sre.pk}/",
        statuses(401, 403, 403, 403, 404, 200),
        data={"name": "Renamed"},
    ),
    Row("people", "GET", lambda w: "/api/v1/people/", statuses(401, 403, 403, 403, 200, 200)),
    Row(
        "person",
        "GET",
        lambda w: f"/api/v1/people/{w.a.engineer.pk}/",
        statuses(401, 403, 403, 403, 404, 200),
    ),
    Row(
        "person create",
        "POST",
        lambda w: "/api/v1/people/",
        statuses(401, 403, 403, 403, 201, 201),
        data={"email": "new@example.org", "display_name": "New"},
    ),
    Row(
        "person update",
        "PATCH",
        lambda w: f"/api/v1/people/{w.a.engineer.pk}/",
        statuses(401, 403, 403, 403, 404, 200),
        data={"display_name": "Renamed"},
    ),
    Row(
        "person deactivate",
        "POST",
        lambda w: f"/api/v1/people/{w.a.engineer.pk}/deactivate/",
        statuses(401, 403, 403, 403, 404, 200),
    ),
    Row(
        "people import",
        "POST",
        lambda w: "/api/v1/people/import/",
        statuses(401, 403, 403, 403, 200, 200),
        data={"csv": CSV},
    ),
    Row("memberships", "GET", lambda w: "/api/v1/memberships/", statuses(401, 403, 403, 403, 200, 200)),
    Row(
        "membership create",
        "POST",
        lambda w: "/api/v1/memberships/",
        statuses(401, 403, 403, 403, 400, 201),  # B's admin: A's person and team "do not exist"
        data=lambda w: {"person": w.a.engineer.pk, "team": w.a.data.pk},
    ),
    Row(
        "membership end",
        "POST",
        lambda w: f"/api/v1/memberships/{w.a.membership.pk}/end/",
        statuses(401, 403, 403, 403, 404, 200),
    ),
    Row("schedules", "GET", lambda w: "/api/v1/schedules/", statuses(401, 403, 200, 200, 200, 200)),
    Row(
        "schedule",
        "GET",
        lambda w: f"/api/v1/schedules/{w.a.schedule.pk}/",
        statuses(401, 403, 404, 404, 404, 200),
    ),
    Row(
        "schedule update",
        "PATCH",
        lambda w: f"/api/v1/schedules/{w.a.schedule.pk}/",
        statuses(401, 403, 403, 403, 404, 200),
        data={"name": "Renamed"},
    ),
    Row(
        "schedule create",
        "POST",
        lambda w: "/api/v1/schedules/",
        statuses(401, 403, 403, 403, 400, 400),  # an empty body: refused by admins, field by field
        data={},
    ),
    Row(
        "schedule preview",
        "POST",
        lambda w: "/api/v1/schedules/preview/",
        statuses(401, 403, 403, 403, 400, 400),
        data={},
    ),
    Row("instruments", "GET", lambda w: "/api/v1/instruments/", statuses(401, 403, 200, 200, 200, 200)),
    Row(
        "custom instrument",
        "GET",
        lambda w: f"/api/v1/instruments/{w.a.instrument.pk}/",
        statuses(401, 403, 200, 200, 404, 200),
    ),
    Row(
        "instrument create",
        "POST",
        lambda w: "/api/v1/instruments/",
        statuses(401, 403, 403, 403, 400, 400),
        data={},
    ),
    Row("my check-ins", "GET", lambda w: "/api/v1/me/checkins/", statuses(401, 403, 200, 200, 200, 200)),
    Row(
        "my token",
        "POST",
        lambda w: "/api/v1/me/tokens/",
        statuses(401, 201, 201, 201, 201, 201),
        data={"name": "role matrix"},
    ),
]


def attempt(world: World, row: Row, role: str) -> int:
    user = world.user(role)
    data = row.data(world) if callable(row.data) else row.data
    url = row.url(world)
    if row.api:
        api = APIClient()
        if user is not None:
            api.credentials(HTTP_AUTHORIZATION=f"Token {world.token(role)}")
        body = json.dumps(data) if data is not None else ""
        return int(api.generic(row.method, url, body, content_type="application/json").status_code)
    client = Client()
    if user is not None:
        client.force_login(user)
    if row.method == "GET":
        return client.get(url).status_code
    return client.post(url, data or {}).status_code


ROWS = [*PAGES, *(Row(**{**row.__dict__, "api": True}) for row in API)]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{'api' if row.api else 'page'}: {row.name}")
def test_role_matrix(row: Row) -> None:
    world = build_world()
    actual = {role: attempt(world, row, role) for role in ROLES}
    assert actual == dict(zip(ROLES, row.expected, strict=True))
