"""The files a self-hoster looks for first: a licence, how to report a vulnerability, what changed, how to
contribute; each one linked from the README."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_licence_is_bsd_3_clause_held_by_the_contributors() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, The Pulse contributors" in text
    assert "Neither the name of the copyright holder nor the names of its" in text


@pytest.mark.parametrize("name", ["LICENSE", "SECURITY.md", "CHANGELOG.md", "CONTRIBUTING.md"])
def test_each_file_is_linked_from_the_readme(name: str) -> None:
    assert (ROOT / name).is_file()
    assert f"`{name}`" in (ROOT / "README.md").read_text()


def test_security_points_at_the_threat_model_and_says_what_is_not_covered() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    assert "docs/anonymity.md" in text
    assert "## Reporting a vulnerability" in text
    assert "## What it does not cover" in text


def test_the_changelog_keeps_a_changelog_s_form() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    sections = [line for line in text.splitlines() if line.startswith("### ")]
    assert sections
    assert set(sections) <= {
        f"### {kind}" for kind in ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
    }
