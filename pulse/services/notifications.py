"""The notification outbox: write rows with the event that caused them, deliver them later, exactly once.

Detect, then deliver (docs/architecture.md §5; the healthchecks pattern). :func:`notifications_for_event`
runs inside the transaction that changes a flag and writes one ``Notification`` per recipient and channel:

* **email** to the leaders responsible for the team (:func:`flag_leader_chain`: the team's own current
  leaders, or the nearest team above with leaders; after an escalation also the next ones up). Only the
  highest severity is news now: an alert (opened, reopened, just become one, escalated) is due at once;
  anything else (watch, warning, recovery, an escalated watch) waits for the recipient's **digest**, one
  email per leader per day at ``PULSE_FLAG_DIGEST_HOUR`` (09:00) in the organisation's time zone, or once a
  week on ``PULSE_FLAG_DIGEST_WEEKDAY`` when that is set (:func:`next_digest_at`). The digest groups its
  updates by flag (:func:`digest_items`), each with the link to the flag's own page (:func:`flag_url`);
* **Slack** incoming webhooks and **JSON webhooks** configured as ``NotificationChannel`` rows, for flags
  of their team's subtree (or the whole organisation) at or above their minimum severity, at once.

An opening (or a reopening) also starts the flag's :class:`~pulse.models.notifications.EscalationClock` on
the wall clock (:func:`escalation_clock_start`), from which ``pulse.services.escalation`` counts.

History loaded at once (the demo's twelve weeks) is not news: :func:`notifications_collapse_history` sums it
up in at most one digest per leader, of the flags still open, and skips the rest.

The text is rendered from the flag's sentence, which ``pulse.trends`` builds only from published,
coarsened team values: no notification carries a withheld number or anyone's answers. Each leader's email
is rendered in their own language (``surveys.language.language_of``; once per language, not per person),
its headline and a digest's words through the catalogue, and the flag's headline and the event's reason
worded then from the flag's stored data (``pulse.selectors.flag_words``; a flag whose words could not be
derived keeps its stored English, marked ``lang="en"`` in the HTML part). Slack and webhooks, which have
no reader of their own, are written in the organisation's default language (:func:`channel_language`;
docs/languages.md §4).

:func:`notifications_send_due` (a tick step) claims due rows with a conditional UPDATE (a fresh claim id on
rows that are pending and unclaimed, or whose claim expired), sends them through ``pulse.transports``, and
marks each row sent as soon as it is delivered. A temporary failure (5xx, 429, time-out, refused
connection) backs the row off exponentially (``surveys.services.delivery``, shared with the check-in
emails); a permanent one (any other 4xx, a refused mailbox) or the last
attempt marks it failed with the reason, visible in the admin. Because the outbox is rows, a broker outage
only delays delivery. The unique ``idempotency_key`` keeps an event from queueing a message twice; webhook
receivers also get it as ``webhook-id`` for the one window no outbox closes (a crash after the
receiver accepted a message and before the row was marked sent).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy

from pulse import transports
from pulse.analysis.glossary import REASON_NAME
from pulse.analysis.rules import SEVERITY_RANK, FlagKind, Severity
from pulse.models import Flag, FlagEvent, Notification, NotificationChannel
from pulse.models.notifications import EscalationClock
from pulse.selectors.cells import metric_infos_for
from pulse.selectors.flag_words import escalation_words, flag_words, label_lang, recovery_words
from pulse.selectors.flag_words import metric_label as metric_label_of
from surveys.language import language_of, supported
from surveys.models import DeliveryCount, Membership, Organisation, Person, Team
from surveys.services.delivery import (
    DeliveryFailure,
    PermanentFailure,
    TemporaryFailure,
    retry_wait,
    rows_claim,
    unclaimed,
)
from surveys.services.operations import delivery_count_add

logger = logging.getLogger(__name__)

SEND_BATCH = 50
# Long enough for a whole batch at the transports' time-out (50 × 10 s), so a claim never expires while
# its sender is still working through it.
CLAIM_FOR = timedelta(minutes=15)
MAX_ATTEMPTS = 8

#: The events people are told about. Acknowledgements and actions are visible on the flag itself.
NOTIFIED_EVENTS = {
    FlagEvent.Kind.OPENED,
    FlagEvent.Kind.REOPENED,
    FlagEvent.Kind.ESCALATED,
    FlagEvent.Kind.RECOVERED,
    FlagEvent.Kind.UPDATED,  # only called for a flag that has just become an alert
    FlagEvent.Kind.REASON_ADDED,
}
#: The events after which a flag is open (again): its escalation period starts over.
OPENING_EVENTS = {FlagEvent.Kind.OPENED, FlagEvent.Kind.REOPENED, FlagEvent.Kind.REOPENED_BY_HAND}


# ---------------------------------------------------------------------------------------------- routing


def flag_leader_chain(*, flag: Flag) -> list[tuple[Team, list[Person]]]:
    """The teams from the flag's team up to the root that have current, active leaders, nearest first,
    each with its leaders. Level 0 is who is told first; each escalation adds the next entry."""
    team = flag.team
    ids = [team.pk, *reversed(team.ancestor_ids)]
    leaders: dict[int, list[Person]] = defaultdict(list)
    memberships = (
        Membership.objects.current()
        .filter(team_id__in=ids, role=Membership.Role.LEADER, person__is_active=True)
        .select_related("person__organisation", "team")
        .order_by("person__display_name", "person_id")
    )
    teams: dict[int, Team] = {}
    for membership in memberships:
        if membership.person not in leaders[membership.team_id]:
            leaders[membership.team_id].append(membership.person)
        teams[membership.team_id] = membership.team
    return [(teams[team_id], leaders[team_id]) for team_id in ids if leaders.get(team_id)]


def _recipients(flag: Flag, event: FlagEvent) -> list[Person]:
    chain = flag_leader_chain(flag=flag)
    if not chain:
        return []
    level = min(flag.escalation_level, len(chain) - 1)
    levels = [level] if event.kind == FlagEvent.Kind.ESCALATED else list(range(level + 1))
    seen: dict[int, Person] = {}
    for index in levels:
        for person in chain[index][1]:
            seen.setdefault(person.pk, person)
    return list(seen.values())


def _channels(flag: Flag) -> list[NotificationChannel]:
    rank = SEVERITY_RANK[Severity(flag.severity)]
    channels = NotificationChannel.objects.filter(
        organisation_id=flag.organisation_id, is_active=True
    ).filter(Q(team__isnull=True) | Q(team_id__in=[*flag.team.ancestor_ids, flag.team_id]))
    return [c for c in channels if SEVERITY_RANK[Severity(c.min_severity)] <= rank]


def next_digest_at(moment: datetime, zone: str) -> datetime:
    """The next digest slot strictly after ``moment``: ``PULSE_FLAG_DIGEST_HOUR`` o'clock in ``zone`` on the
    next day that has one: every day, or only on ``PULSE_FLAG_DIGEST_WEEKDAY`` (0 = Monday) when that is
    set. Computed in local time and returned in UTC, so a DST change between now and then does not shift
    it."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    weekday: int | None = settings.PULSE_FLAG_DIGEST_WEEKDAY
    hour = time(settings.PULSE_FLAG_DIGEST_HOUR)
    day = local.date()
    if weekday is not None:
        day += timedelta(days=(weekday - local.weekday()) % 7)
    candidate = datetime.combine(day, hour, tz)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1 if weekday is None else 7), hour, tz)
    return candidate.astimezone(UTC)


