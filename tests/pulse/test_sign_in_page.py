"""The sign-in page names its field the way everyone signs in: by email."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_password_form_asks_for_an_email_not_a_username() -> None:
    page = Client().get("/login/").content.decode()
    assert '<label for="id_username">Email</label>' in page
    assert "Username" not in page
    field = re.search(r'<input id="id_username"[^>]*>', page)
    assert field
    assert 'inputmode="email"' in field.group(0)  # an email keyboard; a username still passes
    assert 'autocomplete="username"' in field.group(0)
