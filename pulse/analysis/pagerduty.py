"""PagerDuty's formats, without the network or the database: webhook signatures, events, time windows, and
the REST API's on-calls and log entries as :class:`~pulse.analysis.oncall.Shift` and
:class:`~pulse.analysis.oncall.Page` values (docs/oncall.md §6).

Sources (PagerDuty developer documentation, github.com/PagerDuty/developer-docs):

* Webhooks v3, "Verifying Signatures" (docs/webhooks/04-Signatures.md): ``X-PagerDuty-Signature`` carries
  one or more comma-separated signatures, one per signing secret of the subscription (several during a
  secret's rotation); version ``v1`` is the lower-case hexadecimal HMAC-SHA256 of the raw request body under
  the secret. A delivery is authentic when at least one ``v1`` signature matches; compare in constant time.
* Webhooks v3, "Overview" (docs/webhooks/01-Overview.md): one event per delivery, ``event.id``,
  ``event.event_type``, ``event.occurred_at`` (ISO 8601) and ``event.data`` (for incident events the
  incident, with its ``service`` and ``escalation_policy`` references).
* Webhooks, "Behavior" (docs/webhooks/02-Behavior.md): failed deliveries are retried up to 4 times "over the
  course of about 20 minutes"; a 4xx answer (other than 429) drops the delivery without retry. Hence
  :data:`EVENT_MAX_AGE` of one hour: a genuine retry is never refused as stale, a replay hours later is.
* REST API v2, "Pagination" (docs/REST-API/09-Pagination.md): classic pagination with ``offset`` and
  ``limit`` (at most 100), ``more`` and, when asked for, ``total``; ``offset + limit`` may not pass 10,000, so
  a query with more results than :data:`MAX_RESULTS` is split in time (:func:`halves`).
* REST API v2, "Rate Limits" (docs/REST-API/04-Rate-Limits.md): 960 requests a minute per API key, 429
  beyond, with ``Retry-After``. :func:`gcra_decision` paces below it.
* ``GET /incidents``: a ``since``/``until`` range of at most 6 months (:data:`INCIDENT_WINDOW`).
* REST API v2, Analytics, ``POST /analytics/metrics/responders/teams`` ("Get responder data aggregated by
  team"; PagerDuty's OpenAPI description, github.com/PagerDuty/api-schema, reference/REST/openapiv3.json,
  schemas ``AnalyticsResponderFilter`` and ``AnalyticsResponderMetrics``): a body of ``filters``
  (``date_range_start``, ``date_range_end``: incidents *created* in [start, end), at most a year;
  ``team_ids``, ``responder_ids``, ``urgency``, ``priority_ids``) with ``time_zone``, ``order`` and
  ``order_by``. It has no ``aggregate_unit`` (the incident endpoints and ``/analytics/metrics/users/all``
  have one, this endpoint does not), so one request asks for one week (:func:`analytics_request`). The
  answer's ``data`` holds one row per responder and team with ``total_business_hour_interruptions``,
  ``total_off_hour_interruptions`` and ``total_sleep_hour_interruptions``, which
  :func:`analytics_team_interruptions` sums. "Errors" (docs/REST-API/14-Errors.md): 402 when "the PagerDuty
  account does not have access to one or more abilities" (code 2014, "Missing Account Ability"), 403 when
  the caller "is not authorized to view the requested resource".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pulse.analysis.oncall import Channel, HourSplit, IsoWeek, Page, Shift, Urgency, zone

SIGNATURE_VERSION = "v1"
EVENT_MAX_AGE = timedelta(hours=1)
EVENT_MAX_AHEAD = timedelta(minutes=5)  # clock skew between PagerDuty and this server
WEBHOOK_MAX_BYTES = 256 * 1024  # PagerDuty drops anything larger itself (docs/webhooks/02-Behavior.md)
SYNCED_EVENT_TYPES = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.escalated",
        "incident.reassigned",
        "incident.resolved",
        "incident.reopened",
    }
)

PAGE_LIMIT = 100
MAX_RESULTS = 10_000
INCIDENT_WINDOW = timedelta(days=180)  # "6 months" read as the shortest six months there are (Feb–Jul: 181)
ONCALL_WINDOW = timedelta(days=90)
SMALLEST_WINDOW = timedelta(minutes=1)

ANALYTICS_PATH = "/analytics/metrics/responders/teams"
# "Data availability ... is generally within 24 hours" (the endpoint's description): a week is asked for once
# it has been over that long, and its answer is kept once it was read that long after the week ended.
ANALYTICS_DELAY = timedelta(hours=24)
# Statuses with which PagerDuty says the account or key has no Analytics (docs/REST-API/14-Errors.md): 402
# a missing ability, 403 a key not allowed to read it, 404 an endpoint this account does not have.
ANALYTICS_UNAVAILABLE = frozenset({402, 403, 404})
ANALYTICS_FIELDS = {
    "business": "total_business_hour_interruptions",
    "off": "total_off_hour_interruptions",
    "sleep": "total_sleep_hour_interruptions",
}

REQUESTS_PER_MINUTE = 960
# The pacing of :func:`gcra_decision`: one request every 60/940 s with a burst of 10, so that any 60 seconds
# hold at most 1 + (60 + 10·T)/T = 951 requests (T = 60/940 s), under PagerDuty's 960 with room for a clock
# that drifts a little between workers.
PACED_PER_MINUTE = 940
PACING_BURST = 10

# notify_log_entry: the notification's type (``notification.type``) or, in older entries, the channel's.
NOTIFICATION_CHANNELS: Mapping[str, Channel] = {
    "push_notification": "push",
    "push": "push",
    "phone_notification": "phone",
    "phone": "phone",
    "sms_notification": "sms",
    "sms": "sms",
    "email_notification": "email",
    "email": "email",
}


class WebhookRefused(ValueError):
    """A delivery that must change nothing: ``status`` is the HTTP answer (401 unsigned or badly signed, 400
    malformed or stale), ``reason`` a short English reason for the log (never the body or a secret)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(body: bytes, secret: str) -> str:
    """The ``v1=`` signature PagerDuty sends for ``body`` under ``secret``."""
    return f"{SIGNATURE_VERSION}={hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}"


