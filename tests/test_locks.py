"""The two locks: every package pinned with hashes, the development lock at the runtime lock's versions, no
development tool in the runtime lock, no path of the machine that compiled them, and the run path
installing only the runtime lock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-dev.lock")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+) \\$")


def pins(name: str) -> dict[str, str]:
    """Package → version; each requirement line must be an exact pin followed by its hashes."""
    found = {}
    lines = (ROOT / name).read_text().splitlines()
    for number, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        match = PIN.match(line)
        assert match, f"{name}:{number + 1}: not an exact pin with hashes: {line!r}"
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{name}:{number + 1}: no hash"
        found[match.group(1).lower()] = match.group(3)
    return found


@pytest.mark.parametrize("name", LOCKS)
def test_every_package_is_pinned_with_its_hashes_and_no_machine_path(name: str) -> None:
    assert len(pins(name)) > 10
    text = (ROOT / name).read_text()
    assert not re.search(r"(^|\s)(/[a-z]+/|file:|[A-Z]:\\\\)", text, re.M), f"{name} names a local path"
    assert "--index-url" not in text
    assert "--find-links" not in text


def test_the_development_lock_keeps_the_runtime_lock_s_versions() -> None:
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert "-c requirements.lock" in (ROOT / "requirements-dev.in").read_text()
    differing = {name: (runtime[name], development[name]) for name in runtime.keys() & development.keys()}
    assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}


def test_the_runtime_lock_holds_no_development_tool() -> None:
    runtime = pins("requirements.lock")
    for tool in ("pytest", "pytest-django", "ruff", "mypy", "hypothesis", "selenium", "factory-boy"):
        assert tool not in runtime, f"{tool} is a development tool but in the runtime lock"
    for needed in ("django", "celery", "gunicorn", "psycopg", "django-anymail", "python-json-logger"):
        assert needed in runtime


def test_make_run_installs_only_the_runtime_lock_and_make_test_both() -> None:
    makefile = (ROOT / "Makefile").read_text()
    runtime_rule = re.search(r"^\$\(STAMP\): (.*)\n((?:\t.*\n)+)", makefile, re.M)
    dev_rule = re.search(r"^\$\(DEV_STAMP\): (.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert runtime_rule
    assert dev_rule
    assert "--require-hashes" in makefile
    assert "requirements-dev.lock" not in runtime_rule.group(0)
    assert "-r requirements.lock -r requirements-dev.lock" in dev_rule.group(2)
    run = re.search(r"^run: (.*)$", makefile, re.M)
    test = re.search(r"^test: (.*)$", makefile, re.M)
    assert run
    assert test
    assert "$(STAMP)" in run.group(1).split()
    assert "$(DEV_STAMP)" not in run.group(1)
    assert "$(DEV_STAMP)" in test.group(1).split()
