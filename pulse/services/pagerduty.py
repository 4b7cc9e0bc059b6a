"""The PagerDuty connection: saving its key and secrets, linking teams, syncing shifts and pages, webhooks
(docs/oncall.md §6).

A team's sync reads PagerDuty's REST API v2 through PagerDuty's own client (``pagerduty.RestApiV2Client``):
``GET /oncalls`` for its shifts, ``GET /incidents`` for its incidents and their urgency, ``GET /log_entries``
for the notifications of those incidents (``notify_log_entry``: who, when, by which channel), and
``GET /users/{id}`` for a notified person's time zone. It turns them into ``Shift`` and ``Page`` values
(``pulse.analysis.pagerduty``) and stores them through the one write path of on-call data,
``pulse.services.oncall.oncall_rows_store``, which stores a row once however often it is given and then
recomputes the weeks it touched. So a sync may overlap the last one, run twice, or die halfway: the next one
starts from the cursor (``synced_until``, moved only after a successful store) less
:data:`CURSOR_OVERLAP`.

Pacing: every request of every worker with the same API key waits its turn at one shared limiter (the
generic cell rate algorithm of ``pulse.analysis.pagerduty.gcra_decision``, its state in Redis, so the whole
installation stays under PagerDuty's 960 requests a minute per key). A 429 is honoured: its ``Retry-After``
pauses that key for every worker, and the client retries with its own growing back-off, at most
:data:`RATE_LIMIT_RETRIES` times, after which the sync stops with the reason ``rate_limited``.

Analytics (docs/oncall.md §9.1): a team linked to a PagerDuty team is also asked about at
``POST /analytics/metrics/responders/teams``, one settled week at a time, after its log entries are stored;
the answer's responder rows are summed to the team's interruptions by hour type at once
(``pulse.analysis.pagerduty.analytics_team_interruptions``) and stored beside the weeks computed from the log
entries, which stay the figures shown. An account without Analytics (402, 403, 404) changes nothing else and
is asked again a day later.

The API key is opened only inside :func:`_client` and handed to the client; it is never logged, never in a
task's arguments (tasks take a link's id) and never in a stored reason (:class:`SyncOutcome` codes).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import httpx2
import redis
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pagerduty import Error as PagerDutyClientError
from pagerduty import HttpError, RestApiV2Client

from pulse.analysis.oncall import Page, Shift
from pulse.analysis.pagerduty import (
    ANALYTICS_DELAY,
    ANALYTICS_PATH,
    ANALYTICS_UNAVAILABLE,
    INCIDENT_WINDOW,
    ONCALL_WINDOW,
    SYNCED_EVENT_TYPES,
    AnalyticsWeek,
    WebhookRefused,
    analytics_request,
    analytics_team_interruptions,
    analytics_weeks,
    gcra_decision,
    incident_facts,
    notified_users,
    pages_from_log_entries,
    shifts_from_oncalls,
    signature_matches,
    webhook_event,
    windows,
)
from pulse.models.oncall import OncallWeek
from pulse.models.pagerduty import (
    API_KEY_PURPOSE,
    WEBHOOK_SECRET_PURPOSE,
    AnalyticsState,
    PagerDutyAnalyticsWeek,
    PagerDutyConnection,
    PagerDutyTeamLink,
    PagerDutyWebhookSecret,
    SyncOutcome,
    new_webhook_token,
)
from pulse.services.oncall import oncall_rows_store
from surveys.models import Organisation, Team
from surveys.stored_secrets import SealError, secret_hint, secret_open, secret_seal

logger = logging.getLogger(__name__)

SYNC_TASK = "pulse.tasks.sync_pagerduty_team"
CURSOR_OVERLAP = timedelta(hours=1)
# Notifications in the window may belong to an incident opened before it (a long escalation, a re-open):
# incidents are read from this far before the window's start.
INCIDENT_LOOKBACK = timedelta(days=1)
FIRST_SYNC_SPAN = timedelta(days=365)
SYNC_LEASE = timedelta(minutes=30)  # longer than a task may run (CELERY_TASK_TIME_LIMIT)
REQUEST_STALE = timedelta(minutes=10)  # a queued sync not started by then was lost: queue it again
RATE_LIMIT_RETRIES = 4
ANALYTICS_RETRY = timedelta(days=1)  # an account that had no Analytics is asked again after this
MAX_RETRY_AFTER = 60.0
MAX_IDS = 50
MAX_ID_LENGTH = 32


class PagerDutySyncError(Exception):
    """A sync or key check that PagerDuty did not let finish: the reason and the HTTP status, nothing else."""

    def __init__(self, outcome: SyncOutcome, status: int | None = None) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.status = status


# --- Pacing -----------------------------------------------------------------------------------------------


class _Pacer:
    """One API key's turn-taking: :meth:`wait_turn` before each request, :meth:`pause` after a 429."""

    def wait_turn(self) -> None:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        raise NotImplementedError


