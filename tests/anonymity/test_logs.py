"""No log record holds a link token, and none puts a person next to anything they answered.

A whole round runs with every logger at DEBUG: the tick opens it, sends the invitations, people open their
links and answer through the form and the API (with the usual mistakes: a wrong answer, a second click, an
unknown link, a wrong method), a reminder goes out, and the tick closes the round. Records are taken as the
first handler gets them, before any handler's filter tidies them, because whatever handler runs first
(Django's mail_admins, an error tracker's) sees them exactly so.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import pytest
import time_machine
from django.core import mail
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from config.logging_filters import RedactTokens, redact
from surveys.models import Person, Round
from surveys.services import answering
from surveys.services.emails import emails_send_due
from surveys.services.tick import tick_run
from tests.helpers_rounds import answers_for, as_form, open_round

STANDARD_ATTRIBUTES = set(logging.LogRecord("x", logging.INFO, "x", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}
NON_PROPAGATING = ("django.server", "gunicorn.access")


@dataclass(frozen=True)
class Seen:
    logger: str
    level: str
    text: str  # message, extra attributes and exception, as they were when the record was made


def _snapshot(record: logging.LogRecord) -> Seen:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call still counts: keep its raw parts
        message = f"{record.msg!r} {record.args!r}"
    extras = [f"{key}={value!r}" for key, value in record.__dict__.items() if key not in STANDARD_ATTRIBUTES]
    exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
    return Seen(record.name, record.levelname, "\n".join([message, *extras, exception]))


class _FirstHandler(logging.Handler):
    """Put first on every logger that has handlers: sees each record as every other handler would get it
    (after the emitting logger's own filters, before any handler's filter tidies it up)."""

    def __init__(self, seen: list[Seen]) -> None:
        super().__init__(level=logging.DEBUG)
        self.seen = seen
        self.records: list[logging.LogRecord] = []  # kept alive, so id() stays unique

    def handle(self, record: logging.LogRecord) -> bool:
        # A record walks from its logger up to the root: snapshot it once, at the first stop.
        if not any(known is record for known in self.records[-50:]):
            self.records.append(record)
            self.seen.append(_snapshot(record))
        return True

    def emit(self, record: logging.LogRecord) -> None:  # handle() does the work
        pass


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> Iterator[list[Seen]]:
    """Every record logged while the test runs, with every logger at DEBUG."""
    seen: list[Seen] = []
    capture = _FirstHandler(seen)
    caplog.set_level(logging.DEBUG)
    for name in (*NON_PROPAGATING, "django", "django.request", "django.security", "django.template"):
        caplog.set_level(logging.DEBUG, logger=name)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    attached = [logger for logger in loggers if logger.handlers or logger is logging.getLogger()]
    for logger in attached:
        logger.handlers.insert(0, capture)
    try:
        yield seen
    finally:
        for logger in attached:
            logger.removeHandler(capture)


SURVEYS_TICK = [
    "surveys.services.rounds.rounds_open_due",
    "surveys.services.emails.emails_send_due",
    "surveys.services.counting.rounds_close_due",
]


@pytest.fixture
def emitted() -> Iterator[io.StringIO]:
    """What the configured stream handlers (settings.LOGGING) actually write, with their filters."""
    stream = io.StringIO()
    swapped = []
    for name in ("", *logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:
                swapped.append((handler, handler.setStream(stream)))
    assert swapped, "settings.LOGGING configures no stream handler?"
    try:
        yield stream
    finally:
        for handler, old in swapped:
            handler.setStream(old)


def _person_answer_pairs(
    seen: list[Seen], people: list[Person], answers: dict[int, dict[str, Any]]
) -> list[str]:
    """Records that name a person (email or name) and also hold one of that person's answers or any
    question key next to a value."""
    found = []
    answer_pattern = re.compile(r"(who5|workload1|comment)_\d+\D{1,6}\d")
    for record in seen:
        for person in people:
            if person.email in record.text or person.display_name in record.text:
                mine = answers.get(person.pk, {})
                if answer_pattern.search(record.text) or any(
                    isinstance(value, str) and value in record.text for value in mine.values()
                ):
                    found.append(record.text)
    return found


@pytest.mark.django_db
def test_a_whole_round_logs_no_token_and_no_answer_beside_a_person(
    client: Client, settings: SettingsWrapper, log_records: list[Seen], emitted: io.StringIO
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PULSE_TICK_STEPS = SURVEYS_TICK  # the surveys' part of the tick: open, email, close
    setup = open_round(people_per_team=(5, 5))
    assert emails_send_due() == 10
    links = {}
    for message in mail.outbox:
        match = re.search(r"/checkin/([A-Za-z0-9_\-]+)/", str(message.body))
        assert match
        links[message.to[0]] = match.group(1)
    tokens = list(links.values())
    assert sorted(tokens) == sorted(setup.tokens.values())

    answers: dict[int, dict[str, Any]] = {}
    late, api_people, form_people = setup.people[0], setup.people[1:3], setup.people[3:]
    for index, person in enumerate(form_people):
        token = links[person.email]
        answers[person.pk] = answers_for(
            setup.round, comment=f"answer-canary-{index} said by {person.display_name}"
        )
        assert client.get(f"/checkin/{token}/").status_code == 200
        if index == 0:  # first a mistake, then the fix
            assert client.post(f"/checkin/{token}/", {"who5_1": "9", "comment_1": "x\x00"}).status_code == 400
        assert client.post(f"/checkin/{token}/", as_form(answers[person.pk])).status_code == 200
        if index == 1:  # a second click on the link
            assert client.post(f"/checkin/{token}/", as_form(answers[person.pk])).status_code == 410
            assert client.get(f"/checkin/{token}/").status_code == 410
    for index, person in enumerate(api_people):
        answers[person.pk] = answers_for(setup.round, comment=f"api-canary-{index}")
        body = {"token": links[person.email], "answers": answers[person.pk]}
        assert client.post("/api/v1/checkin/", body, content_type="application/json").status_code == 201
    bad = {"token": links[late.email], "answers": {"who5_1": 12}, "person": late.email}
    assert client.post("/api/v1/checkin/", bad, content_type="application/json").status_code == 400
    assert client.get("/checkin/NotARealTokenButLongEnough1234567890abc/").status_code == 404
    assert client.put(f"/checkin/{links[late.email]}/").status_code == 405

    # The tick sends the reminder to the one person who has not answered, then closes the round.
    mail.outbox.clear()
    with time_machine.travel(setup.round.closes_at - dt.timedelta(hours=23), tick=False):
        tick_run()
    assert [message.to for message in mail.outbox] == [[late.email]]
    with time_machine.travel(setup.close_moment, tick=False):
        tick_run()
    assert Round.objects.get(pk=setup.round.pk).status == Round.Status.CLOSED

    assert len(log_records) >= 5, "the round logged almost nothing: is the capture working?"
    assert any("closed" in record.text for record in log_records)
    refusals = [record.text for record in log_records if record.logger == "django.request"]
    assert "Gone: /checkin/[redacted]/" in "\n".join(
        refusals
    )  # the 4xx answers are logged, without the token
    for record in log_records:
        for token in tokens:
            assert token not in record.text, f"token in a {record.logger} record: {record.text[:200]}"
            assert token[:12] not in record.text, f"token prefix in a {record.logger} record"
        assert "canary" not in record.text, f"an answer in a {record.logger} record"
    assert _person_answer_pairs(log_records, setup.people, answers) == []
    output = emitted.getvalue()
    for token in tokens:
        assert token not in output


@pytest.mark.django_db
def test_the_pairing_check_recognises_a_person_beside_an_answer() -> None:
    """The helper above must be able to fail."""
    setup = open_round(people_per_team=(5,))
    person = setup.people[0]
    record = Seen("x", "INFO", f"{person.email} answered {{'who5_1': 3}}")
    assert _person_answer_pairs([record], setup.people, {}) == [record.text]
    record = Seen("x", "INFO", f"{person.display_name}: my canary text")
    assert _person_answer_pairs([record], setup.people, {person.pk: {"comment_1": "my canary text"}})


def test_redact_tokens_filter_cleans_a_runserver_access_line() -> None:
    token = "q3V7dJ5mXkP0aZ_l-9w2Ybn4tRcE8sHfGiU1oNyL6vM"
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"POST /checkin/{token}/ HTTP/1.1", "200", "2841"),
        None,
    )
    assert RedactTokens().filter(record) is True  # never drops a line, only cleans it
    assert record.getMessage() == '"POST /checkin/[redacted]/ HTTP/1.1" 200 2841'
    assert (
        redact(f"GET /login/link/{token}/?next=/ HTTP/1.1") == "GET /login/link/[redacted]/?next=/ HTTP/1.1"
    )
    # A Referer that carries the check-in URL is cleaned too (gunicorn's default access format logs it).
    line = (
        f'"GET /static/pulse/pulse.css HTTP/1.1" 200 812 "https://pulse.example/checkin/{token}/" "Firefox"'
    )
    assert token not in redact(line)
    assert redact("GET /checkin/ HTTP/1.1") == "GET /checkin/ HTTP/1.1"


@pytest.mark.django_db(transaction=True)
def test_a_real_runserver_access_line_is_written_without_the_token(
    log_records: list[Seen], emitted: io.StringIO
) -> None:
    """runserver's own request handler, serving one real request, through the handlers settings configure."""
    setup = open_round(people_per_team=(5,))
    token = setup.token_of(setup.people[0])
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    connection.request("GET", f"/checkin/{token}/")
    assert connection.getresponse().status == 200
    connection.close()
    thread.join(timeout=10)
    server.server_close()
    access = [record for record in log_records if record.logger == "django.server"]
    assert access, "runserver logged no access line"
    assert token in access[0].text  # the raw record has it: the filter is what removes it
    output = emitted.getvalue()
    assert "GET /checkin/[redacted]/ HTTP/1.1" in output
    assert token not in output


