"""The outbox of signing in: sign-in links and email-change messages, queued in the request, sent later.

Detect, then deliver (docs/architecture.md §5; the same shape as ``pulse.services.notifications``, whose rows
belong to flag events and so cannot carry these). A request writes one ``AuthEmail`` row and nothing else:
asking for a sign-in link costs one INSERT whether or not the address belongs to anyone, and answers at once
whether or not the mail server is up, so neither its answer nor its time tells whether the address is known.
On commit a worker is woken to send it within seconds; if the broker is down, the minute tick's step
(:func:`auth_emails_send_due`) sends it within a minute.

Delivery claims due rows by conditional UPDATE (a fresh claim id on pending rows that are unclaimed or
whose claim expired), builds each row's messages (a sign-in link looks the address up and mints the
token now, so no row ever holds a usable link), sends them over one connection and marks the row. A
temporary failure (refused connection, time-out, 4xx) backs the row off exponentially and the rest of the
batch with it, without trying each against a dead server; a permanent one (5xx, a refused mailbox) or the
last attempt marks it failed. A sign-in link not sent within ``SIGN_IN_LINK_GIVE_UP`` is dropped: whoever
asked has asked again or gone. Handled rows are deleted after ``KEEP_HANDLED``, so typed addresses are not
kept.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_stubs_ext import StrOrPromise

from pulse import transports
from pulse.models.auth import AuthEmail, EmailChange
from surveys.models import DeliveryCount
from surveys.services.delivery import (
    DeliveryFailure,
    TemporaryFailure,
    due_rows_claim,
    retry_wait,
)
from surveys.services.operations import delivery_count_add

logger = logging.getLogger(__name__)

SEND_BATCH = 50
CLAIM_FOR = timedelta(minutes=10)  # a batch of 50 at the transport's 10 s time-out fits
MAX_ATTEMPTS = 6
MAX_BACKOFF = timedelta(hours=1)  # a sign-in link is no use much later
SIGN_IN_LINK_GIVE_UP = timedelta(minutes=30)
KEEP_HANDLED = timedelta(days=7)


@dataclass(frozen=True)
class Outgoing:
    """One email, built at delivery: its text and its HTML part, from one template pair."""

    to: str
    subject: str
    body: str
    html: str


def outgoing(
    *, to: str, subject: StrOrPromise, template: str, context: dict[str, Any], language: str
) -> Outgoing:
    """The email of a template pair, ``<template>.txt`` (autoescape off) and ``<template>.html``, and its
    subject, in the recipient's ``language``: one template per message (docs/languages.md §4)."""
    with translation.override(language):
        return Outgoing(
            to=to,
            subject=str(subject),
            body=render_to_string(f"{template}.txt", context),
            html=render_to_string(f"{template}.html", context),
        )


def token_digest(token: str) -> bytes:
    """The stored form of an emailed token: its SHA-256 (256 random bits leave nothing to brute-force)."""
    return hashlib.sha256(token.encode()).digest()


def auth_email_queue(
    *,
    kind: AuthEmail.Kind,
    address: str,
    email_change: EmailChange | None = None,
    now: datetime | None = None,
) -> AuthEmail:
    """Queue one email in the caller's transaction; a worker is woken when it commits."""
    moment = now or timezone.now()
    row = AuthEmail.objects.create(
        kind=kind, address=address[:254], email_change=email_change, due_at=moment, created_at=moment
    )
    transaction.on_commit(_wake_worker)
    return row


def _wake_worker() -> None:
    # By name: a service enqueues a task without importing the task layer above it.
    try:
        current_app.send_task("pulse.tasks.send_auth_emails", retry=False)
    except Exception as error:  # the broker is down: the minute tick sends it instead
        logger.warning("auth emails: cannot wake a worker (%s); the tick will send", type(error).__name__)


def auth_emails_claim(*, now: datetime, batch: int = SEND_BATCH) -> tuple[uuid.UUID, list[AuthEmail]]:
    return due_rows_claim(
        AuthEmail, now=now, batch=batch, claim_for=CLAIM_FOR, related=("email_change__person",)
    )


