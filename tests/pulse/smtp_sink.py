"""A real SMTP server for tests (aiosmtpd): records what arrives, can answer slowly."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import override_settings


class Sink:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or b""))
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [message for recipients, message in self.messages if address in recipients]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_settings(port: int) -> override_settings:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=5,
    )


@contextmanager
def smtp_sink(*, delay: float = 0.0, port: int | None = None) -> Iterator[tuple[Sink, int]]:
    sink = Sink(delay=delay)
    chosen = port or free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=chosen)
    controller.start()
    try:
        yield sink, chosen
    finally:
        controller.stop()