@pytest.mark.django_db
def test_an_unexpected_error_while_answering_logs_no_answer(
    settings: SettingsWrapper, log_records: list[Seen], emitted: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash mid-submit (here: the sealing step) is logged by Django with its traceback; the answers
    must not be in it, and what the handlers write must not hold the token."""
    setup = open_round(people_per_team=(5,))
    token = setup.token_of(setup.people[0])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("sealing failed")

    monkeypatch.setattr(answering, "seal_ballot", broken)
    client = Client(raise_request_exception=False)
    answers = answers_for(setup.round, comment="crash-canary words")
    assert client.post(f"/checkin/{token}/", as_form(answers)).status_code == 500
    errors = [record for record in log_records if record.level == "ERROR"]
    assert errors
    assert "RuntimeError: sealing failed" in errors[0].text
    assert not [record for record in log_records if "crash-canary" in record.text]
    assert token not in emitted.getvalue()


@pytest.mark.django_db
def test_an_unexpected_error_record_holds_no_token(
    log_records: list[Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = open_round(people_per_team=(5,))
    token = setup.token_of(setup.people[0])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("sealing failed")

    monkeypatch.setattr(answering, "seal_ballot", broken)
    client = Client(raise_request_exception=False)
    assert client.post(f"/checkin/{token}/", as_form(answers_for(setup.round))).status_code == 500
    assert not [record for record in log_records if token in record.text]
