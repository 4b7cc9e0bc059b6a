"""Send the invitation and reminder emails that are due: claim a batch, send it over one connection, record.

The invitation row is the outbox (``surveys.models.Invitation``): its messages' due times were frozen when
the round opened, ``email_due_at`` says when the next one is due and ``emails_handled`` which one it is.
A batch is claimed by writing a fresh claim id onto due, unclaimed (or claim-expired) rows in one
conditional UPDATE; only rows carrying that id are sent. On PostgreSQL an UPDATE re-checks its WHERE clause
on rows another transaction changed meanwhile, so two senders never claim the same row. The sender holds
its claim while it works: it extends the claim on the rows it has not sent yet every ``EXTEND_EVERY``, and
goes on only with the rows it still holds, so a slow mail server never lets a second sender take a batch
over and send it again. Accepted messages are recorded as sent within a second or ten messages, and only
while the row still carries this sender's claim, so a sender killed mid-batch resends at most those few
(one, with a slow mail server; and the claim is short, ``CLAIM_FOR``: the rest waits minutes, not ten), and
a sender whose claim expired cannot mark a message twice. Every message has a stable Message-ID per
invitation and message (``message_id``), so a receiving server can drop even those duplicates. Marking a
message handled moves the row on to its next message's frozen due time (or to nothing).

Failures (``surveys.services.delivery``, the rules every outbox shares): a refused recipient or a 5xx
answer is permanent (recorded, not retried); a dropped connection, a time-out or a 4xx answer is temporary
(retried with exponential backoff, at most ``MAX_ATTEMPTS`` times).
Either way the row then moves on to its next message. A message is skipped, not sent, when the person has
answered, the link is spent, the round has closed or expired, or the person is no longer active.

Quiet hours are checked again when a message is sent, on the recipient's clock with the schedule's quiet
hours as they are now: a message that became sendable late (a backlog, an outage, a retry) inside them is
moved to their end (``emails_defer``, one UPDATE per batch), never sent at night; a link the person asked
for again (``resend``) goes out at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.core.mail.utils import DNS_NAME
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from surveys import cadence
from surveys.language import language_of
from surveys.models import DeliveryCount, Invitation, Participation, Round, Team
from surveys.sealing import KeyRing, SealError, open_token
from surveys.services.checkin_channels import slack_only_people
from surveys.services.delivery import (
    SMTP_ERRORS,
    PermanentFailure,
    TemporaryFailure,
    backoff,
    message_send,
    rows_claim,
    smtp_failure,
    unclaimed,
)
from surveys.services.email_pause import pause_token, pause_url
from surveys.services.operations import delivery_count_add
from surveys.validators import single_line

logger = logging.getLogger(__name__)

SEND_BATCH = 200
# A claim lasts this long unless its sender extends it; a sender extends it every EXTEND_EVERY while it
# works. CLAIM_FOR must exceed EXTEND_EVERY plus the longest one message can take (EMAIL_TIMEOUT, 10 s).
CLAIM_FOR = timedelta(minutes=2)
EXTEND_EVERY = timedelta(seconds=20)
# Accepted messages are recorded as sent in groups of at most this many, or after at most this long: a
# sender killed mid-batch resends at most that group (with a slow mail server, one message). Recording
# every message alone cost each email a round trip and a commit, six times the sending (pulse_bench email).
RECORD_EVERY_MESSAGES = 10
RECORD_EVERY_SECONDS = 1.0
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    to: str
    pause_url: str  # the List-Unsubscribe link: pauses this person's check-in emails


# RFC 8058: a mail client may unsubscribe with one POST of this body to the List-Unsubscribe link.
ONE_CLICK = "List-Unsubscribe=One-Click"


def checkin_url(token: str) -> str:
    return settings.PULSE_BASE_URL + reverse("checkin", args=[token])


# Placeholders for the two parts that differ per recipient. Letters and digits only, so HTML escaping leaves
# them intact; the real values are escaped for the HTML part when they are put in.
NAME_MARK = "PulseRecipientName7f3a"
TOKEN_MARK = "PulseCheckinToken7f3a"  # noqa: S105 - a placeholder, not a secret
PAUSE_MARK = "PulsePauseToken7f3a"
RenderCache = dict[tuple[object, ...], tuple[str, str, str]]


def is_reminder(invitation: Invitation) -> bool:
    """Whether the message now due is a reminder: the invitation itself is always the first."""
    return invitation.emails_handled > 0


def _locale_of(invitation: Invitation) -> str:
    return language_of(invitation.person)


def render_key(invitation: Invitation) -> tuple[object, ...]:
    """What the message now due depends on, besides the recipient's name and link."""
    person = invitation.person
    round_ = invitation.round
    return (
        round_.pk,
        is_reminder(invitation),
        _locale_of(invitation),
        person.time_zone or round_.time_zone,
        person.organisation_id,
    )