def digest_cadence(counted: str) -> str:
    """The digest's title, e.g. "Daily digest: 3 flag updates" (weekly when ``PULSE_FLAG_DIGEST_WEEKDAY``
    is set), in the active language."""
    if settings.PULSE_FLAG_DIGEST_WEEKDAY is None:
        return gettext("Daily digest: %(counted)s") % {"counted": counted}
    return gettext("Weekly digest: %(counted)s") % {"counted": counted}


# -------------------------------------------------------------------------------------------- rendering

# An email's headline in the language it is rendered in (the models' labels stay English on purpose:
# pulse/templatetags/flag_words.py, whose severity words these are).
_SEVERITY: dict[str, Promise] = {
    Flag.Severity.WATCH: pgettext_lazy("flag severity", "Watch"),
    Flag.Severity.WARNING: pgettext_lazy("flag severity", "Warning"),
    Flag.Severity.ALERT: pgettext_lazy("flag severity", "Alert"),
}
_HEADLINES: dict[str, Promise] = {
    FlagEvent.Kind.REOPENED: pgettext_lazy("flag email headline", "Reopened (%(severity)s)"),
    FlagEvent.Kind.ESCALATED: pgettext_lazy(
        "flag email headline", "Escalated: not acknowledged (%(severity)s)"
    ),
    FlagEvent.Kind.RECOVERED: pgettext_lazy("flag email headline", "Recovered"),
    FlagEvent.Kind.UPDATED: pgettext_lazy("flag email headline", "Now an alert"),
    FlagEvent.Kind.REASON_ADDED: pgettext_lazy("flag email headline", "New evidence (%(severity)s)"),
}


