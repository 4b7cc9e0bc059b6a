"""Delivering an outbox row: what a failure means, how long a failed row waits, how a sender claims rows.

Every outbox in Pulse follows these rules: the check-in emails (``surveys.services.emails``, from the
invitation rows), the flag notifications and the sign-in emails (``pulse.services.notifications`` and
``pulse.services.auth_emails``, which may import this module; ``surveys`` never imports ``pulse``).

* A transport reports a failure as :class:`PermanentFailure` (sending again cannot help: the row is
  recorded as failed) or :class:`TemporaryFailure` (it may work later: the row backs off and is retried).
* Over SMTP (:func:`smtp_failure`): a 5xx reply, or a refused recipient with only 5xx codes, is permanent
  (the mailbox does not exist or refuses us for good); 4xx replies (greylisting, a full mailbox), dropped
  connections and time-outs are temporary.
* Through a provider's API (django-anymail, ``PULSE_EMAIL_PROVIDER``): a recipient the provider refuses or
  an address it cannot use is permanent; any other error of the provider (an HTTP error, a rejected API
  key, a time-out) is temporary, so messages wait out an outage or a key being replaced.
* A temporary failure waits :func:`backoff`: doubling with each attempt, never longer than a cap, so a row
  that failed often is still retried within hours rather than days.
* A sender claims rows with one conditional UPDATE that writes a fresh claim id on rows that are due and
  unclaimed (or whose claim expired) (:func:`unclaimed`, :func:`rows_claim`), and then works only on rows
  carrying its id. On PostgreSQL the UPDATE re-checks its condition on a row another sender has just
  claimed, so no row is claimed twice; no lock is held while sending.
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from anymail.exceptions import AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Model, Q, QuerySet

#: What sending may raise besides a reply: time-outs, dropped and refused connections, and a provider API's
#: errors (anymail's, for any backend it provides).
SMTP_ERRORS = (TimeoutError, smtplib.SMTPException, OSError, AnymailError)
#: The longest a failed row waits before its next attempt.
MAX_BACKOFF = timedelta(hours=6)


class DeliveryFailure(Exception):
    """A message was not delivered. ``permanent``: whether sending it again could ever help."""

    permanent = False


class PermanentFailure(DeliveryFailure):
    permanent = True


class TemporaryFailure(DeliveryFailure):
    permanent = False


def smtp_failure(error: Exception) -> DeliveryFailure:
    """What an exception raised while sending over SMTP means for the row (see the module docstring).

    The reason names the reply codes or the kind of error, never an address or the message."""
    if isinstance(error, AnymailRecipientsRefused | AnymailInvalidAddress):
        return PermanentFailure(f"provider: {type(error).__name__}")
    if isinstance(error, AnymailError):
        status = f" HTTP {error.status_code}" if error.status_code else ""
        return TemporaryFailure(f"provider: {type(error).__name__}{status}")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _message in error.recipients.values()})
        permanent = all(500 <= code < 600 for code in codes)
        reason = f"recipient refused: {', '.join(str(code) for code in codes)}"
        return PermanentFailure(reason) if permanent else TemporaryFailure(reason)
    if isinstance(error, smtplib.SMTPResponseException):
        reason = f"SMTP {error.smtp_code}"
        return PermanentFailure(reason) if 500 <= error.smtp_code < 600 else TemporaryFailure(reason)
    return TemporaryFailure(type(error).__name__)


def message_send(connection: BaseEmailBackend, message: EmailMessage) -> None:
    """Send one message over an open connection; raise :class:`PermanentFailure` or
    :class:`TemporaryFailure` if it was not accepted."""
    try:
        delivered = connection.send_messages([message])
    except SMTP_ERRORS as error:
        raise smtp_failure(error) from None
    if not delivered and not getattr(connection, "fail_silently", False):
        raise TemporaryFailure("the email backend sent nothing")


def backoff(
    attempts: int, *, first: timedelta = timedelta(minutes=2), cap: timedelta = MAX_BACKOFF
) -> timedelta:
    """How long a row waits after its ``attempts``-th failed attempt: ``first``, then twice as long after
    each further failure (2, 4, 8… minutes by default), never longer than ``cap``."""
    return min(first * (1 << max(attempts - 1, 0)), cap)  # 1 << n: 2 to the n, as an int


def retry_wait(
    failure: DeliveryFailure,
    attempts: int,
    *,
    max_attempts: int,
    first: timedelta = timedelta(minutes=2),
    cap: timedelta = MAX_BACKOFF,
) -> timedelta | None:
    """How long a row waits after its ``attempts``-th failed attempt (:func:`backoff`), or None when it is
    given up: the failure is permanent, or that was the last of ``max_attempts``."""
    if failure.permanent or attempts >= max_attempts:
        return None
    return backoff(attempts, first=first, cap=cap)


def unclaimed(now: datetime, *, until_field: str = "claimed_until") -> Q:
    """Rows no sender holds at ``now``: never claimed, or their claim has expired."""
    return Q(**{f"{until_field}__isnull": True}) | Q(**{f"{until_field}__lt": now})


def rows_claim(
    rows: QuerySet[Any],
    *,
    until: datetime,
    claim_field: str = "claim",
    until_field: str = "claimed_until",
) -> uuid.UUID:
    """Claim ``rows`` for one sender until ``until``: one conditional UPDATE writing a fresh claim id.

    ``rows`` must carry the whole condition (due, pending, :func:`unclaimed`) on the rows' own columns: a
    condition through a join makes Django write ``WHERE id IN (SELECT …)``, which PostgreSQL does not
    re-check against a row a concurrent sender has just claimed. Returns the claim id; the rows carrying it
    are this sender's (fewer than asked for when another sender was quicker)."""
    claim = uuid.uuid4()
    rows.update(**{claim_field: claim, until_field: until})
    return claim


OutboxRow = TypeVar("OutboxRow", bound=Model)


def due_rows_claim(
    model: type[OutboxRow],
    *,
    now: datetime,
    batch: int,
    claim_for: timedelta,
    related: Sequence[str] = (),
) -> tuple[uuid.UUID, list[OutboxRow]]:
    """Claim up to ``batch`` of an outbox's pending rows due at ``now``, the oldest first, for ``claim_for``
    (:func:`rows_claim`); returns the claim and the rows it won, with ``related`` selected. The outbox has
    ``status`` (``"pending"`` until sent), ``due_at``, ``claim`` and ``claimed_until``."""
    rows = model._default_manager
    pending = Q(status="pending", due_at__lte=now)
    candidates = list(
        rows.filter(unclaimed(now), pending).order_by("due_at", "pk").values_list("pk", flat=True)[:batch]
    )
    if not candidates:
        return uuid.uuid4(), []
    claim = rows_claim(rows.filter(unclaimed(now), pending, pk__in=candidates), until=now + claim_for)
    return claim, list(rows.filter(claim=claim).select_related(*related).order_by("due_at", "pk"))