def email_render(invitation: Invitation, *, token: str, cache: RenderCache | None = None) -> RenderedEmail:
    """The message now due, in the recipient's language: short, kind, one link, one line on anonymity.

    A batch of a round's emails shares everything but the name and the link, so each (round, kind,
    language, time zone) is rendered once with placeholders and filled in per recipient; rendering is the
    cost that dominates sending (``pulse_bench email``).
    """
    person = invitation.person
    round_ = invitation.round
    locale = _locale_of(invitation)
    zone_name = person.time_zone or round_.time_zone
    key = render_key(invitation)
    cache = {} if cache is None else cache
    if key not in cache:
        context = {
            "name": NAME_MARK,
            "url": checkin_url(TOKEN_MARK),
            "pause_url": pause_url(PAUSE_MARK),
            "closes": round_.closes_at,
            "reminder": is_reminder(invitation),
            "protect_url": settings.PULSE_BASE_URL + reverse("privacy"),
            "organisation": person.organisation.name,
            "k": person.organisation.min_group_size,
        }
        # One template per message, rendered in the recipient's language (docs/languages.md §4); dates
        # are shown in the recipient's own zone: the template filters localise to the active zone.
        with translation.override(locale), timezone.override(ZoneInfo(zone_name)):
            cache[key] = (
                single_line(render_to_string("surveys/email/subject.txt", context)),
                render_to_string("surveys/email/checkin.txt", context),
                render_to_string("surveys/email/checkin.html", context),
            )
    subject, text, html = cache[key]
    pause = pause_token(person.pk)
    return RenderedEmail(
        subject=subject,
        text=text.replace(NAME_MARK, person.display_name)
        .replace(TOKEN_MARK, token)
        .replace(PAUSE_MARK, pause),
        html=html.replace(NAME_MARK, str(escape(person.display_name)))
        .replace(TOKEN_MARK, token)
        .replace(PAUSE_MARK, pause),
        to=person.email,
        pause_url=pause_url(pause),
    )


def message_id(invitation: Invitation) -> str:
    """The Message-ID of the message now due of this invitation: the same every time that message is sent
    (a resend after a crash, a retry), different for every other message. A keyed hash of the invitation and
    the message's place, so the header names no database row."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"pulse-email:{invitation.pk}:{invitation.emails_handled}".encode(),
        hashlib.sha256,
    ).hexdigest()[:40]
    return f"<{digest}@{DNS_NAME}>"


def message_name(number: int) -> str:
    """How logs name an invitation's messages: by their place in its sending order."""
    return "invitation" if number == 0 else f"reminder {number}"


def _unclaimed(now: datetime) -> Q:
    return unclaimed(now, until_field="email_claimed_until")


#: Reads of fresh candidates a sender makes after losing every row of a batch to other senders.
CLAIM_ATTEMPTS = 3