def headline(flag: Flag, event: FlagEvent) -> str:
    """What happened to the flag, in the active language: "Alert", "Reopened (Warning)", "Recovered"."""
    severity = str(_SEVERITY.get(flag.severity, flag.get_severity_display()))
    if event.kind == FlagEvent.Kind.OPENED:
        return severity
    return str(_HEADLINES[event.kind]) % {"severity": severity}


_SLACK_EMOJI = {"watch": ":eyes:", "warning": ":warning:", "alert": ":rotating_light:"}


def metric_label(metric: str) -> str:
    """The metric's label from its instrument version's definition (no query for the default library), or
    a load measure's in the active language."""
    return metric_label_of(metric_infos_for([metric]), metric)


def flag_url(flag: Flag) -> str:
    """The flag's own page, where a leader reads it, acknowledges it and plans an action."""
    return settings.PULSE_BASE_URL + reverse("flag_detail", args=[flag.pk])


def _email_context(flag: Flag, event: FlagEvent) -> dict[str, Any]:
    """What a message about an event says: the flag in a leader's words (its headline), the event's reason
    and a link to the flag, whose page has the statistics one click away. Nothing else. Worded now, in the
    active language (``pulse.selectors.flag_words``); ``sentence_lang`` is "en" when the flag's stored
    English stands in for words that could not be derived."""
    label = metric_label(flag.metric)
    sentence, lang = _story(flag, event, label, html=False)
    return {
        "headline": headline(flag, event),
        "team": flag.team.name,
        "metric": label,
        "metric_lang": label_lang(flag.metric),  # "en": an instrument's label; "": a load measure's, worded
        "sentence": sentence,
        # The HTML part's copy marks the (English) metric label inside a sentence in another language.
        "sentence_html": _story(flag, event, label, html=True)[0],
        "sentence_lang": lang,
        "url": flag_url(flag),
        "k": flag.organisation.min_group_size,
    }


def _story(flag: Flag, event: FlagEvent, label: str, *, html: bool) -> tuple[str, str]:
    """What happened, worded in the active language, and its language when it is the stored English."""
    zone = flag.organisation.time_zone
    said = flag_words(flag, label=label, zone=zone, html=html)
    if event.kind == FlagEvent.Kind.RECOVERED:
        recovered = recovery_words(event, label=label, zone=zone, html=html)
        return recovered.text, recovered.lang
    if event.kind == FlagEvent.Kind.ESCALATED:
        escalated = escalation_words(event)
        text = (
            format_html("{} {}", escalated.text, said.headline)
            if html
            else f"{escalated.text} {said.headline}"
        )
        return text, escalated.lang or said.lang
    return said.headline, said.lang


def _message(flag: Flag, event: FlagEvent) -> tuple[str, str, str]:
    """(headline, subject, body): the text every transport sends (``pulse/email/flag.txt``)."""
    context = _email_context(flag, event)
    subject = f"[Pulse] {context['headline']}: {context['team']} — {context['metric']}"
    return context["headline"], subject, render_to_string("pulse/email/flag.txt", context).rstrip("\n")


def _email_payload(flag: Flag, event: FlagEvent) -> dict[str, Any]:
    """An email row's payload: its HTML part, rendered now with its text (delivery sends only what is
    stored), and the row as one update of a digest (:func:`digest_items`), in the active language."""
    context = _email_context(flag, event)
    return {
        "html": render_to_string("pulse/email/flag.html", context),
        "digest": {
            "flag": flag.pk,
            "team": context["team"],
            "metric": context["metric"],
            "metric_lang": context["metric_lang"],
            "severity": flag.severity,
            "title": context["headline"],
            "text": context["sentence"],
            "text_lang": context["sentence_lang"],
            "url": context["url"],
        },
    }


