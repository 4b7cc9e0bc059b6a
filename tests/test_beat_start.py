"""Celery beat starts on a fresh machine whose PULSE_VAR_DIR does not exist yet: it creates the
directory and its schedule file instead of exiting, and says which setting to fix when it cannot."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

# With PostgreSQL and every secret given, as in production, settings themselves create nothing under var/.
pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def _beat(var_dir: Path) -> subprocess.Popen[str]:
    broker = settings.REDIS_URL.rsplit("/", 1)[0] + "/9"  # a database of its own: no worker takes the ticks
    env = {
        **os.environ,
        "PULSE_VAR_DIR": str(var_dir),
        "REDIS_URL": broker,
        "PULSE_TESTING": "1",
        "SECRET_KEY": "beat-test-" + "s" * 50,
        "PULSE_TOKEN_KEYS": base64.urlsafe_b64encode(b"t" * 32).decode(),
        "PULSE_SECRET_KEYS": base64.urlsafe_b64encode(b"c" * 32).decode(),
        "PULSE_REFERENCE_KEY": base64.urlsafe_b64encode(b"r" * 32).decode(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_beat_creates_a_missing_var_directory_and_keeps_running(tmp_path: Path) -> None:
    var_dir = tmp_path / "not" / "there" / "yet"
    beat = _beat(var_dir)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(var_dir.glob("celerybeat-schedule*")):
            assert beat.poll() is None, beat.stdout.read() if beat.stdout else ""
            time.sleep(0.2)
        assert list(var_dir.glob("celerybeat-schedule*")), "beat made no schedule file"
        time.sleep(1)
        assert beat.poll() is None  # still running
    finally:
        beat.terminate()
        beat.wait(timeout=20)


def test_beat_names_the_setting_when_it_cannot_create_the_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    beat = _beat(blocker / "var")
    try:
        output, _ = beat.communicate(timeout=60)
    finally:
        beat.kill()
    assert beat.returncode != 0
    assert "set PULSE_VAR_DIR to a writable directory" in output
