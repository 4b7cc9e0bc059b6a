"""``GET /metrics``: Pulse's own metrics in Prometheus' text format, for a bearer token only.

Written with ``prometheus-client`` (its metric families and text exposition), not django-prometheus: the
latter measures requests and queries of the process that answers, in that process's memory, while what an
operator of Pulse needs is the state of the system (due messages, rounds, the tick) and what the workers
did. The workers run in other processes, usually on other machines, so a counter in their memory would
reach no scrape of the web tier (prometheus-client's multiprocess mode only shares one machine's
processes) and would reset at every restart. Every value here is therefore read from the database at
scrape time: gauges from the outboxes, rounds and tick heartbeat, counters from the totals the senders and
drains add to with one UPDATE per batch (``surveys.models.DeliveryCount``, ``StepTiming``) and, for the
team results' messages, from their outbox rows, which are kept. Any web process gives the same answer, so
a load balancer may send the scrape to any of them.

Access: ``PULSE_METRICS_TOKEN`` unset means the endpoint does not exist (404); otherwise a request needs
``Authorization: Bearer <token>`` (401 without one, 403 with a wrong one; compared in constant time).
Labels are kinds and step names only: no address, name, team or round (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pulse.selectors.operations import OperationsSnapshot, operations_snapshot
from surveys.models import DeliveryCount


class PulseCollector(Collector):
    """The metric families of one snapshot (read before the collector is asked, so one scrape is one read)."""

    def __init__(self, snapshot: OperationsSnapshot, read_seconds: float) -> None:
        self.snapshot = snapshot
        self.read_seconds = read_seconds

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        due = GaugeMetricFamily(
            "pulse_messages_due", "Messages due now and not yet handled, per transport.", labels=["transport"]
        )
        oldest = GaugeMetricFamily(
            "pulse_messages_oldest_due_age_seconds",
            "Seconds since the oldest message still due fell due, per transport (0: none due).",
            labels=["transport"],
        )
        for transport, value in snap.due.items():
            due.add_metric([transport], value.count)
            age = (snap.now - value.oldest_due_at).total_seconds() if value.oldest_due_at else 0.0
            oldest.add_metric([transport], max(age, 0.0))
        yield due
        yield oldest

        messages = CounterMetricFamily(
            "pulse_messages",
            "Messages recorded by the senders since the installation began, per transport and outcome.",
            labels=["transport", "outcome"],
        )
        for transport in DeliveryCount.Transport.values:
            for outcome in DeliveryCount.Outcome.values:
                messages.add_metric([transport, outcome], snap.deliveries.get((transport, outcome), 0))
        yield messages

        team_results = CounterMetricFamily(
            "pulse_team_results_messages",
            "The team summaries' and no-action reminders' messages, per kind, channel and outcome: queued "
            "(every message ever queued), sent, failed (given up).",
            labels=["kind", "channel", "outcome"],
        )
        for (kind, channel, outcome), n in sorted(snap.team_results.items()):
            team_results.add_metric([kind, channel, outcome], n)
        yield team_results

        rounds = GaugeMetricFamily(
            "pulse_rounds",
            "Rounds by state: open (before their close), closing (past their close, not yet counted), "
            "aggregating (counted, not yet aggregated).",
            labels=["state"],
        )
        for state, n in snap.rounds.items():
            rounds.add_metric([state], n)
        yield rounds

        if snap.tick_started_at is not None:
            yield GaugeMetricFamily(
                "pulse_tick_age_seconds",
                "Seconds since the last minute tick started (absent: no tick has run yet).",
                value=max((snap.now - snap.tick_started_at).total_seconds(), 0.0),
            )
            if snap.tick_finished_at is not None:
                yield GaugeMetricFamily(
                    "pulse_tick_duration_seconds",
                    "How long the last finished minute tick took (dispatching; the drains run after it).",
                    value=(snap.tick_finished_at - snap.tick_started_at).total_seconds(),
                )

        families = {
            "runs": CounterMetricFamily("pulse_step_runs", "Runs of each tick step.", labels=["step"]),
            "rows": CounterMetricFamily("pulse_step_rows", "Rows each tick step handled.", labels=["step"]),
            "seconds": CounterMetricFamily(
                "pulse_step_seconds", "Seconds each tick step took, summed over its runs.", labels=["step"]
            ),
            "failures": CounterMetricFamily("pulse_step_failures", "Runs that raised.", labels=["step"]),
        }
        for path, totals in sorted(snap.steps.items()):
            step = path.rsplit(".", 1)[-1]
            for name, family in families.items():
                family.add_metric([step], getattr(totals, name))
        yield from families.values()

        yield GaugeMetricFamily(
            "pulse_metrics_read_seconds",
            "Seconds this scrape spent reading the database.",
            value=self.read_seconds,
        )


def _authorised(request: HttpRequest, token: str) -> int | None:
    """None if the request carries the token; else the status to answer (401: no bearer token, 403: wrong)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return 401
    return None if hmac.compare_digest(given.strip().encode(), token.encode()) else 403


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.PULSE_METRICS_TOKEN
    if not token:
        raise Http404("metrics are off: PULSE_METRICS_TOKEN is not set")
    refused = _authorised(request, token)
    if refused == 401:
        response = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="pulse-metrics"'
        return response
    if refused == 403:
        return HttpResponse("wrong token\n", status=403, content_type="text/plain")
    started = time.perf_counter()
    try:
        snapshot = operations_snapshot(now=timezone.now())
    except DatabaseError as error:
        # Prometheus records the failed scrape (up == 0); /health/ says why. No traceback per scrape.
        return HttpResponse(
            f"database unavailable: {type(error).__name__}\n", status=503, content_type="text/plain"
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PulseCollector(snapshot, time.perf_counter() - started))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