def _slack_payload(flag: Flag, headline: str, body: str) -> dict[str, Any]:
    """A Slack message in the active language (the organisation's, :func:`channel_language`)."""
    first = body.split("\n\n", 1)[0]
    known = {kind.value: kind for kind in FlagKind}
    reason = gettext(REASON_NAME[known[flag.kind]]) if flag.kind in known else flag.get_kind_display()
    open_text = gettext("Open the flag")
    return {
        "text": f"{headline}: {first} <{flag_url(flag)}|{open_text}>",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"{headline}: {flag.team.name}"[:150], "emoji": True},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{_SLACK_EMOJI[flag.severity]} {first}"}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{metric_label(flag.metric)} · {reason}"}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": gettext("Open the flag in Pulse")},
                        "url": flag_url(flag),
                    }
                ],
            },
        ],
    }


def _webhook_payload(flag: Flag, event: FlagEvent, key: str, body: str) -> dict[str, Any]:
    """A JSON webhook's body: the flag's codes as they are, and its words in the active language (the
    organisation's, :func:`channel_language`, named in ``language``)."""
    said = flag_words(flag, label=metric_label(flag.metric), zone=flag.organisation.time_zone, html=False)
    return {
        "event": f"flag.{event.kind}",
        "delivery": key,
        "occurred_at": event.at.isoformat(),
        "organisation": {"id": flag.organisation_id, "name": flag.organisation.name},
        "team": {"id": flag.team_id, "name": flag.team.name},
        "flag": {
            "id": flag.pk,
            "kind": flag.kind,
            "reasons": list(flag.reasons),
            "metric": flag.metric,
            "metric_label": metric_label(flag.metric),
            "severity": flag.severity,
            "state": flag.state,
            "headline": said.headline,
            "explanation": said.explanation,
            "language": said.lang or translation.get_language(),
            "url": flag_url(flag),
        },
        "text": body.split("\n\n", 1)[0],
    }


def is_news_now(flag: Flag, event: FlagEvent) -> bool:
    """Whether a leader's email about this event goes out at once: only for the highest severity, when the
    flag has just opened, reopened, become an alert or been escalated as one. A recovery, and anything
    below an alert, waits for the digest."""
    if flag.severity != Flag.Severity.ALERT or event.kind == FlagEvent.Kind.RECOVERED:
        return False
    if event.kind in (FlagEvent.Kind.UPDATED, FlagEvent.Kind.REASON_ADDED):
        return bool((event.data or {}).get("severity_before") != Flag.Severity.ALERT)
    return True


def escalation_clock_start(*, flag: Flag, now: datetime) -> EscalationClock:
    """Start the flag's escalation period for its current opening: at the wall clock, or at ``now`` if a
    caller simulates a later moment, never at a ``now`` in the past (history loaded at once is seen
    today, so its flags escalate a whole period from today, not at the first tick)."""
    clock, _created = EscalationClock.objects.update_or_create(
        flag=flag,
        defaults={"opened_at": flag.opened_at or now, "started_at": max(now, timezone.now())},
    )
    return clock


def notifications_for_event(*, event: FlagEvent, now: datetime) -> int:
    """Queue the messages an event calls for, in the caller's transaction. Returns how many were queued.
    An opening also starts the flag's escalation clock (:func:`escalation_clock_start`)."""
    if event.kind not in NOTIFIED_EVENTS | OPENING_EVENTS:
        return 0
    flag = Flag.objects.select_related("team", "organisation").get(pk=event.flag_id)
    if event.kind in OPENING_EVENTS:
        escalation_clock_start(flag=flag, now=now)
    if event.kind not in NOTIFIED_EVENTS:
        return 0
    immediate = is_news_now(flag, event)
    digest_at = next_digest_at(now, flag.organisation.time_zone)
    rows: list[Notification] = []
    rendered: dict[str, tuple[str, str, dict[str, Any]]] = {}  # language → (subject, body, payload)

    def row(transport: str, key: str, subject: str, body: str, **fields: Any) -> Notification:
        return Notification(
            organisation_id=flag.organisation_id,
            flag=flag,
            event=event,
            transport=transport,
            idempotency_key=key,
            subject=subject[:300],
            body=body,
            created_at=now,
            **fields,
        )

    for person in _recipients(flag, event):
        if not person.email:
            continue
        language = language_of(person)
        if language not in rendered:
            rendered[language] = _email_in(language, flag, event)
        subject, body, email_payload = rendered[language]
        key = f"event-{event.pk}:email:-:person-{person.pk}"
        rows.append(
            row(
                Notification.Transport.EMAIL,
                key,
                subject,
                body,
                recipient=person,
                payload=email_payload,
                digest=not immediate,
                due_at=now if immediate else digest_at,
            )
        )
    channels = _channels(flag)
    with translation.override(channel_language(flag.organisation)):
        headline_text, subject, body = _message(flag, event)
        payloads = {
            channel.pk: (
                _slack_payload(flag, headline_text, body)
                if channel.kind == NotificationChannel.Kind.SLACK
                else _webhook_payload(
                    flag, event, f"event-{event.pk}:{channel.kind}:channel-{channel.pk}:-", body
                )
            )
            for channel in channels
        }
    for channel in channels:
        key = f"event-{event.pk}:{channel.kind}:channel-{channel.pk}:-"
        payload = payloads[channel.pk]
        rows.append(row(channel.kind, key, subject, body, channel=channel, payload=payload, due_at=now))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def channel_language(organisation: Organisation) -> str:
    """The language of a Slack channel's or a webhook's messages: they have no reader of their own, so
    the organisation's default language, else ``settings.LANGUAGE_CODE`` (docs/languages.md §4)."""
    return supported(organisation.locale) or settings.LANGUAGE_CODE


