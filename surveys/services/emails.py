"""Send the invitation and reminder emails that are due: claim a batch, send it over one connection, record.

A batch is claimed by writing a fresh claim id onto pending, unclaimed (or claim-expired) rows in one
conditional UPDATE; only rows carrying that id are sent. On PostgreSQL an UPDATE re-checks its WHERE clause
on rows another transaction changed meanwhile, so two senders never claim the same row. Rows are marked
sent after the batch, so a crash resends at most the batch in flight, never everything.

Failures: a refused recipient or a 5xx answer is permanent (recorded, not retried); a dropped connection,
a time-out or a 4xx answer is temporary (retried with exponential backoff, at most ``MAX_ATTEMPTS`` times).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.core.mail.utils import DNS_NAME
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from surveys.models import OutgoingEmail, Participation, Round
from surveys.sealing import KeyRing, SealError, open_token

logger = logging.getLogger(__name__)

SEND_BATCH = 200
CLAIM_FOR = timedelta(minutes=10)
MAX_ATTEMPTS = 6
SUPPORTED_LOCALES = {"en", "de"}


class PermanentFailure(Exception):
    pass


class TemporaryFailure(Exception):
    pass


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    to: str


def checkin_url(token: str) -> str:
    return settings.PULSE_BASE_URL + reverse("checkin", args=[token])


# Placeholders for the two parts that differ per recipient. Letters and digits only, so HTML escaping leaves
# them intact; the real values are escaped for the HTML part when they are put in.
NAME_MARK = "PulseRecipientName7f3a"
TOKEN_MARK = "PulseCheckinToken7f3a"  # noqa: S105 - a placeholder, not a secret
RenderCache = dict[tuple[object, ...], tuple[str, str, str]]


def _locale_of(email: OutgoingEmail) -> str:
    person = email.invitation.person
    locale = person.locale or person.organisation.locale
    return locale if locale in SUPPORTED_LOCALES else "en"


def render_key(email: OutgoingEmail) -> tuple[object, ...]:
    """What a rendered message depends on, besides the recipient's name and link."""
    person = email.invitation.person
    round_ = email.invitation.round
    return (
        round_.pk,
        email.kind,
        _locale_of(email),
        person.time_zone or round_.time_zone,
        person.organisation_id,
    )


def email_render(email: OutgoingEmail, *, token: str, cache: RenderCache | None = None) -> RenderedEmail:
    """The message in the recipient's language: short, kind, one link, one line on anonymity.

    A batch of a round's emails shares everything but the name and the link, so each (round, kind,
    language, time zone) is rendered once with placeholders and filled in per recipient; rendering is the
    cost that dominates sending (``pulse_bench email``).
    """
    invitation = email.invitation
    person = invitation.person
    round_ = invitation.round
    locale = _locale_of(email)
    zone_name = person.time_zone or round_.time_zone
    key = render_key(email)
    cache = {} if cache is None else cache
    if key not in cache:
        context = {
            "name": NAME_MARK,
            "url": checkin_url(TOKEN_MARK),
            "closes": round_.closes_at,
            "reminder": email.kind == OutgoingEmail.Kind.REMINDER,
            "protect_url": settings.PULSE_BASE_URL + reverse("privacy"),
            "organisation": person.organisation.name,
            "k": person.organisation.min_group_size,
        }
        # Dates are shown in the recipient's own zone: the template filters localise to the active zone.
        with translation.override(locale), timezone.override(ZoneInfo(zone_name)):
            cache[key] = (
                render_to_string(f"surveys/email/subject.{locale}.txt", context).strip(),
                render_to_string(f"surveys/email/checkin.{locale}.txt", context),
                render_to_string(f"surveys/email/checkin.{locale}.html", context),
            )
    subject, text, html = cache[key]
    return RenderedEmail(
        subject=subject,
        text=text.replace(NAME_MARK, person.display_name).replace(TOKEN_MARK, token),
        html=html.replace(NAME_MARK, str(escape(person.display_name))).replace(TOKEN_MARK, token),
        to=person.email,
    )


