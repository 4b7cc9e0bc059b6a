"""The API's common behaviour: one error format, 401 vs 403 vs 404, token auth, cursor pagination."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def as_role(world: World, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.token(role)}")
    return client


def test_anonymous_requests_get_401_with_a_token_challenge(world: World) -> None:
    response = APIClient().get("/api/v1/teams/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401(world: World) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/organisation/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, expired or revoked token."}


def test_a_user_without_a_person_is_403_with_a_detail(world: World) -> None:
    response = as_role(world, "no_person").get("/api/v1/organisation/")
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}


def test_a_non_admin_writing_is_403_with_a_detail(world: World) -> None:
    response = as_role(world, "leader").patch("/api/v1/organisation/", {"min_group_size": 7}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only an admin of the organisation can do this."}


def test_another_organisations_id_is_404_exactly_like_a_missing_one(world: World) -> None:
    client = as_role(world, "admin")
    foreign = client.get(f"/api/v1/teams/{world.b.sre.pk}/")
    missing = client.get("/api/v1/teams/987654/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"detail": "Not found."}
    huge = client.get(f"/api/v1/teams/{10**30}/")
    assert huge.status_code == 404


def test_validation_errors_are_field_lists_and_nested_ones_are_paths(world: World) -> None:
    client = as_role(world, "admin")
    response = client.post("/api/v1/teams/", {"name": "", "time_zone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"errors"}
    errors = response.json()["errors"]
    assert set(errors) == {"name", "time_zone"}
    assert all(isinstance(message, str) for messages in errors.values() for message in messages)
    nested = client.post(
        "/api/v1/instruments/",
        {
            "key": "k",
            "name": "n",
            "licence": "ours",
            "questions": [{"key": "q1", "order": 1, "text": {}}, {}],
        },
        format="json",
    )
    assert nested.status_code == 400
    assert "questions[1].key" in nested.json()["errors"]


def test_malformed_json_is_a_400_in_the_same_format(world: World) -> None:
    response = as_role(world, "admin").generic(
        "POST", "/api/v1/teams/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["non_field_errors"]


def test_an_unsupported_method_is_405_with_a_detail(world: World) -> None:
    response = as_role(world, "admin").delete("/api/v1/teams/")
    assert response.status_code == 405
    assert "detail" in response.json()
    assert "GET" in response["Allow"]
    assert "POST" in response["Allow"]


def test_filters_are_validated(world: World) -> None:
    response = as_role(world, "admin").get("/api/v1/people/", {"active": "perhaps", "team": "x"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"active", "team"}
    overflow = as_role(world, "admin").get("/api/v1/people/", {"team": str(10**30)})
    assert overflow.status_code == 400


def test_cursor_pagination_walks_every_row_once(world: World) -> None:
    client = as_role(world, "admin")
    seen: list[int] = []
    url: str | None = "/api/v1/people/?page_size=2"
    pages = 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        seen.extend(person["id"] for person in body["results"])
        url = body["next"]
        pages += 1
    assert pages == 2  # three people in organisation A: a page of two, then a page of one
    assert sorted(seen) == sorted([world.a.admin.pk, world.a.leader.pk, world.a.engineer.pk])
    assert client.get("/api/v1/people/?cursor=bogus").status_code == 404


def test_a_session_user_can_create_and_revoke_their_own_tokens(world: World) -> None:
    session = APIClient()
    session.force_login(world.signed_in("engineer"))
    created = session.post(
        "/api/v1/me/tokens/", {"name": "nightly export", "expires_in_days": 7}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith(body["prefix"])
    assert body["name"] == "nightly export"
    scripted = APIClient()
    scripted.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert scripted.get("/api/v1/organisation/").json()["id"] == world.a.organisation.pk
    # A second token does not replace the first: one per script.
    second = session.post("/api/v1/me/tokens/", {"name": "dashboard"}, format="json").json()
    assert second["token"] != token
    assert scripted.get("/api/v1/organisation/").status_code == 200
    listed = session.get("/api/v1/me/tokens/").json()["results"]
    assert sorted(t["name"] for t in listed) == ["dashboard", "nightly export"]
    assert all("token" not in t for t in listed)  # never shown again
    assert session.delete(f"/api/v1/me/tokens/{body['id']}/").status_code == 204
    assert scripted.get("/api/v1/organisation/").status_code == 401
    assert session.delete(f"/api/v1/me/tokens/{body['id']}/").status_code == 404  # already revoked
    scripted.credentials(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert scripted.get("/api/v1/organisation/").status_code == 200
    # Another user's token is not found, and stays working.
    other = APIClient()
    other.force_login(world.signed_in("leader"))
    assert other.delete(f"/api/v1/me/tokens/{second['id']}/").status_code == 404
    assert scripted.get("/api/v1/organisation/").status_code == 200


def test_a_token_needs_a_name_and_an_expiry_within_the_maximum(world: World) -> None:
    session = APIClient()
    session.force_login(world.signed_in("engineer"))
    assert session.post("/api/v1/me/tokens/", {}, format="json").json()["errors"]["name"]
    too_long = session.post("/api/v1/me/tokens/", {"name": "x", "expires_in_days": 366}, format="json")
    assert too_long.status_code == 400
    assert "expires_in_days" in too_long.json()["errors"]


def test_session_writes_need_the_csrf_token(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.signed_in("admin"))
    response = client.patch("/api/v1/organisation/", {"min_group_size": 6}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_the_management_command_prints_a_token_for_scripts(world: World) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("pulse_api_token", "admin@a.example", "--name", "deploy", stdout=out)
    token = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/people/").status_code == 200


def test_the_docs_page_loads_nothing_from_a_third_party(world: World) -> None:
    html = APIClient().get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in asset for asset in assets)
    # Our own static files, and Swagger UI's start-up script as a file of the page's own (no inline script).
    assert all(asset.startswith(("/static/", "/api/docs/?script")) for asset in assets), assets
    script = APIClient().get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    schema = APIClient().get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/schedules/{id}/" in schema["paths"]


def test_unroutable_api_paths_are_json_404s_and_pages_stay_html(world: World) -> None:
    response = as_role(world, "admin").get("/api/v1/teams/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    page = APIClient().get("/manage/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
