"""Production settings refuse to start without what they need, and then pass ``check --deploy``."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "PULSE_ENV": "production",
    "SECRET_KEY": "x7" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
    "ALLOWED_HOSTS": "pulse.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PULSE_TOKEN_KEYS": base64.urlsafe_b64encode(b"k" * 32).decode(),
    "PULSE_TRUSTED_PROXY_COUNT": "1",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in GOOD and key != "DEBUG"}
    clean.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, "PULSE_VAR_DIR": "/nonexistent/should-not-be-used"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_every_variable_set() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=GOOD)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_rabbitmq_as_broker_and_redis_as_cache_need_no_redis_url() -> None:
    env = {key: value for key, value in GOOD.items() if key != "REDIS_URL"}
    env |= {
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
    }
    result = manage(
        "shell", "-c", "from django.conf import settings as s; print(s.CELERY_BROKER_URL, s.CACHES)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "amqp://guest:guest@127.0.0.1:5672// " in result.stdout
    assert "redis://127.0.0.1:6379/1" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "PULSE_TOKEN_KEYS",
        "PULSE_TRUSTED_PROXY_COUNT",
    ],
)
def test_production_refuses_to_start_without_a_required_variable(missing: str) -> None:
    env = {key: value for key, value in GOOD.items() if key != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "perhaps", "DEBUG must be a boolean"),
        ("DB_CONN_MAX_AGE", "ten", "DB_CONN_MAX_AGE must be a whole number"),
        ("PULSE_TOKEN_KEYS", "too-short", "PULSE_TOKEN_KEYS entry 1 must be 32 bytes"),
        ("PULSE_ENV", "staging", "PULSE_ENV must be one of development, production"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 50 characters"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    result = manage("check", env={**GOOD, variable: value})
    assert result.returncode != 0
    assert message in result.stderr
