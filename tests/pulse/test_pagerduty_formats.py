"""PagerDuty's formats without the network (pulse.analysis.pagerduty): webhook signatures as PagerDuty's
"Verifying Signatures" page defines them, events and their age, time windows, the pacing arithmetic, and
on-calls and log entries as shifts and pages."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pulse.analysis.pagerduty import (
    EVENT_MAX_AGE,
    IncidentFacts,
    WebhookRefused,
    gcra_decision,
    halves,
    notification_channel,
    pages_from_log_entries,
    shifts_from_oncalls,
    signature,
    signature_matches,
    webhook_event,
    windows,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BODY = json.dumps(
    {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": "incident.triggered",
            "resource_type": "incident",
            "occurred_at": "2026-03-10T11:58:00.169Z",
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "service": {"id": "PF9KMXH", "type": "service_reference"},
                "escalation_policy": {"id": "PUS0KTE", "type": "escalation_policy_reference"},
                "urgency": "high",
            },
        }
    }
).encode()


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body_prefixed_v1() -> None:
    # Computed independently of the module: PagerDuty's own recipe, step 2 of "Verifying Signatures".
    expected = "v1=" + hmac.new(b"s3cr3t-of-the-subscription", BODY, hashlib.sha256).hexdigest()
    assert signature(BODY, "s3cr3t-of-the-subscription") == expected
    assert signature_matches(BODY, expected, ["s3cr3t-of-the-subscription"])


def test_any_of_several_signatures_and_any_current_secret_is_enough() -> None:
    old, new = "old-secret-abcdefgh", "new-secret-ijklmnop"
    header = f"{signature(BODY, new)},{signature(BODY, old)}"  # PagerDuty signs with each secret it has
    assert signature_matches(BODY, header, [old])
    assert signature_matches(BODY, header, [new])
    assert signature_matches(BODY, signature(BODY, new), [old, new])
    assert signature_matches(BODY, f"v1=deadbeef, {signature(BODY, old)}", [old])  # spaces are tolerated


def test_a_wrong_absent_or_other_version_signature_does_not_match() -> None:
    secret = "the-secret-1234567"
    good = signature(BODY, secret)
    assert not signature_matches(BODY, None, [secret])
    assert not signature_matches(BODY, "", [secret])
    assert not signature_matches(BODY, good, [])
    assert not signature_matches(BODY, good, ["another-secret-999"])
    assert not signature_matches(BODY + b" ", good, [secret])  # one byte more: the raw body counts
    assert not signature_matches(BODY, good.replace("v1=", "v2="), [secret])
    assert not signature_matches(BODY, good.removeprefix("v1="), [secret])
    assert not signature_matches(BODY, good.upper(), [secret])


def test_an_event_is_read_with_its_service_and_policy() -> None:
    event = webhook_event(BODY, now=NOW)
    assert event.event_type == "incident.triggered"
    assert event.occurred_at == datetime(2026, 3, 10, 11, 58, 0, 169000, tzinfo=UTC)
    assert (event.service_id, event.escalation_policy_id) == ("PF9KMXH", "PUS0KTE")


def test_an_event_older_than_the_window_or_from_the_future_is_refused_as_stale() -> None:
    occurred = datetime(2026, 3, 10, 11, 58, 0, 169000, tzinfo=UTC)
    assert webhook_event(BODY, now=occurred + EVENT_MAX_AGE).id  # the edge is inside
    with pytest.raises(WebhookRefused, match="stale") as refused:
        webhook_event(BODY, now=occurred + EVENT_MAX_AGE + timedelta(seconds=1))
    assert refused.value.status == 400
    with pytest.raises(WebhookRefused, match="future"):
        webhook_event(BODY, now=occurred - timedelta(minutes=6))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event": 1}',
        b'{"event": {"id": "x", "event_type": "incident.triggered"}}',
        b'{"event": {"id": "x", "event_type": "incident.triggered", "occurred_at": "2026-03-10T11:58:00"}}',
    ],
)
def test_a_malformed_event_is_refused_with_400(body: bytes) -> None:
    with pytest.raises(WebhookRefused) as refused:
        webhook_event(body, now=NOW)
    assert refused.value.status == 400


def test_windows_cover_the_range_without_gap_or_overlap() -> None:
    since, until = NOW - timedelta(days=400), NOW
    parts = list(windows(since, until, timedelta(days=180)))
    assert [b - a for a, b in parts] == [timedelta(days=180), timedelta(days=180), timedelta(days=40)]
    assert parts[0][0] == since
    assert parts[-1][1] == until
    assert all(parts[i][1] == parts[i + 1][0] for i in range(len(parts) - 1))
    (a, m), (m2, b) = halves(since, until)
    assert (a, b) == (since, until)
    assert m == m2 == since + timedelta(days=200)


def test_the_pace_lets_a_burst_through_then_spaces_requests_to_the_rate() -> None:
    per_minute, burst = 600, 10  # one every 0.1 s
    now, arrival, sent = 1000.0, None, 0
    while True:
        wait, new_arrival = gcra_decision(now, arrival, per_minute=per_minute, burst=burst)
        if wait > 0:
            break
        arrival, sent = new_arrival, sent + 1
    # At one instant: the burst and the request it tops up (the last may fall to rounding).
    assert burst <= sent <= burst + 1
    assert 0 < wait <= 0.1 + 1e-9
    # Over a long stretch at full speed the count is the rate, whatever the burst.
    now, arrival, sent = 0.0, None, 0
    while now < 60.0:
        wait, new_arrival = gcra_decision(now, arrival, per_minute=per_minute, burst=burst)
        if wait > 0:
            now += wait
            continue
        arrival, sent = new_arrival, sent + 1
    assert sent <= per_minute + burst + 1


def test_the_default_pace_keeps_any_minute_under_pagerdutys_960() -> None:
    now, arrival, times = 0.0, None, []
    while now < 180.0:
        wait, new_arrival = gcra_decision(now, arrival)
        if wait > 0:
            now += wait
            continue
        arrival = new_arrival
        times.append(now)
    busiest = max(sum(1 for t in times if start <= t < start + 60.0) for start in times)
    assert busiest <= 960


def test_oncalls_become_shifts_with_level_1_or_2_and_open_ends_cut_to_the_range() -> None:
    since, until = NOW - timedelta(days=7), NOW
    oncalls: list[dict[str, Any]] = [
        {
            "user": {"id": "PU1"},
            "escalation_level": 1,
            "start": "2026-03-05T08:00:00Z",
            "end": "2026-03-05T20:00:00Z",
        },
        {
            "user": {"id": "PU1"},
            "escalation_level": 1,
            "start": "2026-03-05T08:00:00Z",
            "end": "2026-03-05T20:00:00Z",
        },
        {
            "user": {"id": "PU2"},
            "escalation_level": 3,
            "start": "2026-03-05T08:00:00+01:00",
            "end": "2026-03-06T08:00:00+01:00",
        },
        {"user": {"id": "PU3"}, "escalation_level": 2, "start": None, "end": None},
        {"user": None, "escalation_level": 1, "start": "2026-03-05T08:00:00Z", "end": "2026-03-05T20:00:00Z"},
    ]
    shifts = shifts_from_oncalls(oncalls, team="7", since=since, until=until)
    assert [(s.responder, s.level, s.start, s.end) for s in shifts] == [
        ("PU3", 2, since, until),
        ("PU2", 2, datetime(2026, 3, 5, 7, tzinfo=UTC), datetime(2026, 3, 6, 7, tzinfo=UTC)),
        ("PU1", 1, datetime(2026, 3, 5, 8, tzinfo=UTC), datetime(2026, 3, 5, 20, tzinfo=UTC)),
    ]
    assert {s.team for s in shifts} == {"7"}


def test_notify_log_entries_become_pages_of_the_teams_incidents_only() -> None:
    incidents = {
        "PINC1": IncidentFacts("high", "PSERV1", "PPOL1"),
        "PINC2": IncidentFacts("low", "PSERV1", "PPOL1"),
    }

    def entry(incident: str, user: str, at: str, notification: str, **extra: object) -> dict[str, object]:
        return {
            "type": "notify_log_entry",
            "created_at": at,
            "incident": {"id": incident},
            "user": {"id": user, **extra},
            "notification": {"type": notification},
        }

    entries: list[dict[str, Any]] = [
        entry("PINC1", "PU1", "2026-03-05T02:00:00Z", "phone_notification"),
        entry("PINC1", "PU1", "2026-03-05T02:00:00Z", "phone_notification"),  # the same entry twice
        entry("PINC2", "PU2", "2026-03-05T03:00:00Z", "email_notification", time_zone="Asia/Tokyo"),
        entry("POTHER", "PU1", "2026-03-05T04:00:00Z", "sms_notification"),  # another team's incident
        entry("PINC1", "PU3", "2026-03-05T05:00:00Z", "slack_notification"),  # not push, phone, SMS or email
        {"type": "acknowledge_log_entry", "created_at": "2026-03-05T02:01:00Z", "incident": {"id": "PINC1"}},
    ]
    pages = pages_from_log_entries(
        entries,
        team="7",
        incidents=incidents,
        user_zones={"PU1": "America/New_York"},
        fallback_zone="Europe/Berlin",
    )
    assert [(p.responder, p.responder_zone, p.incident, p.urgency, p.channel) for p in pages] == [
        ("PU1", "America/New_York", "PINC1", "high", "phone"),
        ("PU2", "Asia/Tokyo", "PINC2", "low", "email"),
    ]


def test_the_channel_is_the_notifications_type_or_else_the_channels() -> None:
    assert notification_channel({"notification": {"type": "push_notification"}}) == "push"
    assert notification_channel({"channel": {"type": "sms"}}) == "sms"
    assert notification_channel({"notification": {"type": "?"}, "channel": {"type": "phone"}}) == "phone"
    assert notification_channel({"channel": {"type": "auto"}}) is None
