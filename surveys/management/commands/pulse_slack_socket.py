"""Run Pulse's Slack app over Socket Mode: for an installation Slack cannot reach (no public URL).

Slack then sends the button clicks and modal submissions over a WebSocket that this command opens with the
app-level token (``PULSE_SLACK_APP_TOKEN``, xapp-…, scope ``connections:write``); no request needs a
signature. Run one of these next to the web servers; the DMs are still sent by the tick (docs/operations.md
§16).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from slack_bolt.adapter.socket_mode import SocketModeHandler

from surveys.slack_app import slack_app


class Command(BaseCommand):
    help = "Answer Slack check-in buttons and modals over Socket Mode (no public URL needed)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PULSE_SLACK_APP_TOKEN.startswith("xapp-"):
            raise CommandError(
                "PULSE_SLACK_APP_TOKEN must be an app-level token (xapp-…, connections:write)."
            )
        self.stdout.write("Connecting to Slack over Socket Mode…")
        handler = SocketModeHandler(slack_app(), settings.PULSE_SLACK_APP_TOKEN)
        handler.start()  # type: ignore[no-untyped-call]