def _email_in(language: str, flag: Flag, event: FlagEvent) -> tuple[str, str, dict[str, Any]]:
    """An email row's subject, text and payload in ``language``."""
    with translation.override(language):
        _headline, subject, body = _message(flag, event)
        return subject, body, _email_payload(flag, event)


def notifications_collapse_history(
    *, organisation_id: int, before: datetime, now: datetime
) -> tuple[int, int]:
    """History loaded at once (trend runs with ``now`` in the past) is not news: sum it up for each leader.

    Of the organisation's pending rows created before ``before``, each leader keeps one update per flag
    that is still open and unacknowledged, rendered again from the flag as it stands, in their next digest
    (so a leader receives at most one email about the whole history, and none about flags that recovered
    or that someone acted on); every other row is skipped, Slack and webhooks included (a channel wants
    news, not the past). Returns (updates kept, rows skipped)."""
    with transaction.atomic():
        past = Notification.objects.select_for_update(of=("self",)).filter(
            organisation_id=organisation_id, status=Notification.Status.PENDING, created_at__lt=before
        )
        latest: dict[tuple[int, int], Notification] = {}
        for notification in (
            past.filter(transport=Notification.Transport.EMAIL, flag__state=Flag.State.OPEN)
            .select_related("flag__team", "flag__organisation", "event", "recipient__organisation")
            .order_by("created_at", "pk")
        ):
            assert notification.recipient_id is not None
            latest[notification.recipient_id, notification.flag_id] = notification
        kept = list(latest.values())
        for notification in kept:
            flag, event = notification.flag, notification.event
            assert notification.recipient is not None
            subject, body, payload = _email_in(language_of(notification.recipient), flag, event)
            notification.subject, notification.body = subject[:300], body
            notification.payload = payload
            notification.digest = True
            notification.due_at = next_digest_at(now, flag.organisation.time_zone)
        Notification.objects.bulk_update(kept, ["subject", "body", "payload", "digest", "due_at"])
        skipped = past.exclude(pk__in=[n.pk for n in kept]).update(
            status=Notification.Status.SKIPPED, claim=None, claimed_until=None
        )
    return len(kept), skipped


# --------------------------------------------------------------------------------------------- delivery


