"""Static files are served by the application itself (WhiteNoise), in development as in production.

The Django test client goes through the middleware only (no static view of runserver or of a live
server), so these requests answer 404 unless WhiteNoise serves the files.
"""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/pulse/pulse.css", "text/css"),
        ("/static/pulse/vendor/uPlot.iife.min.js", "text/javascript"),
        ("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "text/javascript"),
        ("/static/pulse/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/"),
    ],
)
def test_static_files_are_served_without_collectstatic(path: str, content_type: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)


@pytest.mark.django_db
def test_every_page_names_its_icon() -> None:
    body = Client().get("/login/").content.decode()
    assert '<link rel="icon" href="/static/pulse/favicon.svg"' in body
