"""No log record holds a link token, and none puts a person next to anything they answered.

A whole round runs with every logger at DEBUG: the tick opens it, sends the invitations, people open their
links and answer through the form and the API (with the usual mistakes: a wrong answer, a second click, an
unknown link, a wrong method), a reminder goes out, and the tick closes the round and aggregates it. Records
are taken as the first handler gets them, before any handler's filter tidies them, because whatever handler
runs first (Django's mail_admins, an error tracker's) sees them exactly so. What the configured handlers
write is checked too, in each format ``PULSE_LOG_FORMAT`` offers (plain lines and JSON, config/logs.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
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
from config.logs import FORMATS, formatter_for, logging_config
from pulse.models import TeamAggregate
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


ROUND_TICK = [
    "surveys.services.rounds.rounds_open_due",
    "surveys.services.emails.emails_send_due",
    "surveys.services.counting.rounds_close_due",
    "pulse.services.aggregation.rounds_aggregate_due",
]


@pytest.fixture(params=FORMATS)
def log_format(request: pytest.FixtureRequest, settings: SettingsWrapper) -> Iterator[str]:
    """The handlers configured as ``PULSE_LOG_FORMAT=<format>`` configures them, for one test."""
    log_format = str(request.param)
    logging.config.dictConfig(logging_config(log_format=log_format, level="INFO"))
    try:
        yield log_format
    finally:
        logging.config.dictConfig(settings.LOGGING)


def written_lines(output: str, log_format: str) -> list[str]:
    """The lines the handlers wrote; in JSON, each must be one object with the fields config/logs.py
    promises."""
    lines = [line for line in output.splitlines() if line.strip()]
    if log_format == "json":
        first_lines = [line for line in lines if not line.startswith(" ")]
        assert first_lines == lines, "a JSON record spread over more than one line"
        for line in lines:
            record = json.loads(line)
            assert isinstance(record, dict)
            assert {"time", "level", "logger", "message"} <= set(record)
    return lines


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
    log_format: str, client: Client, settings: SettingsWrapper, log_records: list[Seen], emitted: io.StringIO
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PULSE_TICK_STEPS = ROUND_TICK  # the tick's part in a round: open, email, close, aggregate
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
    with time_machine.travel(setup.close_moment + dt.timedelta(minutes=1), tick=False):
        tick_run()  # aggregates the counted round, if the close's tick has not already
    assert TeamAggregate.objects.filter(round=setup.round).exists()

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
    lines = written_lines(emitted.getvalue(), log_format)
    assert any("closed" in line for line in lines), "the handlers wrote nothing of the close?"
    assert any("Gone: /checkin/[redacted]/" in line for line in lines)
    for line in lines:
        for token in tokens:
            assert token not in line, f"token in a written {log_format} line: {line[:200]}"
            assert token[:12] not in line, f"token prefix in a written {log_format} line"
        assert "canary" not in line, f"an answer in a written {log_format} line: {line[:200]}"
    assert _person_answer_pairs([Seen("", "", line) for line in lines], setup.people, answers) == []


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


@pytest.mark.parametrize("log_format", FORMATS)
def test_a_token_in_a_traceback_or_an_extra_field_is_not_written_in_either_format(log_format: str) -> None:
    """The filter cleans a record's message; an exception's text and the fields a library adds are cleaned
    by the formatter, which redacts each whole line it writes."""
    token = "q3V7dJ5mXkP0aZ_l-9w2Ybn4tRcE8sHfGiU1oNyL6vM"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RedactTokens())
    logger = logging.getLogger("tests.anonymity.formats")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"no route for /checkin/{token}/")
        except ValueError:
            logger.exception("request failed", extra={"referer": f"https://pulse.example/checkin/{token}/"})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert "ValueError: no route for /checkin/[redacted]/" in output.replace("\\n", "\n")
    assert token not in output
    lines = written_lines(output, log_format)
    if log_format == "json":
        [line] = lines  # one object, traceback included
        record = json.loads(line)
        assert record["referer"] == "https://pulse.example/checkin/[redacted]/"
        assert record["message"] == "request failed"
        assert "exc_info" in record


def test_celery_processes_log_in_the_configured_format_with_tokens_redacted() -> None:
    """A worker's or beat's logging set-up (Celery's ``app.log.setup``) keeps Django's handlers: JSON lines,
    redacted, rather than Celery's own plain handler on the root logger."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    token = "q3V7dJ5mXkP0aZ_l-9w2Ybn4tRcE8sHfGiU1oNyL6vM"
    script = (
        "from config.celery import app; app.log.setup(loglevel='INFO'); import logging; "
        f"logging.getLogger('surveys.tasks').warning('sent /checkin/{token}/'); "
        "logging.getLogger('surveys.tasks').info('below LOG_LEVEL'); "
        "logging.getLogger('celery.apps.worker').info('celery@here ready.')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PULSE_LOG_FORMAT": "json", "PULSE_TESTING": "1", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = written_lines(result.stderr, "json")
    # Celery's own lines at --loglevel (INFO), Pulse's at LOG_LEVEL (WARNING).
    assert [json.loads(line)["message"] for line in lines] == [
        "sent /checkin/[redacted]/",
        "celery@here ready.",
    ]
    assert token not in result.stderr
