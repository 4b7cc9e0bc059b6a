"""A small, real HTTP server that answers like PagerDuty's REST API v2 for the endpoints Pulse reads.

It follows the documented behaviour (developer.pagerduty.com; github.com/PagerDuty/developer-docs,
docs/REST-API): ``Authorization: Token token=<key>`` (401 otherwise), classic pagination (``offset``,
``limit`` at most 100, ``more``, and ``total`` only when ``total=true``; 400 when ``offset + limit`` passes
10,000), ``since``/``until`` ranges (``GET /incidents``: at most 6 months, else 400), the array filters
(``schedule_ids[]``, ``escalation_policy_ids[]``, ``service_ids[]``), 429 with ``Retry-After`` on demand, and
the wrapped entities (``{"oncalls": [...]}``, ``{"user": {...}}``). It serves whatever fixtures a test puts
in it, and records every request it answered (path, query, body, time) for the test to inspect.

Analytics: ``POST /analytics/metrics/responders/teams`` (PagerDuty's OpenAPI description,
github.com/PagerDuty/api-schema, ``AnalyticsResponderFilter`` in, ``AnalyticsResponderMetrics`` rows out)
answers from the server's own incidents and notifications: the incidents *created* in
[``date_range_start``, ``date_range_end``) (both required here, at most a year apart, else 400) of the
teams asked for (``team_ids``; all teams when absent) and of the ``urgency`` asked for, one row per team and
notified responder, with the interruptions counted as PagerDuty's Insights pages define them
(``pulse.analysis.oncall.interruptions``: push, phone and SMS, one destination, 60 seconds; hour type on the
user's clock). The server fills the fields it can compute from its data (the interruptions, notifications
and incidents); the engagement and on-call seconds fields are left out. An account without Analytics is
``analytics_error`` 402 (code 2014, "Missing Account Ability"), 403 or 404, as "Errors"
(docs/REST-API/14-Errors.md) describes them; 400 and 500 are the other errors it may answer.

It speaks HTTPS, as PagerDuty does (PagerDuty's client refuses any other scheme), with a certificate for
127.0.0.1 made on start; point ``PULSE_PAGERDUTY_CA_BUNDLE`` at ``server.ca_file`` to trust it.

Ports: the first free one of PORTS (8120–8129 unless given), so parallel runs never collide. Used by the
tests and by `pulse_bench oncall`; a development tool, never installed in production.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pulse.analysis.oncall import Page, interruptions
from pulse.analysis.pagerduty import ANALYTICS_PATH, NOTIFICATION_CHANNELS

PORTS = range(8120, 8130)
MAX_LIMIT = 100
MAX_RESULTS = 10_000
SIX_MONTHS = timedelta(days=183)
ONE_YEAR = timedelta(days=366)
ERRORS = {
    400: (2001, "Invalid Input Provided"),
    402: (2014, "Missing Account Ability"),
    403: (2010, "Access Denied"),
    404: (2100, "Not Found"),
    500: (2000, "An internal error has occurred. PagerDuty team has been notified."),
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace(" ", "+"))
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment.astimezone(UTC)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    at: float
    authorised: bool
    body: Any = None


@dataclass
class PagerDutyData:
    api_key: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    oncalls: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    log_entries: list[dict[str, Any]] = field(default_factory=list)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files in ``directory``. Valid from 2000 to
    2100: tests move Python's clock (time_machine), OpenSSL checks the real one, and both must agree."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class PagerDutyServer:
    def __init__(self, api_key: str, *, ports: Iterable[int] = PORTS) -> None:
        self.ports = tuple(ports)
        self.data = PagerDutyData(api_key)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.rate_limited = 0
        self.retry_after = 1
        # Analytics' answer: None computes it; 402, 403 or 404 is an account without Analytics; 400 or 500 an
        # error of another kind.
        self.analytics_error: int | None = None
        self.httpd: ThreadingHTTPServer | None = None
        self.directory = tempfile.TemporaryDirectory(prefix="pulse-pagerduty-")
        self.ca_file, self.key_file = _certificate(Path(self.directory.name))

    # --- fixtures ------------------------------------------------------------------------------------

    def add_user(self, user_id: str, time_zone: str) -> None:
        self.data.users[user_id] = {
            "id": user_id,
            "type": "user",
            "summary": f"User {user_id}",
            "name": f"User {user_id}",
            "email": f"{user_id.lower()}@example.com",
            "time_zone": time_zone,
        }

    def add_team(self, team_id: str, name: str) -> None:
        self.data.teams[team_id] = {"id": team_id, "type": "team", "summary": name, "name": name}

    def add_oncall(
        self,
        user_id: str,
        start: datetime | None,
        end: datetime | None,
        *,
        level: int = 1,
        schedule_id: str | None = "PSCHED1",
        policy_id: str = "PPOLICY1",
    ) -> None:
        self.data.oncalls.append(
            {
                "user": {"id": user_id, "type": "user_reference", "summary": f"User {user_id}"},
                "schedule": {"id": schedule_id, "type": "schedule_reference"} if schedule_id else None,
                "escalation_policy": {"id": policy_id, "type": "escalation_policy_reference"},
                "escalation_level": level,
                "start": iso(start) if start else None,
                "end": iso(end) if end else None,
            }
        )

    def add_incident(
        self,
        incident_id: str,
        created_at: datetime,
        *,
        urgency: str = "high",
        service_id: str = "PSERV1",
        policy_id: str = "PPOLICY1",
        team_ids: tuple[str, ...] = (),
    ) -> None:
        self.data.incidents.append(
            {
                "id": incident_id,
                "type": "incident",
                "incident_number": len(self.data.incidents) + 1,
                "created_at": iso(created_at),
                "status": "resolved",
                "urgency": urgency,
                "service": {"id": service_id, "type": "service_reference"},
                "escalation_policy": {"id": policy_id, "type": "escalation_policy_reference"},
                "teams": [{"id": team, "type": "team_reference"} for team in team_ids],
            }
        )

    def add_notification(
        self, incident_id: str, user_id: str, at: datetime, channel: str = "push_notification"
    ) -> None:
        self.data.log_entries.append(
            {
                "id": f"R{len(self.data.log_entries):08d}",
                "type": "notify_log_entry",
                "summary": f"Notified User {user_id}",
                "created_at": iso(at),
                "incident": {"id": incident_id, "type": "incident_reference"},
                "user": {"id": user_id, "type": "user_reference", "summary": f"User {user_id}"},
                "channel": {"type": "auto"},
                "notification": {"type": channel, "status": "success", "address": "+15555550100"},
            }
        )

    def add_log_entry(self, incident_id: str, kind: str, at: datetime) -> None:
        self.data.log_entries.append(
            {
                "id": f"R{len(self.data.log_entries):08d}",
                "type": kind,
                "created_at": iso(at),
                "incident": {"id": incident_id, "type": "incident_reference"},
                "channel": {"type": "auto"},
            }
        )

    def limit_next(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` requests get 429 with ``Retry-After: retry_after``."""
        with self.lock:
            self.rate_limited, self.retry_after = count, retry_after

    # --- running -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [item for item in self.seen if item.path == path]

    def start(self) -> None:
        handler = _handler(self)
        for port in self.ports:
            try:
                self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError(
                f"no free port in {self.ports[0]}-{self.ports[-1]} for the local PagerDuty server"
            )
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, self.key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        self.directory.cleanup()

    # --- answering -----------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes = b""
    ) -> tuple[int, Any, dict[str, str]]:
        authorised = headers.get("Authorization") == f"Token token={self.data.api_key}"
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = body.decode(errors="replace")
        with self.lock:
            self.seen.append(Seen(method, path, query, time.monotonic(), authorised, document))
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 429, _error(2020, "Rate Limit Exceeded"), {"Retry-After": str(self.retry_after)}
        if not authorised:
            return 401, _error(2006, "Authentication failed"), {}
        if path == ANALYTICS_PATH:
            if method != "POST":
                return 405, _error(2000, "Method not allowed"), {}
            if self.analytics_error is not None:
                code, message = ERRORS[self.analytics_error]
                return self.analytics_error, _error(code, message), {}
            try:
                return 200, self._responders_by_team(document), {}
            except ValueError as error:
                return 400, _error(2001, f"Invalid Input Provided: {error}"), {}
        if method != "GET":
            return 405, _error(2000, "Method not allowed"), {}
        if path.startswith("/users/"):
            user = self.data.users.get(path.removeprefix("/users/"))
            return (200, {"user": user}, {}) if user else (404, _error(2100, "Not Found"), {})
        listing = {
            "/users": ("users", self._users),
            "/oncalls": ("oncalls", self._oncalls),
            "/incidents": ("incidents", self._incidents),
            "/log_entries": ("log_entries", self._log_entries),
        }.get(path)
        if listing is None:
            return 404, _error(2100, "Not Found"), {}
        wrapper, select = listing
        try:
            offset = int(_one(query, "offset", "0"))
            limit = min(int(_one(query, "limit", "25")), MAX_LIMIT)
        except ValueError:
            return 400, _error(2001, "Invalid Input Provided"), {}
        if offset + limit > MAX_RESULTS:
            return 400, _error(2001, "Offset must be less than 10000"), {}
        try:
            records = select(query)
        except ValueError as error:
            return 400, _error(2001, f"Invalid Input Provided: {error}"), {}
        page = records[offset : offset + limit]
        listed = {
            wrapper: page,
            "limit": limit,
            "offset": offset,
            "more": offset + len(page) < len(records),
            "total": len(records) if _one(query, "total", "false") == "true" else None,
        }
        return 200, listed, {}

    def _range(self, query: dict[str, list[str]]) -> tuple[datetime, datetime]:
        now = datetime.now(UTC)
        since = parse_time(_one(query, "since", iso(now - timedelta(days=30))))
        until = parse_time(_one(query, "until", iso(now)))
        if until < since:
            raise ValueError("until before since")
        return since, until

    def _users(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        return list(self.data.users.values())

    def _oncalls(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        since, until = self._range(query)
        schedules = set(query.get("schedule_ids[]", []))
        policies = set(query.get("escalation_policy_ids[]", []))
        found = []
        for oncall in self.data.oncalls:
            start = parse_time(oncall["start"]) if oncall["start"] else None
            end = parse_time(oncall["end"]) if oncall["end"] else None
            if (start and start >= until) or (end and end <= since):
                continue
            if schedules and (oncall["schedule"] or {}).get("id") not in schedules:
                continue
            if policies and oncall["escalation_policy"]["id"] not in policies:
                continue
            found.append(oncall)
        return found

    def _incidents(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        since, until = self._range(query)
        if until - since > SIX_MONTHS:
            raise ValueError("the date range may not exceed 6 months")
        services = set(query.get("service_ids[]", []))
        return [
            incident
            for incident in self.data.incidents
            if since <= parse_time(incident["created_at"]) < until
            and (not services or incident["service"]["id"] in services)
        ]

    def _responders_by_team(self, request: Any) -> dict[str, Any]:
        """``AnalyticsResponderMetrics`` rows for the request (module docstring); ``ValueError`` → 400."""
        if not isinstance(request, dict):
            raise ValueError("the body is a JSON object")
        filters = request.get("filters") or {}
        if (
            not isinstance(filters, dict)
            or "date_range_start" not in filters
            or "date_range_end" not in filters
        ):
            raise ValueError("filters.date_range_start and filters.date_range_end are required")
        start, end = parse_time(filters["date_range_start"]), parse_time(filters["date_range_end"])
        if not start < end <= start + ONE_YEAR:
            raise ValueError("the date range is empty or longer than one year")
        time_zone = request.get("time_zone") or "Etc/UTC"
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time_zone {time_zone!r}") from None
        urgency = filters.get("urgency")
        if urgency not in (None, "high", "low"):
            raise ValueError("urgency is high or low")
        asked = filters.get("team_ids")
        if asked is not None and not (isinstance(asked, list) and all(isinstance(t, str) for t in asked)):
            raise ValueError("team_ids is an array of team ids")

        incidents = [
            incident
            for incident in self.data.incidents
            if start <= parse_time(incident["created_at"]) < end
            and (urgency is None or incident["urgency"] == urgency)
        ]
        team_ids = asked if asked is not None else sorted(self.data.teams)
        rows: list[dict[str, Any]] = []
        for team_id in team_ids:
            own = {
                incident["id"]: incident["urgency"]
                for incident in incidents
                if any(team["id"] == team_id for team in incident.get("teams", []))
            }
            pages: list[Page] = []
            notifications: dict[str, int] = {}
            incidents_of: dict[str, set[str]] = {}
            for entry in self.data.log_entries:
                incident_id = entry["incident"]["id"]
                if entry["type"] != "notify_log_entry" or incident_id not in own:
                    continue
                user = entry["user"]["id"]
                notifications[user] = notifications.get(user, 0) + 1
                incidents_of.setdefault(user, set()).add(incident_id)
                channel = NOTIFICATION_CHANNELS.get(entry["notification"]["type"])
                if channel is not None:
                    user_zone = (self.data.users.get(user) or {}).get("time_zone", "Etc/UTC")
                    pages.append(
                        Page(
                            team_id,
                            user,
                            user_zone,
                            parse_time(entry["created_at"]),
                            incident_id,
                            own[incident_id],
                            channel,
                        )
                    )
            by_user: dict[str, dict[str, int]] = {
                user: {"business": 0, "off": 0, "sleep": 0} for user in notifications
            }
            for interruption in interruptions(pages):
                by_user[interruption.responder][interruption.hour_type] += 1
            team_name = (self.data.teams.get(team_id) or {}).get("name", team_id)
            for user, hours in by_user.items():
                rows.append(
                    {
                        "team_id": team_id,
                        "team_name": team_name,
                        "responder_id": user,
                        "responder_name": (self.data.users.get(user) or {}).get("name", user),
                        "total_interruptions": sum(hours.values()),
                        "total_business_hour_interruptions": hours["business"],
                        "total_off_hour_interruptions": hours["off"],
                        "total_sleep_hour_interruptions": hours["sleep"],
                        "total_notifications": notifications[user],
                        "total_incident_count": len(incidents_of[user]),
                    }
                )
        order = request.get("order") or "asc"
        order_by = request.get("order_by") or "responder_id"
        rows.sort(key=lambda row: (str(row.get(order_by, "")), row["team_id"]), reverse=order == "desc")
        return {
            "data": rows,
            "filters": filters,
            "time_zone": time_zone,
            "order": order,
            "order_by": order_by,
        }

    def _log_entries(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        since, until = self._range(query)
        return sorted(
            (entry for entry in self.data.log_entries if since <= parse_time(entry["created_at"]) < until),
            key=lambda entry: entry["created_at"],
            reverse=True,
        )


def _one(query: dict[str, list[str]], name: str, default: str) -> str:
    values = query.get(name)
    return values[0] if values else default


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": [message]}}


def _handler(server: PagerDutyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in separate writes would wait on delayed ACKs

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            received = self.rfile.read(length) if length else b""
            status, body, extra = server.answer(
                method, parts.path, parse_qs(parts.query), self.headers, received
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test reads ``server.seen``

    return Handler


@contextmanager
def pagerduty_server(api_key: str, *, ports: Iterable[int] = PORTS) -> Iterator[PagerDutyServer]:
    server = PagerDutyServer(api_key, ports=ports)
    server.start()
    try:
        yield server
    finally:
        server.stop()