def emails_claim(*, now: datetime, batch: int = SEND_BATCH) -> tuple[uuid.UUID, list[Invitation]]:
    """Claim up to ``batch`` invitations whose next message is due; returns the claim id and those rows.

    Senders that read the same candidates race for them, and the conditional UPDATE gives each row to one.
    A sender that lost every row reads the next candidates instead of reporting nothing due: otherwise a
    drain would stop while the backlog lasts, and more workers would not mean more throughput."""
    claim = uuid.uuid4()
    for _attempt in range(CLAIM_ATTEMPTS):
        candidates = list(
            Invitation.objects.filter(_unclaimed(now), email_due_at__lte=now)
            .order_by("email_due_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not candidates:
            return claim, []
        claim = rows_claim(
            Invitation.objects.filter(_unclaimed(now), pk__in=candidates, email_due_at__lte=now),
            until=now + CLAIM_FOR,
            claim_field="email_claim",
            until_field="email_claimed_until",
        )
        rows: list[Invitation] = [
            *Invitation.objects.filter(pk__in=candidates, email_claim=claim)
            .select_related("person__organisation", "round__schedule")
            .annotate(
                answered=Exists(
                    Participation.objects.filter(
                        round_id=OuterRef("round_id"), person_id=OuterRef("person_id")
                    )
                )
            )
        ]
        if rows:
            return claim, rows
    return claim, []


def _handled(outcome: Invitation.EmailOutcome) -> dict[str, Any]:
    """The UPDATE that records the message now due as handled and moves the row on to its next message.

    One statement for any number of rows: the right-hand sides see the row as it was, so the CASE picks the
    due time of the message after the one just handled (null: none left)."""
    following = Invitation.EMAIL_DUE_FIELDS[1:]
    return {
        "emails_handled": F("emails_handled") + 1,
        "email_outcomes": Concat(F("email_outcomes"), Value(outcome.value)),
        "email_due_at": Case(
            *(When(emails_handled=number, then=F(field)) for number, field in enumerate(following)),
            default=Value(None),
            output_field=DateTimeField(),
        ),
        "email_attempts": 0,
        "email_claim": None,
        "email_claimed_until": None,
    }


def emails_mark_handled(ids: list[int], claim: uuid.UUID, outcome: Invitation.EmailOutcome) -> None:
    """Record the message now due of each of these claimed rows as sent or skipped, in one UPDATE."""
    if not ids:
        return
    # Still ours only: a row whose claim expired and was taken by another sender is that sender's to mark.
    Invitation.objects.filter(pk__in=ids, email_claim=claim).update(**_handled(outcome))


def emails_claim_extend(ids: list[int], claim: uuid.UUID, *, now: datetime) -> set[int]:
    """Extend this sender's claim on these rows by ``CLAIM_FOR`` from ``now``; returns the rows it still
    holds (a row whose claim expired and another sender took is no longer this sender's to send)."""
    held = Invitation.objects.filter(pk__in=ids, email_claim=claim)
    if held.update(email_claimed_until=now + CLAIM_FOR) == len(ids):
        return set(ids)
    return set(held.values_list("pk", flat=True))


def emails_skip_remaining(*, round_ids: list[int]) -> int:
    """Record every message of these rounds' invitations not yet handled as skipped: none of them is sent.
    For rounds no sender is working on (the demo's past); a claim in flight is overruled. Returns how many
    messages were skipped."""
    skipped = 0
    for _message in Invitation.EMAIL_DUE_FIELDS:
        # Each pass handles the message now due on every row that has one; rows run out after the last.
        skipped += (
            Invitation.objects.filter(round_id__in=round_ids)
            .exclude(email_due_at=None)
            .update(**_handled(Invitation.EmailOutcome.SKIPPED))
        )
    return skipped


def emails_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Send one batch of due emails. Returns how many were sent."""
    moment = now or timezone.now()
    claim, rows = emails_claim(now=moment, batch=batch)
    if not rows:
        return 0
    began = time.monotonic()
    zones = recipient_zones(rows)
    deferred: dict[int, tuple[datetime | None, ...]] = {}
    failures = Counter[str]()
    ring = KeyRing.from_settings()
    cache: RenderCache = {}
    sent: list[int] = []
    skipped: list[int] = []
    connection = get_connection()
    fast_path = SmtpFastPath(connection, cache)
    try:
        connection.open()
    except SMTP_ERRORS as error:
        # The mail server is unreachable: the batch backs off instead of waiting for its claim to expire.
        failures.update(
            _record_failure(rows, claim, TemporaryFailure(f"cannot connect: {type(error).__name__}"), moment)
        )
        delivery_count_add(transport=DeliveryCount.Transport.CHECKIN_EMAIL, counts=failures)
        logger.warning(
            "emails: cannot reach the mail server (%s); %s emails back off", type(error).__name__, len(rows)
        )
        return 0
    held = {invitation.pk for invitation in rows}
    # Asked on Slack only (surveys.services.checkin_channels): the Slack sender sends their messages.
    slack_only = slack_only_people([invitation.person_id for invitation in rows])
    extended = recorded = time.monotonic()
    unrecorded: list[int] = []
    try:
        for position, invitation in enumerate(rows):
            if time.monotonic() - extended >= EXTEND_EVERY.total_seconds():
                held = emails_claim_extend(
                    [row.pk for row in rows[position:] if row.pk in held], claim, now=timezone.now()
                )
                extended = time.monotonic()
            if invitation.pk not in held:
                continue  # another sender took it over; it is theirs to send
            if (
                getattr(invitation, "answered", False)
                or invitation.spent
                or invitation.round.status != Round.Status.OPEN
                or invitation.expires_at <= moment
                or not invitation.person.is_active
                or invitation.person.emails_paused_at is not None  # paused from a List-Unsubscribe link
                or invitation.sealed_token is None
                or invitation.person_id in slack_only
            ):
                skipped.append(invitation.pk)
                continue
            # Checked at the moment of sending (the batch may run for a while), in the recipient's zone.
            later = quiet_hours_deferral(
                invitation,
                now=moment + timedelta(seconds=time.monotonic() - began),
                zone=zones[invitation.pk],
            )
            if later is not None:
                if later[invitation.emails_handled] is None:
                    skipped.append(invitation.pk)  # quiet until the round has closed: not sent
                else:
                    deferred[invitation.pk] = later
                continue
            try:
                token = open_token(ring, bytes(invitation.sealed_token))
            except SealError:
                failures.update(
                    _record_failure(
                        [invitation],
                        claim,
                        PermanentFailure("the link's key is no longer in the key ring"),
                        moment,
                    )
                )
                continue
            try:
                if not fast_path.send(invitation, token):
                    rendered = email_render(invitation, token=token, cache=cache)
                    message = _message(rendered, connection)
                    message.extra_headers["Message-ID"] = message_id(invitation)
                    message_send(connection, message)
            except (PermanentFailure, TemporaryFailure) as failure:
                failures.update(_record_failure([invitation], claim, failure, moment))
                if isinstance(failure, TemporaryFailure):
                    connection.close()
                    connection.open()
                continue
            sent.append(invitation.pk)
            unrecorded.append(invitation.pk)
            if (
                len(unrecorded) >= RECORD_EVERY_MESSAGES
                or time.monotonic() - recorded >= RECORD_EVERY_SECONDS
            ):
                # Recorded now: a crash from here on does not send these messages again.
                emails_mark_handled(unrecorded, claim, Invitation.EmailOutcome.SENT)
                unrecorded, recorded = [], time.monotonic()
    finally:
        connection.close()
        emails_mark_handled(unrecorded, claim, Invitation.EmailOutcome.SENT)
        emails_mark_handled(skipped, claim, Invitation.EmailOutcome.SKIPPED)
        emails_defer(deferred, claim)
        delivery_count_add(
            transport=DeliveryCount.Transport.CHECKIN_EMAIL,
            counts={
                **failures,
                DeliveryCount.Outcome.SENT: len(sent),
                DeliveryCount.Outcome.DEFERRED: len(deferred),
            },
        )
    logger.info(
        "emails: %s sent, %s skipped, %s deferred for quiet hours", len(sent), len(skipped), len(deferred)
    )
    return len(sent)


def recipient_zones(rows: list[Invitation]) -> dict[int, str]:
    """Each invitation's recipient zone, by the rule its due times were computed with at open
    (``rounds.roster_for``): the person's own, else their first team's in the round, else the organisation's.
    One query for the teams of the batch's people who have no zone of their own (none if all have one)."""
    team_ids = {row.teams[0] for row in rows if not row.person.time_zone and row.teams}
    team_zones = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "time_zone")) if team_ids else {}
    return {
        row.pk: row.person.time_zone
        or (team_zones.get(row.teams[0], "") if row.teams else "")
        or row.person.organisation.time_zone
        for row in rows
    }


