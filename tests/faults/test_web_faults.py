"""Faults met by the web tier, through real gunicorn (two sync workers) on the run's PostgreSQL: Redis
stopped and killed during check-in submits, a body nested 50,000 levels deep, and the mail server down
while people ask for sign-in links."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from pulse.models import AuthEmail
from pulse.services.auth_emails import auth_emails_send_due
from surveys.models import Participation, SealedBallot
from tests.factories import OrganisationFactory, PersonFactory
from tests.faults.conftest import Deployment, RedisServer, SmtpSink, record
from tests.helpers_rounds import answers_for, open_round

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_redis_stopped_then_killed_during_submits_loses_nothing(
    deployment: Deployment, own_redis: RedisServer
) -> None:
    """60 submits from two clients: the first third with Redis up, the second with Redis SIGSTOPped (it
    accepts connections and never answers), the last with it killed. Every submit is stored, once."""
    submits = 60
    setup = open_round(people_per_team=(submits,), instruments=("workload1",))
    answers = answers_for(setup.round)
    deployment.start_web()
    url = deployment.base_url + "/api/v1/checkin/"
    done = 0
    lock = threading.Lock()

    def submit(token: str) -> tuple[int, float]:
        nonlocal done
        started = time.monotonic()
        response = requests.post(url, json={"token": token, "answers": answers}, timeout=30)
        with lock:
            done += 1
        return response.status_code, time.monotonic() - started

    def break_redis() -> None:
        while done < submits // 3:
            time.sleep(0.01)
        own_redis.pause()
        while done < 2 * submits // 3:
            time.sleep(0.01)
        own_redis.kill()

    breaker = threading.Thread(target=break_redis)
    breaker.start()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(submit, [setup.token_of(person) for person in setup.people]))
    breaker.join(timeout=60)
    statuses = [status for status, _ in results]
    stored = Participation.objects.filter(round=setup.round).count()
    ballots = SealedBallot.objects.filter(round=setup.round).count()
    slowest = max(seconds for _, seconds in results)
    record(
        f"Redis SIGSTOPped, then killed, during {submits} submits",
        f"{submits}x 201, {submits} stored, 0 lost",
        f"{statuses.count(201)}x 201, {stored} participations, {ballots} ballots, slowest {slowest:.2f} s",
    )
    assert statuses == [201] * submits, statuses
    assert stored == ballots == submits


def test_deeply_nested_json_to_the_check_in_api_is_a_400(deployment: Deployment) -> None:
    """50,000 levels (100 KB) answered 500 (RecursionError): now a 400 in the API's format, and the
    gunicorn worker that read it goes on serving."""
    deployment.start_web()
    depth = 50_000
    body = '{"token": "x", "answers": ' + "[" * depth + "]" * depth + "}"
    response = requests.post(
        deployment.base_url + "/api/v1/checkin/",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    after = [requests.get(deployment.base_url + "/privacy/", timeout=10).status_code for _ in range(4)]
    record(
        f"JSON nested {depth:,} levels ({len(body) // 1000} KB) to /api/v1/checkin/",
        "400 in the API's format, server unharmed",
        f"{response.status_code} {response.text[:60]!r}; next 4 requests {after}",
    )
    assert response.status_code == 400
    assert "errors" in response.json()
    assert after == [200] * 4


def _sign_in_link(session: requests.Session, base: str, email: str) -> tuple[int, str, float]:
    page = session.get(base + "/login/", timeout=10)
    token = page.cookies.get("csrftoken") or session.cookies.get("csrftoken")
    started = time.monotonic()
    response = session.post(
        base + "/login/email/",
        data={"email": email, "csrfmiddlewaretoken": token},
        headers={"Referer": base + "/login/"},
        allow_redirects=False,
        timeout=30,
    )
    return response.status_code, response.headers.get("Location", ""), time.monotonic() - started


def test_sign_in_links_answer_alike_with_the_mail_server_down(
    deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    """With SMTP down a known address answered 500 and an unknown one 302 (and 3.2 s against 0.01 s with a
    slow one). Now both are queued and answered alike; once the server is back, each known address gets
    its link and the unknown ones nothing."""
    organisation = OrganisationFactory()
    known = [
        PersonFactory(organisation=organisation, email=f"known{index}@example.org").email
        for index in range(8)
    ]
    unknown = [f"nobody{index}@example.org" for index in range(8)]
    smtp_sink.stop()  # the mail server is down
    deployment.start_worker()  # woken on commit of each request: it tries at once, and fails
    deployment.start_web()
    session = requests.Session()
    answers: dict[str, list[tuple[int, str, float]]] = {"known": [], "unknown": []}
    for known_address, unknown_address in zip(known, unknown, strict=True):
        answers["known"].append(_sign_in_link(session, deployment.base_url, known_address))
        answers["unknown"].append(_sign_in_link(session, deployment.base_url, unknown_address))
    # The worker has tried the known ones against the dead server: each is still queued, backed off (and an
    # unknown one in the same batch may wait with them).
    known_rows = AuthEmail.objects.filter(address__in=known)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        known_rows.filter(attempts__gte=1).count() < len(known)
        or AuthEmail.objects.exclude(claim=None).exists()
    ):
        time.sleep(0.2)
    queued = AuthEmail.objects.count()
    known_waiting = known_rows.filter(status=AuthEmail.Status.PENDING, attempts__gte=1).count()
    # The server is back; the next tick after the back-off (1 or 2 minutes) sends them: run here, 5 minutes on
    # (within the 10-minute claim, so a worker's claim in flight still counts).
    smtp_sink.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp_sink.port,
    ):
        auth_emails_send_due(now=timezone.now() + timedelta(minutes=5))
    left = AuthEmail.objects.filter(status=AuthEmail.Status.PENDING).count()
    delivered = smtp_sink.sink.received

    def summary(kind: str) -> str:
        codes = sorted({f"{status} {location}" for status, location, _ in answers[kind]})
        median = statistics.median(seconds for _, _, seconds in answers[kind])
        return f"{kind}: {', '.join(codes)} median {median * 1000:.0f} ms"

    record(
        "SMTP down during 8 known + 8 unknown sign-in link requests",
        "same answer and time for both; known links sent once SMTP is back",
        f"{summary('known')}; {summary('unknown')}; "
        f"{queued} queued, {known_waiting} known waiting for the server; "
        f"after: {sum(delivered[address] for address in known)} to known, "
        f"{sum(delivered[address] for address in unknown)} to unknown, {left} left",
    )
    assert {(status, location) for status, location, _ in answers["known"]} == {(302, "/login/email/sent/")}
    assert {(status, location) for status, location, _ in answers["unknown"]} == {(302, "/login/email/sent/")}
    known_median = statistics.median(seconds for _, _, seconds in answers["known"])
    unknown_median = statistics.median(seconds for _, _, seconds in answers["unknown"])
    assert abs(known_median - unknown_median) < 0.1
    assert max(seconds for kind in answers.values() for _, _, seconds in kind) < 1.0
    assert queued == len(known) + len(unknown)  # one row per request, whoever asked
    assert known_waiting == len(known)  # none lost, none given up
    assert delivered == dict.fromkeys(known, 1)
    assert left == 0
