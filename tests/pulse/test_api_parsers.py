"""JSON bodies too deep or too large get a 400 in the API's error format, and change nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from pytest_django import Settings as SettingsFixture

from surveys.models import Participation, SealedBallot


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [33, 50_000])
def test_deeply_nested_json_to_the_check_in_api_is_a_400_not_a_500(levels: int) -> None:
    body = '{"token": "x", "answers": ' + "[" * levels + "]" * levels + "}"
    response = Client().post("/api/v1/checkin/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"non_field_errors": ["The JSON is nested too deeply (at most 32 levels)."]}
    } or ("nested too deeply" in json.dumps(response.json()))
    assert not Participation.objects.exists()
    assert not SealedBallot.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_413_in_the_api_format(settings: SettingsFixture) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"token": "x" * 2000, "answers": {}})
    response = Client().post("/api/v1/checkin/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 1,000 bytes."}


@pytest.mark.django_db
def test_ordinary_json_still_parses() -> None:
    response = Client().post(
        "/api/v1/checkin/",
        json.dumps({"token": "x" * 43, "answers": {"a": [1, {"b": 2}]}}),
        content_type="application/json",
    )
    assert response.status_code in (400, 404)
    assert "nested" not in response.content.decode()