def _messages(row: AuthEmail, now: datetime) -> list[Outgoing]:
    """What this row sends now: nothing when there is no one (left) to send it to."""
    # Imported here: those modules queue their emails through this one.
    from pulse.auth import login_link_message, people_who_can_sign_in
    from pulse.services.email_changes import email_change_confirm_message, email_change_notice_message

    if row.kind == AuthEmail.Kind.SIGN_IN_LINK:
        # To the person's own stored (verified) address, never to the spelling someone typed.
        return [
            login_link_message(person=person, now=now) for person in people_who_can_sign_in(email=row.address)
        ]
    change = row.email_change
    if change is None:
        return []
    if row.kind == AuthEmail.Kind.EMAIL_CONFIRM:
        message = email_change_confirm_message(change=change, now=now)
        return [message] if message is not None else []
    return [email_change_notice_message(change=change)]


def auth_emails_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Tick step (and the woken worker's task): send one batch. Returns how many rows were sent."""
    moment = now or timezone.now()
    AuthEmail.objects.filter(handled_at__lt=moment - KEEP_HANDLED).delete()
    claim, rows = auth_emails_claim(now=moment, batch=batch)
    if not rows:
        return 0
    sent = 0
    email = transports.EmailTransport()
    tally: Counter[str] = Counter()  # outcome → emails, for /metrics
    try:
        for index, row in enumerate(rows):
            if row.kind == AuthEmail.Kind.SIGN_IN_LINK and row.created_at < moment - SIGN_IN_LINK_GIVE_UP:
                _finish(row, claim, moment, AuthEmail.Status.FAILED, "not sent in time; dropped")
                tally[DeliveryCount.Outcome.FAILED] += 1
                continue
            try:
                messages = _messages(row, moment)
                for message in messages:
                    email.send(to=message.to, subject=message.subject, body=message.body, html=message.html)
            except DeliveryFailure as failure:
                tally[_record_failure(row, claim, failure, moment)] += 1
                if not failure.permanent:
                    # The server is down or refusing for now: the rest of the batch waits with this row.
                    for waiting in rows[index + 1 :]:
                        tally[_record_failure(waiting, claim, failure, moment)] += 1
                    break
                continue
            except Exception as error:  # a poisoned row must not wedge the loop
                logger.exception("auth email %s: unexpected error", row.pk)
                tally[_record_failure(row, claim, TemporaryFailure(type(error).__name__), moment)] += 1
                continue
            status = AuthEmail.Status.SENT if messages else AuthEmail.Status.NOTHING
            _finish(row, claim, moment, status, "")
            sent += 1 if messages else 0
            tally[DeliveryCount.Outcome.SENT] += len(messages)
    finally:
        email.close()
        delivery_count_add(transport=DeliveryCount.Transport.SIGN_IN_EMAIL, counts=tally)
    return sent


def _finish(row: AuthEmail, claim: uuid.UUID, moment: datetime, status: str, error: str) -> None:
    AuthEmail.objects.filter(pk=row.pk, claim=claim).update(
        status=status, handled_at=moment, claim=None, claimed_until=None, last_error=error
    )


def _record_failure(row: AuthEmail, claim: uuid.UUID, failure: DeliveryFailure, moment: datetime) -> str:
    """Record a failed try; returns whether it failed for good or backs off (``DeliveryCount.Outcome``)."""
    attempts = row.attempts + 1
    reason = str(failure)[:500]
    wait = retry_wait(
        failure, attempts, max_attempts=MAX_ATTEMPTS, first=timedelta(minutes=1), cap=MAX_BACKOFF
    )
    if wait is None:
        _finish(row, claim, moment, AuthEmail.Status.FAILED, reason)
        logger.warning("auth email %s (%s) failed for good: %s", row.pk, row.kind, reason)
        return DeliveryCount.Outcome.FAILED
    AuthEmail.objects.filter(pk=row.pk, claim=claim).update(
        attempts=F("attempts") + 1, due_at=moment + wait, claim=None, claimed_until=None, last_error=reason
    )
    logger.info("auth email %s failed (attempt %s), retry in %s: %s", row.pk, attempts, wait, reason)
    return DeliveryCount.Outcome.RETRIED
