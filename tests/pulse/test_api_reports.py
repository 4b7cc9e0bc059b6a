"""The results and flags API (pulse/api/reports.py): the same gate as the pages, cells that carry no
number when withheld, the flag actions through the flag services, and responses that match the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from config.wsgi import application
from pulse.models import Flag
from pulse.services.api_tokens import api_token_create
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


@pytest.fixture
def worked() -> ReportOrg:
    """docs/science.md §4.3's worked case at k = 6: Root 12 (mean 3.5), A 7 (mean 3.714), B 5 (no rows)."""
    org = ReportOrg(k=6)
    org.round(
        {"Root": {BURNOUT: Value(12, 3.5), RATE: (14, 12)}, "A": {BURNOUT: Value(7, 26 / 7), RATE: (8, 7)}}
    )
    return org


def test_home_cells_are_published_withheld_or_not_asked_and_withheld_ones_have_no_number(
    worked: ReportOrg,
) -> None:
    body = _client(worked.person("Lena", leads="Root")).get("/api/v1/reports/home/").json()
    assert body["k"] == 6
    rows = {row["team"]["name"]: row for row in body["teams"]}
    assert rows["Root"]["cells"]["burnout1.burnout1"] == {
        "status": "published",
        "value": 3.5,
        "text": "3.5",
        "n": 12,
        "band": "burned_out",
        "band_label": "burned out (≥ 3)",
        "level": "beyond",
    }
    assert rows["A"]["cells"]["burnout1.burnout1"] == {
        "status": "withheld",
        "reason": "withheld to protect a smaller group",
        "code": "protects_smaller_group",
    }
    assert rows["B"]["cells"]["burnout1.burnout1"] == {
        "status": "withheld",
        "reason": "fewer than 6 answers",
        "code": "too_few_answers",
    }
    assert rows["Root"]["cells"]["response_rate"]["value"] == 85  # 12/14 = 85.7% → 85 in 5-point steps
    assert rows["Root"]["cells"]["who5.who5"]["status"] == "withheld"  # asked, nobody scored


def test_team_report_and_scope(worked: ReportOrg) -> None:
    other = ReportOrg()
    lead_a = _client(worked.person("Lead A", leads="A"))
    body = lead_a.get(f"/api/v1/reports/teams/{worked.team['A'].pk}/").json()
    assert body["team"]["name"] == "A"
    burnout = next(m for m in body["metrics"] if m["metric"] == BURNOUT)
    assert burnout["points"][0]["cell"]["status"] == "withheld"
    assert "value" not in burnout["points"][0]["cell"]
    assert burnout["rollup_note"].endswith("no team you can see above it can be shown instead.")
    assert lead_a.get(f"/api/v1/reports/teams/{worked.team['B'].pk}/").status_code == 404
    assert lead_a.get(f"/api/v1/reports/teams/{other.team['A'].pk}/").status_code == 404
    engineer = _client(worked.person("Eve", member_of="A"))
    assert engineer.get("/api/v1/reports/home/").status_code == 403
    assert engineer.get("/api/v1/flags/").status_code == 403
    assert Client().get("/api/v1/reports/home/").status_code == 401


def test_flag_actions_through_the_api() -> None:
    org = ReportOrg()
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 3.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    flag = org.flag("A", explanation="Burnout (single item) was 3.4 in the round closing 2 Mar 2026.")
    other = ReportOrg()
    other.round({"Root": {BURNOUT: Value(14, 2.5)}})
    foreign = other.flag("Root")
    lena = _client(org.person("Lena", leads="Root"))
    listed = lena.get("/api/v1/flags/").json()
    assert [item["id"] for item in listed["results"]] == [flag.pk]
    assert listed["results"][0]["explanation"] == flag.explanation
    assert listed["results"][0]["can_act"] is True

    response = lena.post(
        f"/api/v1/flags/{flag.pk}/acknowledge/", {"note": "Seen."}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["events"][-1] == {
        "at": response.json()["events"][-1]["at"],
        "kind": "Acknowledged",
        "actor": "Lena",
        "why": "Seen.",
    }
    due = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    response = lena.post(
        f"/api/v1/flags/{flag.pk}/plan/",
        {"what": "Rotate on-call", "who": "Lena", "due_on": due},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["actions"][0]["what"] == "Rotate on-call"
    assert response.json()["actions"][0]["outcome"] == "The action's date has not come yet."
    response = lena.post(f"/api/v1/flags/{flag.pk}/resolve/", {"note": ""}, content_type="application/json")
    assert response.status_code == 400
    assert "note" in response.json()["errors"]
    response = lena.post(
        f"/api/v1/flags/{flag.pk}/resolve/", {"note": "Done."}, content_type="application/json"
    )
    assert response.json()["state"] == "resolved"
    # Another organisation's flag is simply not found; an admin who leads nothing may read but not act.
    assert lena.get(f"/api/v1/flags/{foreign.pk}/").status_code == 404
    assert (
        lena.post(
            f"/api/v1/flags/{foreign.pk}/resolve/", {"note": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    admin = _client(org.person("Ada", admin=True))
    assert admin.get(f"/api/v1/flags/{flag.pk}/").json()["can_act"] is False
    second = org.flag("B")
    response = admin.post(
        f"/api/v1/flags/{second.pk}/acknowledge/", {"note": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    second.refresh_from_db()
    assert second.state == Flag.State.OPEN


def _validated(path: str, token: str, **path_parameters: Any) -> Any:
    operation = schema[path]["GET"]
    case = operation.Case(path_parameters=path_parameters or None)
    # Through the real WSGI app, which closes the database connection when a request starts and ends; inside a
    # test's transaction that would close it under the test on PostgreSQL (Django's test client does
    # the same disconnect).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = case.call(headers={"Authorization": f"Token {token}"})
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    case.validate_response(
        response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
    )
    return response


def test_responses_with_published_and_withheld_cells_match_the_openapi_schema(worked: ReportOrg) -> None:
    lena = worked.person("Lena", leads="Root")
    worked.flag("A")
    assert lena.user is not None
    token = api_token_create(user=lena.user, name="schema test")[1]
    assert _validated("/api/v1/reports/home/", token).status_code == 200
    assert _validated("/api/v1/reports/teams/{id}/", token, id=worked.team["A"].pk).status_code == 200
    assert _validated("/api/v1/reports/teams/{id}/", token, id=worked.team["Root"].pk).status_code == 200
    assert _validated("/api/v1/flags/", token).status_code == 200
