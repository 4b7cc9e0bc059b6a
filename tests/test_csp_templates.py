"""Every response carries the Content Security Policy, and no template holds what it refuses: an inline
script, an inline event handler, a <style> element or a style attribute (the browser test,
tests/browser/test_csp.py, checks the pages themselves; this catches a new template without a browser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOTS = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "surveys" / "templates"]
INLINE = [
    (
        re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I),
        "inline script",
    ),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "inline event handler"),
]


def test_no_template_holds_inline_script_or_style() -> None:
    found = []
    for root in ROOTS:
        for path in root.rglob("*.html"):
            if "email" in path.parts:  # emails are read in mail clients, not under the page's policy
                continue
            text = path.read_text()
            for pattern, what in INLINE:
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(settings.BASE_DIR)}:{line}: {what}")
    assert found == []


@pytest.mark.django_db
def test_pages_are_sent_with_the_policy() -> None:
    for path in ("/login/", "/privacy/", "/api/docs/"):
        response = Client().get(path)
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy, path
        assert "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