class _RedisPacer(_Pacer):
    """The shared limiter: the GCRA state (theoretical arrival time) and a pause-until, per key, in Redis,
    updated under WATCH so concurrent workers never both take the same slot; Redis's clock for all."""

    def __init__(self, client: redis.Redis, name: str, per_minute: int) -> None:
        self.client, self.per_minute = client, per_minute
        self.arrival_key, self.pause_key = f"{name}:tat", f"{name}:pause"

    def _now(self) -> float:
        seconds, micros = self.client.time()
        return float(seconds) + float(micros) / 1e6

    def wait_turn(self) -> None:
        while True:
            wait = self._try()
            if wait <= 0:
                return
            time.sleep(min(wait, MAX_RETRY_AFTER))

    def _try(self) -> float:
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.arrival_key, self.pause_key)  # type: ignore[no-untyped-call]
                now = self._now()
                paused = pipe.get(self.pause_key)
                if paused is not None and float(paused) > now:
                    return float(paused) - now
                stored = pipe.get(self.arrival_key)
                wait, arrival = gcra_decision(
                    now, float(stored) if stored is not None else None, per_minute=self.per_minute
                )
                if wait > 0:
                    return wait
                pipe.multi()
                pipe.set(self.arrival_key, repr(arrival), ex=120)
                pipe.execute()
                return 0.0
            except redis.WatchError:
                return 0.001  # another worker took a turn in between: look again

    def pause(self, seconds: float) -> None:
        until = self._now() + seconds
        self.client.set(self.pause_key, repr(until), ex=int(seconds) + 5)


class _LocalPacer(_Pacer):
    """The same pace inside one process, for installations without Redis (one worker, `make run`)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.lock = threading.Lock()
        self.arrival: float | None = None
        self.paused_until = 0.0

    def wait_turn(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                wait = self.paused_until - now
                if wait <= 0:
                    wait, arrival = gcra_decision(now, self.arrival, per_minute=self.per_minute)
                    if wait <= 0:
                        self.arrival = arrival
                        return
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        with self.lock:
            self.paused_until = max(self.paused_until, time.monotonic() + seconds)


_local_pacers: dict[str, _LocalPacer] = {}
_local_pacers_lock = threading.Lock()


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=settings.REDIS_SOCKET_TIMEOUT)


def _key_name(api_key: str) -> str:
    """The limiter's name for a key: a keyed hash (SECRET_KEY), so Redis never holds the key or a plain
    hash of it that could be checked against a guess."""
    digest = hmac.new(settings.SECRET_KEY.encode(), api_key.encode(), hashlib.sha256).hexdigest()[:32]
    return f"pulse:pagerduty:pace:{digest}"


def pacer_for(api_key: str) -> _Pacer:
    per_minute = int(settings.PULSE_PAGERDUTY_REQUESTS_PER_MINUTE)
    name = _key_name(api_key)
    if url := settings.PULSE_PAGERDUTY_PACING_URL:
        return _RedisPacer(_redis(url), name, per_minute)
    with _local_pacers_lock:
        pacer = _local_pacers.get(name)
        if pacer is None or pacer.per_minute != per_minute:
            pacer = _local_pacers[name] = _LocalPacer(per_minute)
        return pacer


class _PacedClient(RestApiV2Client):
    """PagerDuty's REST client, pacing every attempt (retries too) and honouring ``Retry-After``.

    The client itself retries a 429 after a sleep that doubles (``sleep_timer``); with ``retry`` set for 429
    it gives up after that many and returns the 429, which :func:`_checked` turns into ``rate_limited``."""

    sleep_timer = 0.1  # the client doubles it before each retry (0.2, 0.4, 0.8, 1.6 s), after Retry-After

    def __init__(self, api_key: str, *, base_url: str, pacer: _Pacer) -> None:
        self.pacer = pacer
        super().__init__(
            api_key,
            base_url=base_url,
            event_hooks={"request": [self._before_request]},
            verify=_tls_context(),
        )
        self.retry = {429: RATE_LIMIT_RETRIES}
        self.max_network_attempts = 2

    def _before_request(self, request: httpx2.Request) -> None:
        self.pacer.wait_turn()

    def postprocess(self, response: httpx2.Response, suffix: str | None = None) -> None:
        super().postprocess(response, suffix)
        if response.status_code == 429:
            try:
                seconds = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                seconds = 1.0
            self.pacer.pause(min(max(seconds, 0.0), MAX_RETRY_AFTER))


def _tls_context() -> ssl.SSLContext:
    """The system's trust store, or ``PULSE_PAGERDUTY_CA_BUNDLE`` instead when set."""
    return ssl.create_default_context(cafile=settings.PULSE_PAGERDUTY_CA_BUNDLE or None)


