"""A local HTTP server that speaks the Slack Web API methods Pulse calls, for tests.

As documented at docs.slack.dev/reference/methods: ``POST https://slack.com/api/<method>`` with a form or
JSON body and ``Authorization: Bearer <token>``; the answer is JSON ``{"ok": true, ...}`` or
``{"ok": false, "error": "<code>"}``; a rate-limited call gets HTTP 429 with ``Retry-After`` (seconds) and
``{"ok": false, "error": "ratelimited"}``. Methods: ``auth.test``, ``users.lookupByEmail``,
``conversations.open``, ``chat.postMessage``, ``chat.update``, ``views.open``, ``auth.revoke`` (the token
stops working). Every call is recorded.

And a builder of interactivity requests signed the way Slack signs them (``X-Slack-Signature``: v0 and the
HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the app's signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

BOT_TOKEN = "xoxb-test-bot-token-0001"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0PULSE01"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class SlackState:
    users: dict[str, str] = field(default_factory=dict)  # email -> Slack user id
    calls: list[Call] = field(default_factory=list)
    # method -> Retry-After seconds of the 429s still to answer (one entry each)
    rate_limits: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds each chat.postMessage takes
    revoked: bool = False  # auth.revoke was called: every later call is invalid_auth
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]


def _answer(state: SlackState, method: str, params: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    if token != BOT_TOKEN or state.revoked:
        return 200, {"ok": False, "error": "invalid_auth"}
    with state.lock:
        pending = state.rate_limits.get(method) or []
        if pending:
            return -pending.pop(0), {"ok": False, "error": "ratelimited"}
        state.calls.append(Call(method, params, token))
    if method == "auth.revoke":
        state.revoked = True
        return 200, {"ok": True, "revoked": True}
    if method == "auth.test":
        return 200, {"ok": True, "team": "Pulse Test", "team_id": TEAM_ID, "user_id": "UBOT", "bot_id": "B1"}
    if method == "users.lookupByEmail":
        user_id = state.users.get(str(params.get("email", "")).lower())
        if user_id is None:
            return 200, {"ok": False, "error": "users_not_found"}
        return 200, {"ok": True, "user": {"id": user_id, "team_id": TEAM_ID, "deleted": False}}
    if method == "conversations.open":
        users = str(params.get("users", ""))
        if users not in state.users.values():
            return 200, {"ok": False, "error": "user_not_found"}
        return 200, {"ok": True, "channel": {"id": "D" + users[1:]}}
    if method == "chat.postMessage":
        if state.delay:
            time.sleep(state.delay)
        ts = f"{1700000000 + next(state._ts)}.000100"
        return 200, {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
    if method == "chat.update":
        return 200, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
    if method == "views.open":
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not params.get("trigger_id") or not isinstance(view, dict) or len(view.get("blocks", [])) > 100:
            return 200, {"ok": False, "error": "invalid_arguments"}
        return 200, {"ok": True, "view": {"id": "V123", **view}}
    return 404, {"ok": False, "error": "unknown_method"}


def _handler(state: SlackState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            method = self.path.rstrip("/").rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or "{}")
            else:
                params = dict(parse_qsl(body))
            authorization = self.headers.get("Authorization", "")
            token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
            status, answer = _answer(state, method, params, token)
            raw = json.dumps(answer).encode()
            self.send_response(429 if status < 0 else status)
            if status < 0:
                self.send_header("Retry-After", str(-status))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def slack_server(port: int | None = None) -> Iterator[tuple[SlackState, str]]:
    """A running server and its base URL (``PULSE_SLACK_API_URL``)."""
    state = SlackState()
    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


def signed(payload: dict[str, Any], *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, Any]:
    """Keyword arguments for Django's test client posting an interactivity payload the way Slack does: a
    form with one ``payload`` field, signed with ``secret`` at ``at`` (default: now)."""
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "data": body,
        "content_type": "application/x-www-form-urlencoded",
        "headers": {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"},
    }


def button_click(*, user_id: str, value: str, action_id: str = "pulse_checkin_modal") -> dict[str, Any]:
    """A ``block_actions`` payload: the person clicked the DM's button."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "pulse-test"},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "api_app_id": "A0PULSE",
        "token": "deprecated-verification-token",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "container": {"type": "message", "channel_id": "D" + user_id[1:], "message_ts": "1700000001.000100"},
        "channel": {"id": "D" + user_id[1:]},
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "b1", "value": value, "action_ts": "1"}
        ],
    }


def view_submission(*, user_id: str, token: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A ``view_submission`` payload of the check-in modal with these state values."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "pulse-test"},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "api_app_id": "A0PULSE",
        "token": "deprecated-verification-token",
        "trigger_id": "13345224609.738474920.8088930838d88f008e1",
        "view": {
            "id": "V123",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": "pulse_checkin",
            "private_metadata": token,
            "state": {"values": values},
        },
    }
