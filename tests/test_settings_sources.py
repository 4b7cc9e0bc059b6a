"""Every setting is read from its variable and from the file ``<NAME>_FILE`` names (container secrets); both
set, an unreadable file or a malformed value stops start-up naming the variable. Email goes out through a
provider's API with django-anymail configured from ``PULSE_EMAIL_PROVIDER`` and ``ANYMAIL_*``.

The settings module is executed afresh for each case (``runpy``), in this process, with the environment
the case gives, so what is checked is what ``config/settings.py`` makes of it.
"""

from __future__ import annotations

import base64
import os
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.email import anymail_providers
from tests.test_settings import GOOD

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "config" / "settings.py"
KEY = base64.urlsafe_b64encode(b"q" * 32).decode()
OTHER_KEY = base64.urlsafe_b64encode(b"r" * 32).decode()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A production environment with every required variable, and nothing else that settings read."""
    read = set(re.findall(r'\b(?:env_\w+|require)\(\s*"([A-Z][A-Z0-9_]*)"', SETTINGS.read_text()))
    for key in list(os.environ):
        base = key.removesuffix("_FILE")
        if base in read or base in GOOD or key.startswith(("ANYMAIL_", "PULSE_EMAIL_", "EMAIL_")):
            monkeypatch.delenv(key)
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PULSE_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


def settings_made() -> dict[str, Any]:
    return runpy.run_path(str(SETTINGS))


def secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / f"{name.lower()}.secret"
    path.write_text(value + "\n")  # as `echo value > file` and most secret stores write it
    return path


# Each secret the settings read: the variable, a value, and where the value ends up.
SECRETS: list[tuple[str, str, Any]] = [
    ("SECRET_KEY", "from-secret-" + "abcdefghij" * 5, lambda s: s["SECRET_KEY"]),
    ("PULSE_TOKEN_KEYS", f"{KEY},{OTHER_KEY}", lambda s: s["PULSE_TOKEN_KEYS"]),
    ("DATABASE_URL", "postgres://pulse:pw-from-secret@db.internal:5432/pulse", lambda s: s["DATABASES"]),
    ("REDIS_URL", "redis://:pw-from-secret@redis.internal:6379/0", lambda s: s["CELERY_BROKER_URL"]),
    ("CELERY_BROKER_URL", "amqp://pulse:pw-from-secret@mq.internal:5672//", lambda s: s["CELERY_BROKER_URL"]),
    ("CACHE_URL", "redis://:pw-from-secret@cache.internal:6379/1", lambda s: s["CACHES"]),
    ("EMAIL_HOST_PASSWORD", "smtp-pw-from-secret", lambda s: s["EMAIL_HOST_PASSWORD"]),
    ("PULSE_METRICS_TOKEN", "m" * 12 + "etrics-from-secret", lambda s: s["PULSE_METRICS_TOKEN"]),
    ("PULSE_OIDC_CLIENT_SECRET", "oidc-secret-from-file", lambda s: s["OIDC_RP_CLIENT_SECRET"]),
    ("ANYMAIL_POSTMARK_SERVER_TOKEN", "postmark-from-secret", lambda s: s["ANYMAIL"]),
]


@pytest.mark.parametrize(("name", "value", "where"), SECRETS, ids=[name for name, _, _ in SECRETS])
@pytest.mark.parametrize("source", ["variable", "file"])
def test_a_secret_is_read_from_its_variable_and_from_its_file(
    environment: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, where: Any, source: str
) -> None:
    environment.delenv(name, raising=False)
    if source == "variable":
        environment.setenv(name, value)
    else:
        environment.setenv(f"{name}_FILE", str(secret_file(tmp_path, name, value)))
    made = settings_made()
    found = where(made)
    if name == "PULSE_TOKEN_KEYS":
        assert found == [b"q" * 32, b"r" * 32]
    elif name == "DATABASE_URL":
        assert (found["default"]["PASSWORD"], found["default"]["HOST"]) == ("pw-from-secret", "db.internal")
    elif name == "CACHE_URL":
        assert found["default"]["LOCATION"] == value
    elif name.startswith("ANYMAIL_"):
        assert found == {"POSTMARK_SERVER_TOKEN": value}
    else:
        assert found == value  # the file's trailing newline is not part of the value


def test_the_earlier_token_keys_name_is_read_from_its_file_too(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.delenv("PULSE_TOKEN_KEYS")
    environment.setenv("PULSE_BALLOT_KEYS_FILE", str(secret_file(tmp_path, "ballot", KEY)))
    assert settings_made()["PULSE_TOKEN_KEYS"] == [b"q" * 32]


def test_a_setting_that_is_no_secret_is_read_from_a_file_by_the_same_rule(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("DB_CONN_MAX_AGE_FILE", str(secret_file(tmp_path, "age", "17")))
    environment.setenv("ALLOWED_HOSTS_FILE", str(secret_file(tmp_path, "hosts", "a.example, b.example")))
    environment.delenv("ALLOWED_HOSTS")
    made = settings_made()
    assert made["DATABASES"]["default"]["CONN_MAX_AGE"] == 17
    assert made["ALLOWED_HOSTS"] == ["a.example", "b.example"]


def test_settings_read_the_environment_only_through_the_readers_that_know_files() -> None:
    """So the file rule holds for every variable, including ones added later."""
    source = SETTINGS.read_text()
    assert "os.environ" not in source
    assert "getenv" not in source


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"SECRET_KEY_FILE": "{secret}"}, "SECRET_KEY and SECRET_KEY_FILE are both set"),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret", "SECRET_KEY": None},
            "SECRET_KEY_FILE: cannot read '/nonexistent/secret'",
        ),
        ({"DB_CONN_MAX_AGE_FILE": "{ten}"}, "DB_CONN_MAX_AGE must be a whole number"),
        ({"PULSE_TOKEN_KEYS_FILE": "{short}", "PULSE_TOKEN_KEYS": None}, "PULSE_TOKEN_KEYS entry 1 must be"),
        ({"SECRET_KEY_FILE": "{short}", "SECRET_KEY": None}, "SECRET_KEY must be at least 50 characters"),
        ({"SECRET_KEY_FILE": "{empty}", "SECRET_KEY": None}, "SECRET_KEY (or SECRET_KEY_FILE) is required"),
        ({"PULSE_EMAIL_PROVIDER": "mailgunn"}, "PULSE_EMAIL_PROVIDER must be one of smtp, console, "),
        (
            {
                "PULSE_EMAIL_PROVIDER": "mailgun",
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            },
            "EMAIL_BACKEND and PULSE_EMAIL_PROVIDER are both set",
        ),
        ({"ANYMAIL_IGNORE_RECIPIENT_STATUS": "maybe"}, "ANYMAIL_IGNORE_RECIPIENT_STATUS must be a boolean"),
        ({"ANYMAIL_REQUESTS_TIMEOUT": "soon"}, "ANYMAIL_REQUESTS_TIMEOUT must be a number of seconds"),
        ({"ANYMAIL_SEND_DEFAULTS": "{tags: [1]"}, "ANYMAIL_SEND_DEFAULTS looks like JSON but is not"),
    ],
)
def test_a_malformed_value_or_source_stops_start_up_naming_the_variable(
    environment: pytest.MonkeyPatch, tmp_path: Path, given: dict[str, str | None], message: str
) -> None:
    files = {"secret": "s" * 60, "ten": "ten", "short": "too-short", "empty": ""}
    for key, value in given.items():
        if value is None:
            environment.delenv(key, raising=False)
            continue
        if value.startswith("{") and value.strip("{}") in files:
            value = str(secret_file(tmp_path, key, files[value.strip("{}")]))
        environment.setenv(key, value)
    with pytest.raises(ImproperlyConfigured) as raised:
        settings_made()
    assert message in str(raised.value)


def test_a_provider_s_api_is_configured_from_the_environment(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("PULSE_EMAIL_PROVIDER", "mailgun")
    environment.setenv("ANYMAIL_MAILGUN_API_KEY_FILE", str(secret_file(tmp_path, "mailgun", "key-123")))
    environment.setenv("ANYMAIL_MAILGUN_SENDER_DOMAIN", "mg.example.org")
    environment.setenv("ANYMAIL_MAILGUN_API_URL", "https://api.eu.mailgun.net/v3")
    environment.setenv("ANYMAIL_IGNORE_UNSUPPORTED_FEATURES", "true")
    environment.setenv("ANYMAIL_REQUESTS_TIMEOUT", "7.5")
    environment.setenv("ANYMAIL_SEND_DEFAULTS", '{"tags": ["pulse"]}')
    made = settings_made()
    assert made["EMAIL_BACKEND"] == "anymail.backends.mailgun.EmailBackend"
    assert made["ANYMAIL"] == {
        "MAILGUN_API_KEY": "key-123",
        "MAILGUN_SENDER_DOMAIN": "mg.example.org",
        "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3",
        "IGNORE_UNSUPPORTED_FEATURES": True,
        "REQUESTS_TIMEOUT": 7.5,
        "SEND_DEFAULTS": {"tags": ["pulse"]},
    }


@pytest.mark.parametrize(
    ("provider", "backend"),
    [
        ("", "django.core.mail.backends.smtp.EmailBackend"),  # production's default
        ("smtp", "django.core.mail.backends.smtp.EmailBackend"),
        ("console", "django.core.mail.backends.console.EmailBackend"),
        ("postmark", "anymail.backends.postmark.EmailBackend"),
        ("amazon_ses", "anymail.backends.amazon_ses.EmailBackend"),
    ],
)
def test_the_provider_names_the_backend(environment: pytest.MonkeyPatch, provider: str, backend: str) -> None:
    if provider:
        environment.setenv("PULSE_EMAIL_PROVIDER", provider)
    assert settings_made()["EMAIL_BACKEND"] == backend


def test_every_provider_offered_is_a_backend_anymail_has() -> None:
    providers = anymail_providers()
    assert {"mailgun", "postmark", "sendgrid", "amazon_ses", "brevo"} <= set(providers)
    assert not {"base", "base_requests", "test", "console"} & set(providers)
    for provider in providers:
        if provider != "amazon_ses":  # needs boto3, which the lock leaves out (docs/operations.md §9)
            __import__(f"anymail.backends.{provider}")  # each name leads to an importable module


@pytest.mark.django_db
def test_a_message_goes_out_through_a_provider_s_api(
    settings: Any, environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The settings the environment makes drive anymail's real Postmark backend; its HTTP call is answered
    by a local server that records what it was sent."""
    import http.server
    import json
    import threading

    from django.core.mail import send_mail

    received: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    class Postmark(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, dict(self.headers), body))
            answer = json.dumps({"To": body["To"], "ErrorCode": 0, "MessageID": "abc-1", "Message": "OK"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Postmark)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        environment.setenv("PULSE_EMAIL_PROVIDER", "postmark")
        environment.setenv("ANYMAIL_POSTMARK_SERVER_TOKEN_FILE", str(secret_file(tmp_path, "pm", "pm-token")))
        environment.setenv("ANYMAIL_POSTMARK_API_URL", f"http://127.0.0.1:{server.server_port}/")
        made = settings_made()
        settings.EMAIL_BACKEND = made["EMAIL_BACKEND"]
        settings.ANYMAIL = made["ANYMAIL"]
        assert send_mail("Check-in", "Your check-in", "pulse@example.org", ["ana@example.org"]) == 1
    finally:
        server.shutdown()
        server.server_close()
    [(path, headers, body)] = received
    assert path == "/email"
    assert headers["X-Postmark-Server-Token"] == "pm-token"
    assert (body["To"], body["Subject"], body["TextBody"]) == ("ana@example.org", "Check-in", "Your check-in")


def test_a_generated_secret_that_another_process_wrote_first_is_the_one_used(tmp_path: Path) -> None:
    """gunicorn's workers start at once on a fresh checkout: the one that finds the file already created
    between its look and its write takes the file's secret instead of failing to boot."""
    from config.env import generated_secret

    path = tmp_path / "var" / "secret_key"

    def the_other_process_wins() -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("theirs\n")
        return "ours"

    assert generated_secret(path, the_other_process_wins) == "theirs"
    assert path.read_text() == "theirs\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no candidate left behind


def _generate_in_a_process(path: str) -> str:
    from config.env import generated_secret

    return generated_secret(Path(path))


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "var" / "secret_key"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        values = pool.map(_generate_in_a_process, [str(path)] * 24)
    assert len(set(values)) == 1
    assert values[0] == path.read_text().strip()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