def notifications_claim(*, now: datetime, batch: int = SEND_BATCH) -> tuple[uuid.UUID, list[Notification]]:
    """Claim up to ``batch`` due rows by conditional UPDATE and return them. On PostgreSQL a concurrent
    UPDATE re-checks the WHERE clause on a row another claimer just changed, so no row is claimed twice."""
    free = unclaimed(now)
    candidates = list(
        Notification.objects.filter(free, status=Notification.Status.PENDING, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not candidates:
        return uuid.uuid4(), []
    # A digest goes out whole: claim every due digest row of the same recipients with it.
    digest_of = Notification.objects.filter(pk__in=candidates, digest=True).values("recipient_id")
    candidates += list(
        Notification.objects.filter(
            free, status=Notification.Status.PENDING, due_at__lte=now, digest=True, recipient_id__in=digest_of
        )
        .exclude(pk__in=candidates)
        .values_list("pk", flat=True)
    )
    claim = rows_claim(
        Notification.objects.filter(free, pk__in=candidates, status=Notification.Status.PENDING),
        until=now + CLAIM_FOR,
    )
    rows = list(
        Notification.objects.filter(claim=claim)
        .select_related("channel", "recipient__organisation", "organisation")
        .order_by("due_at", "pk")
    )
    return claim, rows


def notifications_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Tick step: deliver one batch of due notifications. Returns how many messages went out."""
    moment = now or timezone.now()
    claim, rows = notifications_claim(now=moment, batch=batch)
    if not rows:
        return 0
    delivered = 0
    digests: dict[int, list[Notification]] = defaultdict(list)
    email = transports.EmailTransport()
    tally: Counter[tuple[str, str]] = Counter()  # (transport, outcome) → messages, for /metrics
    try:
        for notification in rows:
            if notification.transport == Notification.Transport.EMAIL and notification.digest:
                assert notification.recipient_id is not None
                digests[notification.recipient_id].append(notification)
                continue
            delivered += _deliver(
                [notification], claim, moment, partial(_send_one, notification, email), tally
            )
        for group in digests.values():
            delivered += _deliver(group, claim, moment, partial(_send_digest, group, email), tally)
    finally:
        email.close()
        for transport in {transport for transport, _outcome in tally}:
            delivery_count_add(
                transport=DELIVERY_TRANSPORTS[transport],
                counts={outcome: n for (kind, outcome), n in tally.items() if kind == transport},
            )
    return delivered


#: How /metrics names each transport (``surveys.models.DeliveryCount``).
DELIVERY_TRANSPORTS: dict[str, DeliveryCount.Transport] = {
    Notification.Transport.EMAIL: DeliveryCount.Transport.NOTIFICATION_EMAIL,
    Notification.Transport.SLACK: DeliveryCount.Transport.SLACK,
    Notification.Transport.WEBHOOK: DeliveryCount.Transport.WEBHOOK,
}


def _send_one(notification: Notification, email: transports.EmailTransport) -> None:
    if notification.transport == Notification.Transport.EMAIL:
        assert notification.recipient is not None
        email.send(
            to=notification.recipient.email,
            subject=notification.subject,
            body=notification.body,
            html=_stored_html(notification),
        )
        return
    channel = notification.channel
    if channel is None or not channel.is_active:
        raise PermanentFailure("the channel was removed or switched off")
    timeout = settings.PULSE_NOTIFICATION_TIMEOUT
    if notification.transport == Notification.Transport.SLACK:
        transports.SlackTransport(channel.url, timeout=timeout).send(notification.payload)
    else:
        transports.WebhookTransport(channel.url, channel.secret, timeout=timeout).send(
            notification.payload, delivery=notification.idempotency_key
        )


@dataclass(frozen=True)
class DigestUpdate:
    title: str
    text: str
    lang: str = ""  # the text's language when not the recipient's (the stored English)


@dataclass
class DigestFlag:
    """One flag in a digest: where it is, how severe it is now, its link, and its news in order."""

    flag_id: int
    team: str
    metric: str
    severity: str
    url: str
    updates: list[DigestUpdate] = field(default_factory=list)
    metric_lang: str = "en"  # a row stored before it said so named its metric in English


def digest_items(group: Sequence[Notification]) -> list[DigestFlag]:
    """A leader's due digest rows grouped by flag: each flag once, with its updates oldest first and its
    team, metric, severity and link as of the newest; alerts first, then warnings and watches, then by
    team and metric. Reads only what the rows store (rows queued before they stored a digest part give
    their subject and first paragraph)."""
    flags: dict[int, DigestFlag] = {}
    for notification in sorted(group, key=lambda n: (n.created_at, n.pk)):
        part = (notification.payload or {}).get("digest")
        if not isinstance(part, dict):
            part = {
                "team": "",
                "metric": "",
                "severity": "",
                "url": settings.PULSE_BASE_URL + reverse("flags"),
                "title": notification.subject.removeprefix("[Pulse] "),
                "text": notification.body.split("\n\n", 1)[0],
            }
        item = flags.setdefault(
            notification.flag_id,
            DigestFlag(notification.flag_id, part["team"], part["metric"], part["severity"], part["url"]),
        )
        item.team, item.metric, item.severity, item.url = (
            part["team"] or item.team,
            part["metric"] or item.metric,
            part["severity"] or item.severity,
            part["url"],
        )
        if part["metric"]:
            item.metric_lang = str(part.get("metric_lang", "en"))
        # A row queued before its text was worded for its reader holds the trend run's English.
        item.updates.append(
            DigestUpdate(str(part["title"]), str(part["text"]), str(part.get("text_lang", "en")))
        )

    rank = {severity.value: number for severity, number in SEVERITY_RANK.items()}
    return sorted(
        flags.values(), key=lambda item: (-rank.get(item.severity, 0), item.team, item.metric, item.flag_id)
    )


def digest_subject(group: Sequence[Notification], items: Sequence[DigestFlag]) -> str:
    """The digest's subject in the active language: "[Pulse] Daily digest: 4 updates on 3 flags"."""
    updates, flags = len(group), len(items)
    if updates == flags:
        counted = ngettext("%(count)d flag update", "%(count)d flag updates", updates) % {"count": updates}
    else:  # more updates than flags: always several updates
        counted = ngettext(
            "%(updates)d updates on %(count)d flag", "%(updates)d updates on %(count)d flags", flags
        ) % {"updates": updates, "count": flags}
    return f"[Pulse] {digest_cadence(counted)}"


def _send_digest(group: list[Notification], email: transports.EmailTransport) -> None:
    recipient = group[0].recipient
    assert recipient is not None
    if len(group) == 1:
        email.send(
            to=recipient.email, subject=group[0].subject, body=group[0].body, html=_stored_html(group[0])
        )
        return
    items = digest_items(group)
    # In the recipient's language: each update's title was rendered in it when the row was queued.
    with translation.override(language_of(recipient)):
        subject = digest_subject(group, items)
        context = {
            "summary": subject.removeprefix("[Pulse] "),
            "flags": items,
            "count": len(group),
            "url": settings.PULSE_BASE_URL + reverse("flags"),  # where every flag of theirs is listed
            "k": group[0].organisation.min_group_size,
        }
        body = render_to_string("pulse/email/flag_digest.txt", context).rstrip("\n")
        html = render_to_string("pulse/email/flag_digest.html", context)
    email.send(to=recipient.email, subject=subject, body=body, html=html)


def _stored_html(notification: Notification) -> str:
    """The HTML part rendered with the row (rows queued before there was one: none, the text alone)."""
    html = (notification.payload or {}).get("html", "")
    return html if isinstance(html, str) else ""


def _deliver(
    group: Iterable[Notification],
    claim: uuid.UUID,
    moment: datetime,
    send: Callable[[], None],
    tally: Counter[tuple[str, str]],
) -> int:
    """Send one message (one row, or a digest of several) and record it; ``tally`` counts the message once."""
    rows = list(group)
    ids = [n.pk for n in rows]
    transport = rows[0].transport
    try:
        send()
    except DeliveryFailure as failure:
        outcomes = [_record_failure(notification, failure, moment) for notification in rows]
        tally[transport, outcomes[0]] += 1
        return 0
    except Exception as error:  # a poisoned row must not wedge the loop: back it off like a temporary failure
        logger.exception("notification %s: unexpected error", ids)
        outcomes = [
            _record_failure(notification, TemporaryFailure(type(error).__name__), moment)
            for notification in rows
        ]
        tally[transport, outcomes[0]] += 1
        return 0
    Notification.objects.filter(pk__in=ids, claim=claim).update(
        status=Notification.Status.SENT, sent_at=moment, claim=None, claimed_until=None, last_error=""
    )
    tally[transport, DeliveryCount.Outcome.SENT] += 1
    return 1


def _record_failure(notification: Notification, failure: DeliveryFailure, moment: datetime) -> str:
    """Record a failed try; returns whether it failed for good or backs off (``DeliveryCount.Outcome``)."""
    attempts = notification.attempts + 1
    reason = str(failure)[:500]
    wait = retry_wait(failure, attempts, max_attempts=MAX_ATTEMPTS)
    if wait is None:
        Notification.objects.filter(pk=notification.pk).update(
            status=Notification.Status.FAILED,
            attempts=attempts,
            claim=None,
            claimed_until=None,
            last_error=reason,
        )
        logger.warning("notification %s failed permanently: %s", notification.pk, reason)
        return DeliveryCount.Outcome.FAILED
    Notification.objects.filter(pk=notification.pk).update(
        attempts=attempts, due_at=moment + wait, claim=None, claimed_until=None, last_error=reason
    )
    logger.info(
        "notification %s failed (attempt %s), retry in %s: %s", notification.pk, attempts, wait, reason
    )
    return DeliveryCount.Outcome.RETRIED
