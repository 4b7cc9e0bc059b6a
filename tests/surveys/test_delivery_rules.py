"""The rules every outbox shares (surveys.services.delivery): what an SMTP error means, how long to wait."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest

from surveys.services.delivery import (
    MAX_BACKOFF,
    PermanentFailure,
    TemporaryFailure,
    backoff,
    retry_wait,
    smtp_failure,
)


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), PermanentFailure, "550"),
        (
            smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no"), "b@example.org": (451, b"later")}),
            TemporaryFailure,
            "451, 550",
        ),
        (smtplib.SMTPDataError(554, b"rejected"), PermanentFailure, "SMTP 554"),
        (smtplib.SMTPDataError(421, b"busy"), TemporaryFailure, "SMTP 421"),
        (smtplib.SMTPServerDisconnected("gone"), TemporaryFailure, "SMTPServerDisconnected"),
        (TimeoutError(), TemporaryFailure, "TimeoutError"),
        (ConnectionRefusedError(), TemporaryFailure, "ConnectionRefusedError"),
    ],
)
def test_smtp_errors_are_permanent_only_when_every_code_is_5xx(
    error: Exception, kind: type[Exception], reason: str
) -> None:
    failure = smtp_failure(error)
    assert type(failure) is kind
    assert failure.permanent is (kind is PermanentFailure)
    assert str(failure).endswith(reason)
    assert "example.org" not in str(failure)  # the reason never names an address


def test_backoff_doubles_from_its_first_wait_and_stops_at_the_cap() -> None:
    assert [backoff(attempts) for attempts in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert backoff(1, first=timedelta(minutes=1)) == timedelta(minutes=1)
    assert backoff(20) == MAX_BACKOFF
    assert backoff(7, first=timedelta(minutes=1), cap=timedelta(hours=1)) == timedelta(hours=1)


def test_a_row_is_given_up_on_a_permanent_failure_or_after_its_last_attempt() -> None:
    temporary, permanent = TemporaryFailure("SMTP 421"), PermanentFailure("SMTP 550")
    assert retry_wait(temporary, 1, max_attempts=3) == timedelta(minutes=2)
    assert retry_wait(temporary, 2, max_attempts=3) == timedelta(minutes=4)
    assert retry_wait(temporary, 3, max_attempts=3) is None
    assert retry_wait(permanent, 1, max_attempts=3) is None
    assert retry_wait(temporary, 9, max_attempts=99, cap=timedelta(hours=1)) == timedelta(hours=1)