def signature_matches(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether any ``v1`` signature in ``header`` is the body's under any of ``secrets``.

    Every pair is compared (no early return on the first match), each with :func:`hmac.compare_digest`, so
    the time taken says nothing about which secret or signature matched, or how much of one did."""
    if not header or not secrets:
        return False
    offered = [item.strip() for item in header.split(",")]
    offered = [item for item in offered if item.startswith(f"{SIGNATURE_VERSION}=")]
    matched = False
    for secret in secrets:
        expected = signature(body, secret).encode()
        for item in offered:
            matched |= hmac.compare_digest(expected, item.encode())
    return matched


def parse_instant(text: object) -> datetime:
    """An ISO 8601 instant with an offset (``Z`` included) as an aware UTC datetime; ``ValueError`` else."""
    if not isinstance(text, str):
        raise ValueError(f"not a time: {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time without an offset: {text!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    event_type: str
    occurred_at: datetime
    service_id: str
    escalation_policy_id: str


def _reference_id(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return ""


def webhook_event(body: bytes, *, now: datetime) -> WebhookEvent:
    """The event of a verified delivery (docs/webhooks/01-Overview.md); :class:`WebhookRefused` with 400 when
    it is not one, or when ``occurred_at`` lies outside [now − :data:`EVENT_MAX_AGE`, now +
    :data:`EVENT_MAX_AHEAD`]."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise WebhookRefused(400, "no event object")
    event_id, event_type = event.get("id"), event.get("event_type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise WebhookRefused(400, "the event has no id or type")
    try:
        occurred_at = parse_instant(event.get("occurred_at"))
    except ValueError:
        raise WebhookRefused(400, "the event has no valid occurred_at") from None
    if occurred_at < now - EVENT_MAX_AGE:
        raise WebhookRefused(400, "stale event (occurred more than an hour ago)")
    if occurred_at > now + EVENT_MAX_AHEAD:
        raise WebhookRefused(400, "event from the future (more than five minutes ahead)")
    data = event.get("data")
    data = data if isinstance(data, Mapping) else {}
    return WebhookEvent(
        id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        service_id=_reference_id(data, "service"),
        escalation_policy_id=_reference_id(data, "escalation_policy"),
    )


def windows(since: datetime, until: datetime, longest: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[since, until) cut into consecutive windows no longer than ``longest``."""
    start = since
    while start < until:
        end = min(start + longest, until)
        yield start, end
        start = end


def halves(since: datetime, until: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """[since, until) split at its middle, to the second (the API's queries are to the second)."""
    middle = since + timedelta(seconds=int((until - since).total_seconds() // 2))
    return (since, middle), (middle, until)


def gcra_decision(
    now: float,
    theoretical_arrival: float | None,
    *,
    per_minute: int = PACED_PER_MINUTE,
    burst: int = PACING_BURST,
) -> tuple[float, float]:
    """The generic cell rate algorithm (ITU-T I.371's virtual scheduling): given the time now and the stored
    theoretical arrival time, ``(wait, new_theoretical_arrival)``. ``wait`` 0 means send now (store the new
    value); otherwise wait that many seconds and ask again (store nothing). The Redis limiter runs the same
    arithmetic atomically in a script (pulse/services/pagerduty.py), so all workers share one pace."""
    interval = 60.0 / per_minute
    tolerance = burst * interval
    arrival = max(now, theoretical_arrival if theoretical_arrival is not None else now)
    wait = arrival - tolerance - now
    if wait > 0:
        return wait, arrival
    return 0.0, arrival + interval


# --- REST API v2 JSON → Shift and Page --------------------------------------------------------------------


def shifts_from_oncalls(
    oncalls: Iterable[Mapping[str, Any]], *, team: str, since: datetime, until: datetime
) -> list[Shift]:
    """``GET /oncalls`` entries as shifts of ``team``: the user's id as responder, escalation level 1 as level
    1 and any higher level as 2 (a backup either way); an entry with no start or end (an escalation rule
    that names the user directly is on call "always") is cut to [since, until). Entries without a user are
    skipped; distinct entries that give the same shift count once."""
    found: dict[tuple[str, datetime, datetime, int], Shift] = {}
    for oncall in oncalls:
        user = _reference_id(oncall, "user")
        if not user:
            continue
        start = parse_instant(oncall["start"]) if oncall.get("start") else since
        end = parse_instant(oncall["end"]) if oncall.get("end") else until
        if end <= start:
            continue
        level = 1 if int(oncall.get("escalation_level") or 1) <= 1 else 2
        key = (user, start, end, level)
        found.setdefault(key, Shift(team=team, responder=user, start=start, end=end, level=level))
    return sorted(found.values(), key=lambda shift: (shift.start, shift.responder, shift.level))


@dataclass(frozen=True)
class IncidentFacts:
    urgency: Urgency
    service_id: str
    escalation_policy_id: str


def incident_facts(incidents: Iterable[Mapping[str, Any]]) -> dict[str, IncidentFacts]:
    """``GET /incidents`` entries by id: urgency (anything but ``low`` counts as high) and references."""
    facts: dict[str, IncidentFacts] = {}
    for incident in incidents:
        if isinstance(incident.get("id"), str):
            urgency: Urgency = "low" if incident.get("urgency") == "low" else "high"
            facts[str(incident["id"])] = IncidentFacts(
                urgency, _reference_id(incident, "service"), _reference_id(incident, "escalation_policy")
            )
    return facts


def notification_channel(entry: Mapping[str, Any]) -> Channel | None:
    """The channel of a ``notify_log_entry``: its notification's type, else its channel's; None when it is
    none of push, phone, SMS or email (a webhook or a chat message interrupts no one's sleep)."""
    for holder in ("notification", "channel"):
        value = entry.get(holder)
        if isinstance(value, Mapping) and isinstance(value.get("type"), str):
            channel = NOTIFICATION_CHANNELS.get(str(value["type"]))
            if channel is not None:
                return channel
    return None


def notified_users(entries: Iterable[Mapping[str, Any]]) -> set[str]:
    return {_reference_id(entry, "user") for entry in entries if entry.get("type") == "notify_log_entry"} - {
        ""
    }


def pages_from_log_entries(
    entries: Iterable[Mapping[str, Any]],
    *,
    team: str,
    incidents: Mapping[str, IncidentFacts],
    user_zones: Mapping[str, str],
    fallback_zone: str,
) -> list[Page]:
    """The ``notify_log_entry`` entries about ``incidents`` as pages of ``team``: the notified user, their
    time zone (``user_zones``, else the entry's own ``user.time_zone``, else ``fallback_zone``, the team's),
    when it was sent, the incident and its urgency, the channel. Other entries, and notifications about
    incidents not in ``incidents`` (another team's), are skipped."""
    found: dict[tuple[str, datetime, str, str], Page] = {}
    for entry in entries:
        if entry.get("type") != "notify_log_entry":
            continue
        incident, user = _reference_id(entry, "incident"), _reference_id(entry, "user")
        facts = incidents.get(incident)
        channel = notification_channel(entry)
        if facts is None or not user or channel is None or "created_at" not in entry:
            continue
        user_object = entry.get("user")
        own_zone = user_object.get("time_zone") if isinstance(user_object, Mapping) else None
        responder_zone = (
            user_zones.get(user) or (own_zone if isinstance(own_zone, str) else "") or fallback_zone
        )
        try:
            zone(responder_zone)
        except ValueError:
            responder_zone = fallback_zone
        occurred_at = parse_instant(entry["created_at"])
        key = (user, occurred_at, incident, channel)
        found.setdefault(
            key,
            Page(
                team=team,
                responder=user,
                responder_zone=responder_zone,
                occurred_at=occurred_at,
                incident=incident,
                urgency=facts.urgency,
                channel=channel,
            ),
        )
    return sorted(found.values(), key=lambda page: (page.occurred_at, page.responder, page.channel))


# --- Analytics: a team's interruptions per week ------------------------------------------------------------


@dataclass(frozen=True)
class AnalyticsWeek:
    """An ISO week of the team's zone, as Analytics is asked about it: local midnights to local midnights."""

    week: IsoWeek
    monday: date
    starts_at: datetime
    ends_at: datetime


def analytics_weeks(since: datetime, settled_by: datetime, team_zone: str) -> list[AnalyticsWeek]:
    """The ISO weeks (in ``team_zone``) that end after ``since`` and no later than ``settled_by``, oldest
    first: the weeks whose Analytics figures are complete by then (``settled_by`` = now less
    :data:`ANALYTICS_DELAY`)."""
    tz = zone(team_zone)
    found: list[AnalyticsWeek] = []
    week = IsoWeek.of(since, tz)
    while True:
        start, end = week.bounds(tz)
        if end > settled_by:
            return found
        if end > since:
            found.append(AnalyticsWeek(week, date.fromisocalendar(week.year, week.week, 1), start, end))
        week = week.shifted(1)


def _local_iso(moment: datetime, tz: str) -> str:
    return moment.astimezone(zone(tz)).isoformat(timespec="seconds")


def analytics_request(team_id: str, week: AnalyticsWeek, team_zone: str) -> dict[str, Any]:
    """The body asking Analytics for ``team_id``'s responders over one week: incidents created from the week's
    first local midnight to the next week's, both written with the team's offset, in the team's zone."""
    return {
        "filters": {
            "date_range_start": _local_iso(week.starts_at, team_zone),
            "date_range_end": _local_iso(week.ends_at, team_zone),
            "team_ids": [team_id],
        },
        "time_zone": team_zone,
    }


def _count(value: object, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} is not a count: {value!r}")
    return value


def analytics_team_interruptions(answer: object, team_id: str) -> HourSplit:
    """The team's interruptions by hour type: the sum of ``answer["data"]``'s rows of ``team_id``.

    Only the team's id and the three counts of each row are read; the responder's id and name are never
    looked at, so nothing here could keep them. A row of another team (a responder in two teams answers
    for each) is left out; a row whose count is missing counts 0; anything else malformed is a
    ``ValueError``."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("data"), list):
        raise ValueError("an Analytics answer has a data list")
    sums = dict.fromkeys(ANALYTICS_FIELDS, 0)
    for row in answer["data"]:
        if not isinstance(row, Mapping):
            raise ValueError("an Analytics row is an object")
        if row.get("team_id") != team_id:
            continue
        for hour_type, field_name in ANALYTICS_FIELDS.items():
            sums[hour_type] += _count(row.get(field_name), field_name)
    return HourSplit(**sums)


@dataclass(frozen=True)
class WeekCheck:
    """One week's interruptions from the log entries (what Pulse shows) beside Analytics' figures."""

    week_start: date
    log_entries: HourSplit
    analytics: HourSplit

    @property
    def agrees(self) -> bool:
        return self.log_entries == self.analytics


def interruption_checks(
    log_entries: Mapping[date, HourSplit], analytics: Mapping[date, HourSplit]
) -> list[WeekCheck]:
    """The weeks both sources have, oldest first, each with whether they agree on all three hour types.

    A week only one side has is not compared: Analytics is asked only about settled weeks, and the log
    entries hold no week before the team's first shift or page."""
    return [
        WeekCheck(monday, log_entries[monday], analytics[monday])
        for monday in sorted(set(log_entries) & set(analytics))
    ]