def emails_claim(*, now: datetime, batch: int = SEND_BATCH) -> tuple[uuid.UUID, list[Any]]:
    claim = uuid.uuid4()
    candidates = list(
        OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING, due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch]
    )
    if not candidates:
        return claim, []
    OutgoingEmail.objects.filter(pk__in=candidates, status=OutgoingEmail.Status.PENDING).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ).update(claimed_until=now + CLAIM_FOR, claim=claim)
    rows = list(
        OutgoingEmail.objects.filter(pk__in=candidates, claim=claim)
        .select_related("invitation__person__organisation", "invitation__round")
        .annotate(
            answered=Exists(
                Participation.objects.filter(
                    round_id=OuterRef("invitation__round_id"), person_id=OuterRef("invitation__person_id")
                )
            )
        )
    )
    return claim, rows


def emails_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Send one batch of due emails. Returns how many were sent."""
    moment = now or timezone.now()
    _claim, rows = emails_claim(now=moment, batch=batch)
    if not rows:
        return 0
    ring = KeyRing.from_settings()
    cache: RenderCache = {}
    sent: list[int] = []
    skipped: list[int] = []
    connection = get_connection()
    fast_path = SmtpFastPath(connection, cache)
    try:
        connection.open()
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        # The mail server is unreachable: the batch backs off instead of waiting for its claim to expire.
        for email in rows:
            _record_failure(email, TemporaryFailure(f"cannot connect: {type(error).__name__}"), moment)
        logger.warning(
            "emails: cannot reach the mail server (%s); %s emails back off", type(error).__name__, len(rows)
        )
        return 0
    try:
        for email in rows:
            invitation = email.invitation
            if (
                getattr(email, "answered", False)
                or invitation.spent
                or invitation.round.status != Round.Status.OPEN
                or invitation.expires_at <= moment
                or not invitation.person.is_active
                or invitation.sealed_token is None
            ):
                skipped.append(email.pk)
                continue
            try:
                token = open_token(ring, bytes(invitation.sealed_token))
            except SealError:
                _record_failure(
                    email, PermanentFailure("the link's key is no longer in the key ring"), moment
                )
                continue
            try:
                if not fast_path.send(email, token):
                    rendered = email_render(email, token=token, cache=cache)
                    _send(connection, _message(rendered, connection))
            except (PermanentFailure, TemporaryFailure) as failure:
                _record_failure(email, failure, moment)
                if isinstance(failure, TemporaryFailure):
                    connection.close()
                    connection.open()
                continue
            sent.append(email.pk)
    finally:
        connection.close()
        OutgoingEmail.objects.filter(pk__in=sent).update(
            status=OutgoingEmail.Status.SENT, claimed_until=None, claim=None
        )
        OutgoingEmail.objects.filter(pk__in=skipped).update(
            status=OutgoingEmail.Status.SKIPPED, claimed_until=None, claim=None
        )
    logger.info("emails: %s sent, %s skipped", len(sent), len(skipped))
    return len(sent)


def _message(rendered: RenderedEmail, connection: BaseEmailBackend | None = None) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        rendered.subject, rendered.text, settings.DEFAULT_FROM_EMAIL, [rendered.to], connection=connection
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


class SmtpFastPath:
    """Send a round's emails over Django's SMTP backend without rebuilding MIME for every recipient.

    Building and flattening a MIME message with Python's ``email`` package costs about twice what sending
    it does (measured by ``pulse_bench email``). The messages of one (round, kind, language, time zone)
    differ only in the name, the link, the address and the Message-ID, so Django builds the message once
    with placeholders and each recipient's copy is that message with the placeholders replaced. Any case the
    template cannot serve exactly (another backend, a non-ASCII address, a part Django chose to encode as
    quoted-printable or base64) goes the ordinary way.
    """

    ADDRESS_MARK = "pulse-recipient-7f3a@pulse.invalid"
    HTML_NAME_MARK = "PulseRecipientHtmlName7f3a"
    MESSAGE_ID_MARK = "<PulseMessageId7f3a@pulse.invalid>"

    def __init__(self, connection: BaseEmailBackend, cache: RenderCache) -> None:
        self.connection = connection
        self.cache = cache
        self.prototypes: dict[tuple[object, ...], bytes | None] = {}
        self.enabled = isinstance(connection, SmtpEmailBackend)

    def _prototype(self, key: tuple[object, ...]) -> bytes | None:
        if key not in self.prototypes:
            subject, text, html = self.cache[key]
            html = html.replace(NAME_MARK, self.HTML_NAME_MARK)
            message = _message(RenderedEmail(subject, text, html, self.ADDRESS_MARK))
            message.extra_headers["Message-ID"] = self.MESSAGE_ID_MARK
            raw: bytes = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]
            # 8bit is a valid label for ASCII text too, and the filled-in name may not be ASCII.
            raw = raw.replace(b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit")
            marks = (NAME_MARK, self.HTML_NAME_MARK, TOKEN_MARK, self.ADDRESS_MARK, self.MESSAGE_ID_MARK)
            self.prototypes[key] = raw if all(mark.encode() in raw for mark in marks) else None
        return self.prototypes[key]

    def send(self, email: OutgoingEmail, token: str) -> bool:
        """Send through the template if it serves this email exactly; False means: send it the usual way."""
        if not self.enabled:
            return False
        person = email.invitation.person
        if not person.email.isascii() or getattr(self.connection, "connection", None) is None:
            return False
        rendered_once = email_render(email, token=token, cache=self.cache)  # fills the cache; cheap after
        key = render_key(email)
        prototype = self._prototype(key)
        if prototype is None:
            return False
        name = " ".join(person.display_name.split())
        raw = (
            prototype.replace(NAME_MARK.encode(), name.encode())
            .replace(self.HTML_NAME_MARK.encode(), str(escape(name)).encode())
            .replace(TOKEN_MARK.encode(), token.encode())
            .replace(self.ADDRESS_MARK.encode(), rendered_once.to.encode())
            .replace(self.MESSAGE_ID_MARK.encode(), make_msgid(domain=DNS_NAME).encode())
        )
        smtp = self.connection.connection  # type: ignore[attr-defined]
        try:
            smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [rendered_once.to], raw)
        except smtplib.SMTPServerDisconnected as error:
            raise TemporaryFailure(type(error).__name__) from None
        except smtplib.SMTPRecipientsRefused as error:
            permanent = all(500 <= code < 600 for code, _message in error.recipients.values())
            raise (PermanentFailure if permanent else TemporaryFailure)(
                f"recipient refused: {_smtp_reason(error)}"
            ) from None
        except smtplib.SMTPResponseException as error:
            failure = PermanentFailure if 500 <= error.smtp_code < 600 else TemporaryFailure
            raise failure(f"SMTP {error.smtp_code}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(type(error).__name__) from None
        return True


def _send(connection: BaseEmailBackend, message: EmailMultiAlternatives) -> None:
    try:
        delivered = connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        # 5xx: the mailbox does not exist or refuses us for good; 4xx (greylisting, a full mailbox): later.
        permanent = all(500 <= code < 600 for code, _message in error.recipients.values())
        failure = PermanentFailure if permanent else TemporaryFailure
        raise failure(f"recipient refused: {_smtp_reason(error)}") from None
    except smtplib.SMTPResponseException as error:
        failure = PermanentFailure if 500 <= error.smtp_code < 600 else TemporaryFailure
        raise failure(f"SMTP {error.smtp_code}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(type(error).__name__) from None
    if delivered == 0 and not getattr(connection, "fail_silently", False):
        raise TemporaryFailure("the backend sent nothing")


def _smtp_reason(error: smtplib.SMTPRecipientsRefused) -> str:
    codes = sorted({code for code, _message in error.recipients.values()})
    return ", ".join(str(code) for code in codes)


def _record_failure(email: OutgoingEmail, failure: Exception, moment: datetime) -> None:
    attempts = email.attempts + 1
    if isinstance(failure, PermanentFailure) or attempts >= MAX_ATTEMPTS:
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=OutgoingEmail.Status.FAILED,
            attempts=attempts,
            claimed_until=None,
            last_error=str(failure)[:500],
        )
        logger.warning("email %s failed permanently: %s", email.pk, failure)
        return
    backoff = timedelta(minutes=2**attempts)
    OutgoingEmail.objects.filter(pk=email.pk).update(
        attempts=attempts, due_at=moment + backoff, claimed_until=None, last_error=str(failure)[:500]
    )
    logger.info("email %s failed (attempt %s), retrying in %s: %s", email.pk, attempts, backoff, failure)