def quiet_hours_deferral(
    invitation: Invitation, *, now: datetime, zone: str
) -> tuple[datetime | None, ...] | None:
    """None if the message now due may go out ``now``; else the invitation's due times with it moved to the
    end of the recipient's quiet hours (``cadence.defer_overdue_message``, the schedule's quiet hours)."""
    schedule = invitation.round.schedule
    planned = getattr(invitation, Invitation.EMAIL_DUE_FIELDS[invitation.emails_handled])
    if planned is None or (invitation.email_due_at is not None and invitation.email_due_at < planned):
        # Unplanned, or earlier than planned: brought forward at the person's own request
        # (``resend.checkin_links_resend``), who wants it now.
        return None
    return cadence.defer_overdue_message(
        [getattr(invitation, field) for field in Invitation.EMAIL_DUE_FIELDS],
        invitation.emails_handled,
        now,
        invitation.round.closes_at,
        zone,
        schedule.quiet_start,
        schedule.quiet_end,
        schedule.quiet_weekends,
    )


def emails_defer(deferred: dict[int, tuple[datetime | None, ...]], claim: uuid.UUID) -> None:
    """Move these claimed rows' messages to their new due times and release them, in one UPDATE. Rows with
    the same new times (a batch of one round in one zone) share one WHEN, so the statement stays short."""
    if not deferred:
        return
    groups: dict[tuple[datetime | None, ...], list[int]] = {}
    for pk, due_times in deferred.items():
        groups.setdefault(due_times, []).append(pk)

    def column(values: list[tuple[list[int], datetime | None]]) -> Cast:
        # Cast: a CASE whose every branch is NULL is text to PostgreSQL, which a timestamptz column refuses.
        return Cast(
            Case(
                *(When(pk__in=ids, then=Value(value)) for ids, value in values), output_field=DateTimeField()
            ),
            output_field=DateTimeField(),
        )

    updates: dict[str, Any] = {
        field: column([(ids, due_times[index]) for due_times, ids in groups.items()])
        for index, field in enumerate(Invitation.EMAIL_DUE_FIELDS)
    }
    # The message now due is at place ``emails_handled``; its new time is the next due time.
    updates["email_due_at"] = Case(
        *(
            When(pk__in=ids, emails_handled=index, then=Value(due_times[index]))
            for due_times, ids in groups.items()
            for index in range(len(Invitation.EMAIL_DUE_FIELDS))
            if due_times[index] is not None
        ),
        output_field=DateTimeField(),
    )
    Invitation.objects.filter(pk__in=list(deferred), email_claim=claim).update(
        **updates, email_claim=None, email_claimed_until=None
    )


