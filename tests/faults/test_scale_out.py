"""More workers share the work: two workers and two beats (a repeated tick) send every email of a 2,000-person
round exactly once, counted at the SMTP sink, on Redis and on RabbitMQ; and a worker killed mid-batch while
another runs loses nothing and doubles at most the groups it had in flight."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest

from surveys.models import Invitation, Round
from surveys.services import emails as emails_module
from tests.faults.conftest import Deployment, SmtpSink, record
from tests.helpers_rounds import open_round

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
CONCURRENCY = 2  # worker processes per worker


def _on(deployment: Deployment, broker: str) -> None:
    """The deployment's broker: its own Redis (the fixture's), or the machine's RabbitMQ with queues of this
    test's own (another run on the same RabbitMQ must not take its tasks)."""
    if broker == "rabbitmq":
        deployment.extra_env.update(
            CELERY_BROKER_URL=RABBITMQ, PULSE_QUEUE_PREFIX=f"faults-{uuid.uuid4().hex[:12]}-"
        )


def _sent(round_: Round) -> int:
    return Invitation.objects.filter(round=round_, email_outcomes__startswith="s").count()


def _wait_until_sent(round_: Round, count: int, *, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout and _sent(round_) < count:
        time.sleep(0.5)
    return time.monotonic() - started


def _emails_sent_by(deployment: Deployment, worker: object) -> int:
    """What one worker's log says it sent ("emails: N sent, M skipped" per batch)."""
    log = deployment.processes.log_of(worker)  # type: ignore[arg-type]
    return sum(int(n) for n in re.findall(r"emails: (\d+) sent", log))


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], ids=["own-redis-broker", "rabbitmq-broker"])
def test_two_workers_and_a_repeated_tick_send_each_email_of_a_2000_person_round_once(
    deployment: Deployment, smtp_sink: SmtpSink, broker: str
) -> None:
    _on(deployment, broker)
    smtp_sink.sink.delay = 0.002  # a nearby relay: the workers, not the sink, set the pace
    setup = open_round(people_per_team=(1000, 1000), instruments=("workload1",))
    invitations = Invitation.objects.filter(round=setup.round).count()
    first = deployment.start_worker(concurrency=CONCURRENCY, name="first")
    second = deployment.start_worker(concurrency=CONCURRENCY, name="second")
    deployment.start_beat()
    deployment.start_beat(schedule="second-beat")  # every tick twice
    waited = _wait_until_sent(setup.round, invitations, timeout=240)
    time.sleep(2)  # anything sent twice would arrive now
    sink = smtp_sink.sink
    shares = (_emails_sent_by(deployment, first), _emails_sent_by(deployment, second))
    record(
        f"2 workers x {CONCURRENCY} processes, 2 beats, {invitations} invitations ({broker})",
        "each delivered once; both workers send",
        f"{len(sink.received)} addresses reached, {sink.duplicates} duplicates, in {waited:.1f} s; "
        f"sent by worker 1/2: {shares[0]}/{shares[1]}",
    )
    assert waited < 240, deployment.processes.tails()
    assert len(sink.received) == invitations
    assert sink.duplicates == 0
    assert _sent(setup.round) == invitations
    assert all(share > 0 for share in shares), shares  # the backlog was shared
    assert sum(shares) == invitations


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], ids=["own-redis-broker", "rabbitmq-broker"])
def test_a_worker_killed_mid_batch_beside_another_loses_nothing(
    deployment: Deployment, smtp_sink: SmtpSink, broker: str
) -> None:
    _on(deployment, broker)
    smtp_sink.sink.delay = 0.01
    setup = open_round(people_per_team=(200,), instruments=("workload1",))
    invitations = Invitation.objects.filter(round=setup.round).count()
    doomed = deployment.start_worker(concurrency=CONCURRENCY, name="doomed")
    deployment.start_worker(concurrency=CONCURRENCY, name="survivor")
    deployment.start_beat()
    deadline = time.monotonic() + 120
    while smtp_sink.sink.total < invitations // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool: a machine lost mid-batch
    doomed.wait(timeout=10)
    delivered_before = smtp_sink.sink.total
    waited = _wait_until_sent(setup.round, invitations, timeout=120)
    time.sleep(2)
    sink = smtp_sink.sink
    # Each of the killed worker's processes had at most one group of sends not yet recorded.
    bound = CONCURRENCY * emails_module.RECORD_EVERY_MESSAGES
    record(
        f"1 of 2 workers SIGKILLed while sending {invitations} invitations ({broker})",
        f"each delivered, <= {bound} duplicates (the killed worker's groups in flight)",
        f"killed after {delivered_before}; {len(sink.received)} addresses reached, {sink.duplicates} "
        f"duplicates, all recorded sent {waited:.1f} s later",
    )
    assert waited < 120, deployment.processes.tails()
    assert delivered_before < invitations
    assert len(sink.received) == invitations
    assert sink.duplicates <= bound
    assert _sent(setup.round) == invitations