def _client(connection: PagerDutyConnection, api_key: str | None = None) -> _PacedClient:
    if api_key is None:
        try:
            api_key = secret_open(
                connection.api_key_sealed, purpose=API_KEY_PURPOSE, context=str(connection.pk)
            )
        except SealError:
            raise PagerDutySyncError(SyncOutcome.KEY_UNREADABLE) from None
    return _PacedClient(api_key, base_url=connection.api_url, pacer=pacer_for(api_key))


def _collect(records: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, with the client's exceptions turned into a reason (never its message, which may quote
    the request or the key's last characters)."""
    try:
        return list(records)
    except HttpError as error:
        raise _http_failure(error.response.status_code if error.response is not None else None) from None
    except (PagerDutyClientError, httpx2.HTTPError, OSError):
        raise PagerDutySyncError(SyncOutcome.UNREACHABLE) from None
    except (ValueError, KeyError, TypeError):
        raise PagerDutySyncError(SyncOutcome.BAD_RESPONSE) from None


def _http_failure(status: int | None) -> PagerDutySyncError:
    if status == 401:
        return PagerDutySyncError(SyncOutcome.KEY_REFUSED, status)
    if status in (402, 403):
        return PagerDutySyncError(SyncOutcome.FORBIDDEN, status)
    if status == 429:
        return PagerDutySyncError(SyncOutcome.RATE_LIMITED, status)
    return PagerDutySyncError(SyncOutcome.SERVER_ERROR, status)


def _history(
    client: _PacedClient, path: str, since: datetime, until: datetime, params: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every record of ``path`` in [since, until): the client's ``iter_history`` asks for the total first and
    halves the range while it holds more than offset + limit may reach (10,000)."""
    with warnings.catch_warnings():
        # "may yield duplicate results when used with GET /oncalls": an on-call spanning two halves comes
        # back in both; shifts_from_oncalls keeps one.
        warnings.filterwarnings("ignore", message="iter_history may yield duplicate", category=UserWarning)
        yield from client.iter_history(path, since, until, params={"time_zone": "UTC", **params})


def _fetch(
    client: _PacedClient, link: PagerDutyTeamLink, since: datetime, until: datetime, fallback_zone: str
) -> tuple[list[Shift], list[Page]]:
    team = str(link.team_id)
    oncalls: list[dict[str, Any]] = []
    filters: dict[str, Any] = {}
    if link.schedule_ids:
        filters["schedule_ids[]"] = list(link.schedule_ids)
    if link.escalation_policy_ids:
        filters["escalation_policy_ids[]"] = list(link.escalation_policy_ids)
    if filters:
        for start, end in windows(since, until, ONCALL_WINDOW):
            oncalls += _collect(_history(client, "/oncalls", start, end, filters))
    try:
        shifts = shifts_from_oncalls(oncalls, team=team, since=since, until=until)
    except (ValueError, KeyError, TypeError):
        raise PagerDutySyncError(SyncOutcome.BAD_RESPONSE) from None

    if not (link.service_ids or link.escalation_policy_ids):
        return shifts, []
    incident_filters: dict[str, Any] = {}
    if link.service_ids:
        incident_filters["service_ids[]"] = list(link.service_ids)
    incidents: list[dict[str, Any]] = []
    for start, end in windows(since - INCIDENT_LOOKBACK, until, INCIDENT_WINDOW):
        incidents += _collect(_history(client, "/incidents", start, end, incident_filters))
    facts = incident_facts(incidents)
    if not link.service_ids:
        policies = set(link.escalation_policy_ids)
        facts = {key: fact for key, fact in facts.items() if fact.escalation_policy_id in policies}
    if not facts:
        return shifts, []
    entries: list[dict[str, Any]] = []
    for start, end in windows(since, until, INCIDENT_WINDOW):
        entries += _collect(_history(client, "/log_entries", start, end, {"is_overview": "false"}))
    entries = [entry for entry in entries if (entry.get("incident") or {}).get("id") in facts]
    zones = _user_zones(client, notified_users(entries))
    try:
        pages = pages_from_log_entries(
            entries, team=team, incidents=facts, user_zones=zones, fallback_zone=fallback_zone
        )
    except (ValueError, KeyError, TypeError):
        raise PagerDutySyncError(SyncOutcome.BAD_RESPONSE) from None
    return shifts, pages


def _user_zones(client: _PacedClient, users: set[str]) -> dict[str, str]:
    """Each notified user's time zone (``GET /users/{id}``); a user PagerDuty no longer has is left out (the
    team's zone stands in)."""
    zones: dict[str, str] = {}
    for user in sorted(users):
        try:
            record = client.rget(f"/users/{user}")
        except HttpError as error:
            status = error.response.status_code if error.response is not None else None
            if status == 404:
                continue
            raise _http_failure(status) from None
        except (PagerDutyClientError, httpx2.HTTPError, OSError):
            raise PagerDutySyncError(SyncOutcome.UNREACHABLE) from None
        if isinstance(record, Mapping) and isinstance(record.get("time_zone"), str):
            zones[user] = str(record["time_zone"])
    return zones


# --- Saving the connection --------------------------------------------------------------------------------


def _check_key(api_url: str, api_key: str) -> None:
    """One cheap authenticated request (``GET /users?limit=1``): a wrong key is refused when saved."""
    client = _PacedClient(api_key, base_url=api_url, pacer=pacer_for(api_key))
    try:
        response = client.get("/users", params={"limit": 1})
    except HttpError as error:
        raise _http_failure(error.response.status_code if error.response is not None else None) from None
    except (PagerDutyClientError, httpx2.HTTPError, OSError):
        raise PagerDutySyncError(SyncOutcome.UNREACHABLE) from None
    if not response.is_success:
        raise _http_failure(response.status_code)


KEY_ERRORS = {
    SyncOutcome.KEY_REFUSED: _(
        "PagerDuty refused this API key. Check that you copied the whole key and "
        "that it has not been deleted."
    ),
    SyncOutcome.FORBIDDEN: _(
        "PagerDuty accepted the key but does not let it read users. Use a read-only "
        "account key (REST API key), not a user token limited to other objects."
    ),
    SyncOutcome.RATE_LIMITED: _("PagerDuty is rate limiting this key right now. Try again in a minute."),
    SyncOutcome.UNREACHABLE: _(
        "PagerDuty could not be reached, so the key was not checked and not saved. Try again later."
    ),
    SyncOutcome.SERVER_ERROR: _(
        "PagerDuty answered with an error, so the key was not checked and not saved. Try again later."
    ),
    SyncOutcome.BAD_RESPONSE: _("PagerDuty's answer could not be read, so the key was not saved."),
}


def pagerduty_connection_save(*, organisation_id: int, api_url: str, api_key: str) -> PagerDutyConnection:
    """Save the organisation's REST API key (checked against PagerDuty first, sealed) and service region.

    An empty ``api_key`` keeps the stored one (the page never shows it, so a form saved again without
    retyping it must not erase it). A key PagerDuty refuses is a field error on ``api_key`` and nothing is
    stored."""
    api_key = api_key.strip()
    if api_url not in settings.PULSE_PAGERDUTY_API_URLS:
        raise ValidationError({"api_url": _("Choose one of PagerDuty's service regions.")})
    existing = PagerDutyConnection.objects.filter(organisation_id=organisation_id).first()
    if not api_key and existing is None:
        raise ValidationError({"api_key": _("Enter the REST API key.")})
    if api_key and (len(api_key) > 200 or any(ch.isspace() for ch in api_key)):
        raise ValidationError({"api_key": _("An API key is one word of at most 200 characters.")})
    if api_key or existing is None or existing.api_url != api_url:
        key = api_key or _open_key(existing)  # type: ignore[arg-type]
        try:
            _check_key(api_url, key)
        except PagerDutySyncError as error:
            message = KEY_ERRORS.get(error.outcome, KEY_ERRORS[SyncOutcome.SERVER_ERROR])
            raise ValidationError({"api_key": message}) from None
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
        connection, _created = PagerDutyConnection.objects.get_or_create(
            organisation=organisation,
            defaults={
                "api_url": api_url,
                "api_key_sealed": "",
                "api_key_hint": "",
                "webhook_token": new_webhook_token(),
            },
        )
        connection.api_url = api_url
        if api_key:
            connection.api_key_sealed = secret_seal(
                api_key, purpose=API_KEY_PURPOSE, context=str(connection.pk)
            )
            connection.api_key_hint = secret_hint(api_key)
        connection.save()
    return connection


def _open_key(connection: PagerDutyConnection) -> str:
    try:
        return secret_open(connection.api_key_sealed, purpose=API_KEY_PURPOSE, context=str(connection.pk))
    except SealError:
        raise ValidationError(
            {"api_key": _("The stored key cannot be opened (PULSE_SECRET_KEYS changed). Enter it again.")}
        ) from None


def _connection_of(organisation_id: int) -> PagerDutyConnection:
    connection = PagerDutyConnection.objects.filter(organisation_id=organisation_id).first()
    if connection is None:
        raise ValidationError(_("Save the PagerDuty API key first."))
    return connection


def pagerduty_webhook_secret_add(*, organisation_id: int, secret: str) -> PagerDutyWebhookSecret:
    """Add a signing secret of the webhook subscription (sealed). Two may be current while PagerDuty rotates
    them; a third is refused, so an old one is never forgotten in place."""
    secret = secret.strip()
    if not secret or len(secret) > 200 or any(ch.isspace() for ch in secret):
        raise ValidationError(
            {"secret": _("Paste the subscription's signing secret: one word, at most 200 characters.")}
        )
    with transaction.atomic():
        connection = PagerDutyConnection.objects.select_for_update().get(
            pk=_connection_of(organisation_id).pk
        )
        stored = list(connection.webhook_secrets.all())
        if len(stored) >= 2:
            raise ValidationError(
                {"secret": _("There are two signing secrets already. Remove the old one first.")}
            )
        for row in stored:
            if (
                secret_open(row.secret_sealed, purpose=WEBHOOK_SECRET_PURPOSE, context=str(connection.pk))
                == secret
            ):
                raise ValidationError({"secret": _("This signing secret is already saved.")})
        return PagerDutyWebhookSecret.objects.create(
            connection=connection,
            secret_sealed=secret_seal(secret, purpose=WEBHOOK_SECRET_PURPOSE, context=str(connection.pk)),
            hint=secret_hint(secret),
        )


def pagerduty_webhook_secret_remove(*, organisation_id: int, secret_id: int) -> bool:
    connection = _connection_of(organisation_id)
    deleted, _rows = PagerDutyWebhookSecret.objects.filter(connection=connection, pk=secret_id).delete()
    return bool(deleted)


def _ids(value: Sequence[str], field: str) -> list[str]:
    cleaned: list[str] = []
    for item in value:
        item = item.strip()
        if not item:
            continue
        if len(item) > MAX_ID_LENGTH or not item.isascii() or not item.isalnum():
            raise ValidationError({field: _("PagerDuty ids are letters and digits, like PABC123.")})
        if item not in cleaned:
            cleaned.append(item)
    if len(cleaned) > MAX_IDS:
        raise ValidationError({field: _("At most 50 ids.")})
    return cleaned


def pagerduty_team_link_save(
    *,
    organisation_id: int,
    team_id: int,
    schedule_ids: Sequence[str],
    escalation_policy_ids: Sequence[str],
    service_ids: Sequence[str],
    pagerduty_team_id: str = "",
) -> PagerDutyTeamLink:
    """Say which PagerDuty schedules, escalation policies and services are the team's, and which PagerDuty
    team Analytics is asked about (empty: Analytics is not asked). Changing the objects starts the team's
    sync afresh (a new schedule's past is read too); what is stored stays. Changing the PagerDuty team drops
    the Analytics figures of the one before (they were another team's) and asks again."""
    schedules = _ids(schedule_ids, "schedule_ids")
    policies = _ids(escalation_policy_ids, "escalation_policy_ids")
    services = _ids(service_ids, "service_ids")
    pagerduty_teams = _ids(pagerduty_team_id.replace(",", " ").split(), "pagerduty_team_id")
    if len(pagerduty_teams) > 1:
        raise ValidationError({"pagerduty_team_id": _("Name one PagerDuty team.")})
    pagerduty_team = pagerduty_teams[0] if pagerduty_teams else ""
    if not (schedules or policies):
        raise ValidationError(
            {"schedule_ids": _("Name at least one schedule or escalation policy: they say who is on call.")}
        )
    with transaction.atomic():
        connection = _connection_of(organisation_id)
        team = Team.objects.filter(organisation_id=organisation_id, pk=team_id).first()
        if team is None:
            raise ValidationError({"team": _("Choose a team of this organisation.")})
        link, created = PagerDutyTeamLink.objects.select_for_update().get_or_create(
            team=team,
            defaults={
                "connection": connection,
                "schedule_ids": schedules,
                "escalation_policy_ids": policies,
                "service_ids": services,
                "pagerduty_team_id": pagerduty_team,
            },
        )
        if not created and (link.schedule_ids, link.escalation_policy_ids, link.service_ids) != (
            schedules,
            policies,
            services,
        ):
            link.schedule_ids, link.escalation_policy_ids, link.service_ids = schedules, policies, services
            link.synced_until = None
            link.save()
        if not created and link.pagerduty_team_id != pagerduty_team:
            PagerDutyAnalyticsWeek.objects.filter(team=team).delete()
            link.pagerduty_team_id = pagerduty_team
            link.analytics_state, link.analytics_status, link.analytics_checked_at = "", None, None
            link.save()
    return link


def pagerduty_team_link_delete(*, organisation_id: int, link_id: int) -> bool:
    """Stop syncing a team; its stored shifts and pages stay (they are the team's history)."""
    deleted, _rows = PagerDutyTeamLink.objects.filter(
        pk=link_id, connection__organisation_id=organisation_id
    ).delete()
    return bool(deleted)


# --- Requesting and running syncs -------------------------------------------------------------------------


def _enqueue(link_id: int) -> None:
    # By name: a service enqueues a task without importing the task layer above it.
    try:
        current_app.send_task(SYNC_TASK, args=[link_id], retry=False)
    except Exception as error:  # the broker is down: the request row stays, the hourly beat asks again
        logger.warning("pagerduty: cannot queue a sync (%s); the next hourly run will", type(error).__name__)


def pagerduty_sync_request(*, link_id: int, now: datetime | None = None) -> bool:
    """Ask for a sync of one team, queued when this transaction commits; False when one is already queued
    (a burst of webhooks for one incident queues one sync). A request older than :data:`REQUEST_STALE`
    that never started counts as lost and is queued again."""
    moment = now or timezone.now()
    claimed = PagerDutyTeamLink.objects.filter(
        Q(sync_requested_at__isnull=True) | Q(sync_requested_at__lt=moment - REQUEST_STALE), pk=link_id
    ).update(sync_requested_at=moment)
    if claimed:
        transaction.on_commit(lambda: _enqueue(link_id))
    return bool(claimed)


def pagerduty_syncs_request_all(*, now: datetime | None = None) -> int:
    """The hourly beat's step: a sync request for every linked team (deduplicated as above)."""
    links = PagerDutyTeamLink.objects.values_list("pk", flat=True)
    return sum(pagerduty_sync_request(link_id=link_id, now=now) for link_id in links)


@dataclass(frozen=True)
class SyncReport:
    outcome: SyncOutcome
    since: datetime | None = None
    until: datetime | None = None
    shifts_new: int = 0
    pages_new: int = 0
    status: int | None = None


def pagerduty_team_sync(
    *, link_id: int, now: datetime | None = None, since: datetime | None = None
) -> SyncReport | None:
    """Sync one team from its cursor (less :data:`CURSOR_OVERLAP`; the first time, the last
    :data:`FIRST_SYNC_SPAN`, or from ``since`` when given) to now. None when the team is not linked (any
    more) or another worker is syncing it. Safe to run twice: rows already stored are not stored again."""
    moment = now or timezone.now()
    claimed = PagerDutyTeamLink.objects.filter(
        Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=moment - SYNC_LEASE), pk=link_id
    ).update(sync_started_at=moment, sync_requested_at=None)
    if not claimed:
        return None
    link = PagerDutyTeamLink.objects.select_related("connection", "team__organisation").get(pk=link_id)
    start = since or (link.synced_until - CURSOR_OVERLAP if link.synced_until else moment - FIRST_SYNC_SPAN)
    report: SyncReport
    try:
        client = _client(link.connection)
        fallback_zone = link.team.effective_time_zone
        shifts, pages = _fetch(client, link, start, moment, fallback_zone)
        stored = oncall_rows_store(team_id=link.team_id, shifts=shifts, pages=pages, source="pagerduty")
        _analytics_check(client, link, moment)
        report = SyncReport(
            SyncOutcome.OK,
            start,
            moment,
            shifts_new=stored.shifts_new,
            pages_new=stored.pages_new,
        )
    except PagerDutySyncError as error:
        logger.warning(
            "pagerduty: sync of team %s stopped: %s (%s)", link.team_id, error.outcome, error.status
        )
        report = SyncReport(error.outcome, start, moment, status=error.status)
    except BaseException:
        # Not PagerDuty's doing (a bug, the database): give the lease back so the next request retries.
        PagerDutyTeamLink.objects.filter(pk=link_id, sync_started_at=moment).update(sync_started_at=None)
        raise
    finished = PagerDutyTeamLink.objects.filter(pk=link_id, sync_started_at=moment)
    changes: dict[str, Any] = {
        "sync_started_at": None,
        "last_sync_at": timezone.now(),
        "last_sync_outcome": report.outcome,
        "last_sync_status": report.status,
    }
    if report.outcome == SyncOutcome.OK:
        changes.update(
            synced_until=moment, last_shifts_new=report.shifts_new, last_pages_new=report.pages_new
        )
    finished.update(**changes)
    again = PagerDutyTeamLink.objects.filter(pk=link_id, sync_requested_at__isnull=False).exists()
    if again:  # a webhook came while this ran: what it announced may be after ``moment``
        transaction.on_commit(lambda: _enqueue(link_id))
    return report


# --- Analytics -------------------------------------------------------------------------------------------


def _analytics_due(link: PagerDutyTeamLink, moment: datetime) -> list[AnalyticsWeek]:
    """The weeks to ask Analytics about: settled weeks (ended :data:`ANALYTICS_DELAY` ago) from the team's
    first stored week (none before can be compared) within :data:`FIRST_SYNC_SPAN`, not asked yet. A week
    is asked once, so each sync after the first asks about one new week at most."""
    first = (
        OncallWeek.objects.filter(team_id=link.team_id)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    if first is None:
        return []
    weeks = analytics_weeks(
        max(first, moment - FIRST_SYNC_SPAN), moment - ANALYTICS_DELAY, link.team.effective_time_zone
    )
    asked = set(
        PagerDutyAnalyticsWeek.objects.filter(
            team_id=link.team_id, week_start__in=[week.monday for week in weeks]
        ).values_list("week_start", flat=True)
    )
    return [week for week in weeks if week.monday not in asked]


def _analytics_check(client: _PacedClient, link: PagerDutyTeamLink, moment: datetime) -> None:
    """Ask Analytics about the team's due weeks and store each week's team sums (docs/oncall.md §9.1).

    Never fails the sync: the log entries are stored already and stay the figures shown. A 402, 403 or 404
    says the account or key has no Analytics (asked again after :data:`ANALYTICS_RETRY`); any other error
    stops at that week, which the next sync asks again. The responder rows are summed as they are read;
    no responder id leaves :func:`analytics_team_interruptions`."""
    if not link.pagerduty_team_id:
        return
    if (
        link.analytics_state == AnalyticsState.UNAVAILABLE
        and link.analytics_checked_at is not None
        and link.analytics_checked_at > moment - ANALYTICS_RETRY
    ):
        return
    due = _analytics_due(link, moment)
    if not due:
        return
    zone_name = link.team.effective_time_zone
    state, status = AnalyticsState.AVAILABLE, None
    for week in due:
        try:
            answer = client.rpost(
                ANALYTICS_PATH, json=analytics_request(link.pagerduty_team_id, week, zone_name)
            )
            split = analytics_team_interruptions(answer, link.pagerduty_team_id)
        except HttpError as error:
            status = error.response.status_code if error.response is not None else None
            state = AnalyticsState.UNAVAILABLE if status in ANALYTICS_UNAVAILABLE else AnalyticsState.FAILED
            break
        except (PagerDutyClientError, httpx2.HTTPError, OSError, ValueError, KeyError, TypeError):
            state = AnalyticsState.FAILED
            break
        PagerDutyAnalyticsWeek.objects.update_or_create(
            team_id=link.team_id,
            week_start=week.monday,
            defaults={
                "starts_at": week.starts_at,
                "ends_at": week.ends_at,
                "interruptions_business": split.business,
                "interruptions_off": split.off,
                "interruptions_sleep": split.sleep,
                "fetched_at": timezone.now(),
            },
        )
    if state != AnalyticsState.AVAILABLE:
        logger.info(
            "pagerduty: Analytics for team %s: %s (%s); interruptions from log entries only",
            link.team_id,
            state,
            status,
        )
    PagerDutyTeamLink.objects.filter(pk=link.pk).update(
        analytics_state=state, analytics_status=status, analytics_checked_at=moment
    )


# --- Webhooks ---------------------------------------------------------------------------------------------


def pagerduty_webhook_receive(
    *, token: str, body: bytes, signature_header: str | None, now: datetime | None = None
) -> int:
    """A webhook delivery (v3): verified against every current signing secret of the connection the URL
    names, then, for an incident event of a linked team's service or escalation policy, a sync request for
    that team (deduplicated). The number of syncs requested. :class:`WebhookRefused` (nothing changed) when
    the URL names no connection (404), the signature is absent or wrong (401), or the event is malformed or
    stale (400).

    The event itself is not stored: it names an incident and who acted on it, not who was notified by which
    channel, so a sync reads the notifications from the REST API (docs/oncall.md §9)."""
    moment = now or timezone.now()
    connection = PagerDutyConnection.objects.filter(webhook_token=token).first()
    if connection is None:
        raise WebhookRefused(404, "no connection at this address")
    secrets = []
    for row in connection.webhook_secrets.all():
        try:
            secrets.append(
                secret_open(row.secret_sealed, purpose=WEBHOOK_SECRET_PURPOSE, context=str(connection.pk))
            )
        except SealError:
            continue
    if not signature_header:
        raise WebhookRefused(401, "unsigned delivery")
    if not signature_matches(body, signature_header, secrets):
        raise WebhookRefused(401, "no signature matches a current secret")
    event = webhook_event(body, now=moment)
    if event.event_type not in SYNCED_EVENT_TYPES:
        return 0
    requested = 0
    with transaction.atomic():
        for link in connection.team_links.all():
            if (event.service_id and event.service_id in link.service_ids) or (
                event.escalation_policy_id and event.escalation_policy_id in link.escalation_policy_ids
            ):
                requested += pagerduty_sync_request(link_id=link.pk, now=moment)
    return requested