def _message(rendered: RenderedEmail, connection: BaseEmailBackend | None = None) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        rendered.subject, rendered.text, settings.DEFAULT_FROM_EMAIL, [rendered.to], connection=connection
    )
    message.attach_alternative(rendered.html, "text/html")
    # RFC 2369 and RFC 8058: a mail client's own "Unsubscribe" pauses this person's check-in emails.
    message.extra_headers["List-Unsubscribe"] = f"<{rendered.pause_url}>"
    message.extra_headers["List-Unsubscribe-Post"] = ONE_CLICK
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
            message = _message(RenderedEmail(subject, text, html, self.ADDRESS_MARK, pause_url(PAUSE_MARK)))
            message.extra_headers["Message-ID"] = self.MESSAGE_ID_MARK
            raw: bytes = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]
            # 8bit is a valid label for ASCII text too, and the filled-in name may not be ASCII.
            raw = raw.replace(b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit")
            marks = (
                NAME_MARK,
                self.HTML_NAME_MARK,
                TOKEN_MARK,
                PAUSE_MARK,
                self.ADDRESS_MARK,
                self.MESSAGE_ID_MARK,
            )
            self.prototypes[key] = raw if all(mark.encode() in raw for mark in marks) else None
        return self.prototypes[key]

    def send(self, invitation: Invitation, token: str) -> bool:
        """Send the message now due through the template if it serves it exactly; False means: send it the
        usual way."""
        if not self.enabled:
            return False
        person = invitation.person
        if not person.email.isascii() or getattr(self.connection, "connection", None) is None:
            return False
        key = render_key(invitation)
        if key not in self.cache:
            # Renders this key's templates once; after that each copy needs only the prototype (a full
            # render per message filled in both parts and built a pause link only to be thrown away).
            email_render(invitation, token=token, cache=self.cache)
        prototype = self._prototype(key)
        if prototype is None:
            return False
        name = " ".join(person.display_name.split())
        raw = (
            prototype.replace(NAME_MARK.encode(), name.encode())
            .replace(self.HTML_NAME_MARK.encode(), str(escape(name)).encode())
            .replace(TOKEN_MARK.encode(), token.encode())
            .replace(PAUSE_MARK.encode(), pause_token(person.pk).encode())
            .replace(self.ADDRESS_MARK.encode(), person.email.encode())
            .replace(self.MESSAGE_ID_MARK.encode(), message_id(invitation).encode())
        )
        smtp = self.connection.connection  # type: ignore[attr-defined]
        try:
            smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [person.email], raw)
        except SMTP_ERRORS as error:
            raise smtp_failure(error) from None
        return True


def _record_failure(
    rows: list[Invitation], claim: uuid.UUID, failure: Exception, moment: datetime
) -> Counter[str]:
    """Record a failed attempt at the message now due of each row, set-wise, while the row is still this
    sender's. A permanent failure, or the last allowed attempt, records the message as failed and moves the
    row on to its next message; a temporary one backs the message off (``delivery.backoff``: 2, 4, 8…
    minutes). Returns the messages failed for good and backed off, for the delivery counters."""
    error = str(failure)[:500]
    mine = Invitation.objects.filter(pk__in=[row.pk for row in rows], email_claim=claim)
    permanent = isinstance(failure, PermanentFailure)
    last_try = mine if permanent else mine.filter(email_attempts__gte=MAX_ATTEMPTS - 1)
    last_try.update(**_handled(Invitation.EmailOutcome.FAILED), email_error=error)
    if not permanent:
        mine.filter(email_attempts__lt=MAX_ATTEMPTS - 1).update(
            email_attempts=F("email_attempts") + 1,
            email_due_at=Case(
                *(
                    When(email_attempts=failed, then=Value(moment + backoff(failed + 1)))
                    for failed in range(MAX_ATTEMPTS - 1)
                ),
                output_field=DateTimeField(),
            ),
            email_claim=None,
            email_claimed_until=None,
            email_error=error,
        )
    counted = Counter[str]()
    for row in rows:
        attempts = row.email_attempts + 1
        if permanent or attempts >= MAX_ATTEMPTS:
            counted[DeliveryCount.Outcome.FAILED] += 1
            logger.warning(
                "invitation %s: %s email failed for good (attempt %s): %s",
                row.pk,
                message_name(row.emails_handled),
                attempts,
                failure,
            )
        else:
            counted[DeliveryCount.Outcome.RETRIED] += 1
            logger.info(
                "invitation %s: %s email failed (attempt %s), retrying in %s: %s",
                row.pk,
                message_name(row.emails_handled),
                attempts,
                backoff(attempts),
                failure,
            )
    return counted
