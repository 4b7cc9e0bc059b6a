"""Send check-in invitations and reminders as Slack DMs, and turn each into "Answered, thank you" once the
person has answered: the Slack outbox (``SlackMessage``, one row per invitation).

The rules every outbox shares (``surveys.services.delivery``): a sender claims due rows by one conditional
UPDATE (``rows_claim``), works only on rows carrying its claim, re-checks its claim on each row right before
sending (extending it), and records the outcome at once, so two senders never send one DM twice. A failure
is permanent (the user is gone: recorded as failed, the row moves on) or temporary (backs off 2, 4, 8…
minutes, at most ``MAX_ATTEMPTS`` times, then a dead letter: recorded as failed). A 429 from Slack is
neither: the row and the whole workspace wait out ``Retry-After`` and nothing is counted against the row.

Pacing: about one message a second per workspace (``PULSE_SLACK_PACE_SECONDS``). The workspace row holds
the time its next message may go (``next_send_at``); a sender takes a slot by conditional UPDATE of it, so
any number of senders share one pace.

Which channel a person is asked on is one rule, :func:`channels_of` (with :func:`slack_asked` and
:func:`email_asked`, the same rule as database conditions): their own choice, else the organisation's
default, and email whenever they have no matched Slack user. The email sender skips the people this rule
keeps off email (:func:`slack_only_people`).

Nothing here logs or stores a Slack user id, channel id or message timestamp anywhere but on the outbox
row, and the Slack client's own logger is held at INFO (its DEBUG lines print request bodies).

Every Slack DM Pulse sends goes through the helpers of this module, so one workspace has one pace and one
429 pause for all of them: the client (:func:`slack_client`, :func:`workspace_token`), what an error means
(:func:`slack_failure`, :data:`SLACK_ERRORS`), the pace (:func:`workspace_slot_take`,
:func:`workspace_wait_out`) and the DM itself (:func:`dm_post`, :func:`mrkdwn_escape`). The team summaries'
outbox in ``pulse.services.team_summary_slack`` uses them too (pulse imports surveys, never the reverse).
"""

from __future__ import annotations

import html
import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from surveys.language import language_of
from surveys.models import (
    CheckinChannel,
    DeliveryCount,
    Invitation,
    Person,
    Round,
    SlackMessage,
    SlackUser,
    SlackWorkspace,
)
from surveys.sealing import KeyRing, SealError, open_token
from surveys.services.checkin_channels import channels_of, slack_asked
from surveys.services.delivery import (
    DeliveryFailure,
    PermanentFailure,
    TemporaryFailure,
    backoff,
    rows_claim,
    unclaimed,
)
from surveys.services.emails import checkin_url
from surveys.services.operations import delivery_count_add
from surveys.slack_modal import anonymity_line
from surveys.stored_secrets import secret_open

logger = logging.getLogger(__name__)

# slack_sdk and slack_bolt print whole request and response bodies at DEBUG (user ids, channels, message
# timestamps, view submissions): their records go through this logger, which never passes DEBUG on.
slack_library_logger = logging.getLogger("surveys.slack.library")
slack_library_logger.setLevel(logging.INFO)

SEND_BATCH = 20  # at one message a second, a batch takes about 20 s: well inside one claim
CLAIM_FOR = timedelta(minutes=2)
MAX_ATTEMPTS = 6
PLAN_BATCH = 2000
#: The longest a sender waits for its workspace's next slot before leaving the row to the next drain.
MAX_PACE_WAIT = 3.0

BOT_TOKEN_PURPOSE = "slack-bot-token"  # noqa: S105 - a purpose label, not a secret
SIGNING_SECRET_PURPOSE = "slack-signing-secret"  # noqa: S105 - a purpose label, not a secret

#: Slack errors that sending again cannot help (the user or the DM is gone for good).
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "channel_not_found",
        "is_archived",
    }
)

# --- The Slack client ----------------------------------------------------------------------------------


def slack_client(token: str | None = None) -> WebClient:
    """A Web API client at ``PULSE_SLACK_API_URL``, without the library's own retries (the outbox backs
    off itself) and with its logging held at INFO."""
    return WebClient(
        token=token,
        base_url=settings.PULSE_SLACK_API_URL,
        timeout=10,
        logger=slack_library_logger,
        retry_handlers=[],
    )


def workspace_token(workspace: SlackWorkspace) -> str:
    return secret_open(workspace.bot_token, purpose=BOT_TOKEN_PURPOSE, context=str(workspace.organisation_id))


class RateLimited(TemporaryFailure):
    """Slack answered 429: wait ``retry_after`` seconds. Not a failed attempt of the row."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"slack: rate limited for {retry_after:g} s")
        self.retry_after = retry_after


#: What a Web API call may raise: :func:`slack_failure` says what each means for the row.
SLACK_ERRORS = (SlackApiError, SlackClientError, URLError, OSError, TimeoutError, ValueError)


def slack_failure(error: Exception) -> DeliveryFailure:
    """What an error of a Web API call means for the row. The reason names Slack's error code or the kind
    of error, never a user, a channel or a message."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if status == 429:
            headers = {key.lower(): value for key, value in (error.response.headers or {}).items()}
            try:
                retry_after = max(float(headers.get("retry-after", "30")), 1.0)
            except ValueError:
                retry_after = 30.0
            return RateLimited(retry_after)
        data = error.response.data if isinstance(error.response.data, dict) else {}
        code = str(data.get("error", ""))[:100]
        if code in PERMANENT_ERRORS:
            return PermanentFailure(f"slack: {code}")
        return TemporaryFailure(f"slack: {code or f'HTTP {status}'}")
    if isinstance(error, SlackClientError | URLError | OSError | TimeoutError | ValueError):
        return TemporaryFailure(f"slack: {type(error).__name__}")
    raise error


# --- Planning: which invitations get DMs ---------------------------------------------------------------


def _start(invitation: Invitation, moment: datetime) -> tuple[int, datetime | None]:
    """Where a new Slack row starts: at the latest of the invitation's messages already due (an earlier one
    would arrive late and be followed at once by the next), else at the first one planned."""
    dues = [getattr(invitation, field) for field in Invitation.EMAIL_DUE_FIELDS]
    past = [index for index, due in enumerate(dues) if due is not None and due <= moment]
    first = past[-1] if past else 0
    for index in range(first, len(dues)):
        if dues[index] is not None:
            return index, dues[index]
    return len(dues), None


def slack_messages_plan(*, now: datetime | None = None) -> int:
    """The tick's Slack step before sending: give the open rounds' invitations of people asked on Slack an
    outbox row, make "Answered, thank you" due on the DMs of people who have answered (on the web or in a
    modal), and delete the rows of closed rounds (with them the DM's channel and timestamp). Returns rows
    created, woken and deleted."""
    moment = now or timezone.now()
    workspaces = dict(SlackWorkspace.objects.values_list("organisation_id", "pk"))
    if not workspaces and not SlackMessage.objects.exists():
        return 0
    deleted, _by_model = SlackMessage.objects.filter(invitation__round__status=Round.Status.CLOSED).delete()
    woken = (
        SlackMessage.objects.filter(thanked=False, invitation__spent=True)
        .exclude(message_ts="")
        .filter(Q(due_at__isnull=True) | Q(due_at__gt=moment))
        .update(due_at=moment)
    )
    candidates = (
        Invitation.objects.filter(
            round__status=Round.Status.OPEN,
            round__organisation_id__in=list(workspaces),
            spent=False,
            slack_message__isnull=True,
            person__is_active=True,
        )
        .filter(slack_asked("person__"))
        .select_related("round")
        .order_by("pk")[:PLAN_BATCH]
    )
    rows = []
    for invitation in candidates:
        handled, due = _start(invitation, moment)
        rows.append(
            SlackMessage(
                invitation=invitation,
                workspace_id=workspaces[invitation.round.organisation_id],
                handled=handled,
                outcomes=Invitation.EmailOutcome.SKIPPED * handled,
                due_at=due,
            )
        )
    SlackMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows) + woken + deleted


# --- Sending -------------------------------------------------------------------------------------------


def _claim(rows: Any, *, moment: datetime) -> tuple[uuid.UUID, list[SlackMessage]]:
    claim = rows_claim(rows, until=moment + CLAIM_FOR)
    claimed = list(
        SlackMessage.objects.filter(claim=claim)
        .select_related(
            "workspace",
            "invitation__round__schedule",
            "invitation__person__organisation",
            "invitation__person__slack_user",
        )
        .order_by("due_at", "pk")
    )
    return claim, claimed


def slack_messages_claim(*, now: datetime, batch: int = SEND_BATCH) -> tuple[uuid.UUID, list[SlackMessage]]:
    """Claim up to ``batch`` Slack rows whose next step is due (the conditional UPDATE of the module
    docstring); returns the claim and the rows it won."""
    candidates = list(
        SlackMessage.objects.filter(unclaimed(now), due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch]
    )
    if not candidates:
        return uuid.uuid4(), []
    return _claim(SlackMessage.objects.filter(unclaimed(now), pk__in=candidates, due_at__lte=now), moment=now)


def slack_messages_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Send one batch of due DMs and thank-you updates. Returns how many Slack calls succeeded."""
    moment = now or timezone.now()
    claim, rows = slack_messages_claim(now=moment, batch=batch)
    return _work(rows, claim, moment)


def slack_message_thank(*, invitation_id: int) -> int:
    """Update this invitation's DM to "Answered, thank you" now (the modal's submission calls it; the tick
    would otherwise do it within a minute). Claims the row like any sender; 0 if another holds it."""
    moment = timezone.now()
    claim, rows = _claim(
        SlackMessage.objects.filter(unclaimed(moment), invitation_id=invitation_id, thanked=False).exclude(
            message_ts=""
        ),
        moment=moment,
    )
    return _work(rows, claim, moment)


def _work(rows: list[SlackMessage], claim: uuid.UUID, moment: datetime) -> int:
    counts = Counter[str]()
    clients: dict[int, WebClient] = {}
    paused: set[int] = set()  # workspaces waiting out a 429 or a slow pace: their rows are released
    ring = KeyRing.from_settings()
    done = 0
    for row in rows:
        if row.workspace_id in paused:
            _release(row, claim)
            continue
        action = _next_action(row, moment)
        if action == "skip":
            _record(row, claim, outcome=Invitation.EmailOutcome.SKIPPED)
            continue
        if action == "finish":
            _finish(row, claim, thanked=False)
            continue
        if not _still_mine(row, claim) or not workspace_slot_take(row.workspace_id):
            if _still_mine(row, claim):
                paused.add(row.workspace_id)
                _release(row, claim)
            continue
        try:
            if row.workspace_id not in clients:
                clients[row.workspace_id] = slack_client(workspace_token(row.workspace))
            client = clients[row.workspace_id]
            if action == "thank":
                _thank(client, row)
                _finish(row, claim, thanked=True)
            else:
                token = open_token(ring, bytes(row.invitation.sealed_token or b""))
                channel, ts = _post(client, row, token)
                _record(row, claim, outcome=Invitation.EmailOutcome.SENT, channel=channel, ts=ts)
                counts[DeliveryCount.Outcome.SENT] += 1
            done += 1
        except SealError:
            _fail(row, claim, PermanentFailure("the link's key is no longer in the key ring"), moment, counts)
        except SLACK_ERRORS as error:
            failure = slack_failure(error)
            if isinstance(failure, RateLimited):
                _rate_limited(row, claim, failure)
                paused.add(row.workspace_id)
                counts[DeliveryCount.Outcome.DEFERRED] += 1
            else:
                _fail(row, claim, failure, moment, counts)
    # Counted with the flag notifications' Slack messages: /metrics has one Slack transport.
    delivery_count_add(transport=DeliveryCount.Transport.SLACK, counts=counts)
    if rows:
        logger.info("slack: %s calls done of %s rows claimed", done, len(rows))
    return done


def _next_action(row: SlackMessage, moment: datetime) -> str:
    """What the claimed row needs: "thank" (answered, a DM to update), "finish" (answered, nothing left to
    update), "skip" (the message now due is not sent) or "send"."""
    invitation = row.invitation
    person = invitation.person
    if invitation.spent:
        return "thank" if row.message_ts and not row.thanked else "finish"
    if row.handled >= len(Invitation.EMAIL_DUE_FIELDS):
        return "finish"
    slack_user: SlackUser | None = getattr(person, "slack_user", None)
    channels = channels_of(
        choice=slack_user.channel if slack_user else "",
        default=row.workspace.default_channel,
        matched=bool(slack_user and slack_user.user_id),
    )
    if (
        invitation.round.status != Round.Status.OPEN
        or invitation.expires_at <= moment
        or not person.is_active
        or invitation.sealed_token is None
        or CheckinChannel.SLACK not in channels
    ):
        return "skip"
    return "send"


def _still_mine(row: SlackMessage, claim: uuid.UUID) -> bool:
    """Extend this sender's claim on the row right before a call; False if the claim expired and another
    sender took the row (then it is theirs to send)."""
    until = timezone.now() + CLAIM_FOR
    return SlackMessage.objects.filter(pk=row.pk, claim=claim).update(claimed_until=until) == 1


def workspace_slot_take(workspace_id: int) -> bool:
    """Take the workspace's next sending slot, waiting for it up to ``MAX_PACE_WAIT``; False when it is
    further off (a 429's Retry-After): the row is left for a later drain. Every sender of DMs to the
    workspace takes its slots here, so they share one pace."""
    pace = timedelta(seconds=settings.PULSE_SLACK_PACE_SECONDS)
    deadline = time.monotonic() + MAX_PACE_WAIT
    while True:
        moment = timezone.now()
        free = Q(next_send_at__isnull=True) | Q(next_send_at__lte=moment)
        if SlackWorkspace.objects.filter(free, pk=workspace_id).update(next_send_at=moment + pace):
            return True
        next_at = (
            SlackWorkspace.objects.filter(pk=workspace_id).values_list("next_send_at", flat=True).first()
        )
        wait = (next_at - moment).total_seconds() if next_at else 0.0
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(max(wait, 0.01))


def _closes_text(invitation: Invitation, locale: str) -> str:
    """The closing time in Slack's date format, which every reader sees in their own zone; the fallback
    (for clients that cannot) in the person's zone, in their language."""
    closes = invitation.round.closes_at
    zone = ZoneInfo(invitation.person.time_zone or invitation.round.time_zone)
    with translation.override(locale):
        fallback = formats.date_format(closes.astimezone(zone), "DATETIME_FORMAT")
    return f"<!date^{int(closes.timestamp())}^{{date_short_pretty}} {{time}}|{html.escape(fallback)}>"


def mrkdwn_escape(text: str) -> str:
    """Text for Slack's mrkdwn: &, < and > escaped (Slack's own rule), nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dm_content(
    invitation: Invitation, *, token: str, mode: str, reminder: bool
) -> tuple[str, list[dict[str, Any]]]:
    """The DM for the invitation's message now due, in the person's language: the notification text and
    the blocks (one sentence, one line on anonymity, one button)."""
    person = invitation.person
    locale = language_of(person)
    closes = _closes_text(invitation, locale)
    with translation.override(locale):
        context = {
            "name": mrkdwn_escape(person.display_name),
            "schedule": mrkdwn_escape(invitation.round.schedule.name),
            "closes": closes,
        }
        if reminder:
            text = gettext("Reminder: your check-in %(schedule)s closes %(closes)s.") % context
        else:
            text = gettext("Hi %(name)s, your check-in %(schedule)s is open until %(closes)s.") % context
        anonymity = anonymity_line(person.organisation.min_group_size)
        button: dict[str, Any] = {
            "type": "button",
            "style": "primary",
            "text": {"type": "plain_text", "text": gettext("Answer (about a minute)")},
        }
    if mode == SlackWorkspace.Mode.MODAL:
        button |= {"action_id": "pulse_checkin_modal", "value": token}
    else:
        button |= {"action_id": "pulse_checkin_link", "url": checkin_url(token)}
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": anonymity}]},
        {"type": "actions", "elements": [button]},
    ]
    return text, blocks


def thanks_content(person: Person) -> tuple[str, list[dict[str, Any]]]:
    """What the DM becomes once answered: neutral, never the answers, never a score (workspace exports
    can contain DMs)."""
    with translation.override(language_of(person)):
        text = gettext("Answered, thank you.")
    return text, [{"type": "section", "text": {"type": "plain_text", "text": text}}]


def dm_post(client: WebClient, *, user_id: str, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]:
    """Post a DM to a Slack user (``conversations.open``, then ``chat.postMessage``); returns the DM's
    channel and the message's timestamp. Raises what the client raises (:data:`SLACK_ERRORS`)."""
    opened = client.conversations_open(users=user_id)
    channel = str(opened["channel"]["id"])
    posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    return str(posted["channel"]), str(posted["ts"])


def _post(client: WebClient, row: SlackMessage, token: str) -> tuple[str, str]:
    invitation = row.invitation
    text, blocks = dm_content(invitation, token=token, mode=row.workspace.mode, reminder=row.handled > 0)
    return dm_post(client, user_id=invitation.person.slack_user.user_id, text=text, blocks=blocks)


def _thank(client: WebClient, row: SlackMessage) -> None:
    text, blocks = thanks_content(row.invitation.person)
    client.chat_update(channel=row.channel_id, ts=row.message_ts, text=text, blocks=blocks)


# --- Recording -----------------------------------------------------------------------------------------


def _next_due(row: SlackMessage, handled: int) -> datetime | None:
    for field in Invitation.EMAIL_DUE_FIELDS[handled:]:
        due: datetime | None = getattr(row.invitation, field)
        if due is not None:
            return due
    return None


def _record(row: SlackMessage, claim: uuid.UUID, *, outcome: str, channel: str = "", ts: str = "") -> None:
    """The message now due is handled: move the row on to the next planned message (or to nothing)."""
    handled = row.handled + 1
    changes: dict[str, Any] = {
        "handled": handled,
        "outcomes": row.outcomes + outcome,
        "due_at": _next_due(row, handled),
        "attempts": 0,
        "claim": None,
        "claimed_until": None,
    }
    if channel and ts:
        changes |= {"channel_id": channel, "message_ts": ts}
    SlackMessage.objects.filter(pk=row.pk, claim=claim).update(**changes)


def _finish(row: SlackMessage, claim: uuid.UUID, *, thanked: bool) -> None:
    """Answered: every message not yet handled is skipped, nothing more is due."""
    remaining = len(Invitation.EMAIL_DUE_FIELDS) - min(row.handled, len(Invitation.EMAIL_DUE_FIELDS))
    SlackMessage.objects.filter(pk=row.pk, claim=claim).update(
        handled=row.handled + remaining,
        outcomes=row.outcomes + Invitation.EmailOutcome.SKIPPED * remaining,
        due_at=None,
        thanked=thanked or row.thanked,
        claim=None,
        claimed_until=None,
    )


def _release(row: SlackMessage, claim: uuid.UUID) -> None:
    SlackMessage.objects.filter(pk=row.pk, claim=claim).update(claim=None, claimed_until=None)


def workspace_wait_out(workspace_id: int, failure: RateLimited) -> datetime:
    """Slack said 429: the workspace sends nothing (no DM of any outbox) until Retry-After has passed.
    Returns that moment, for the row to wait as long."""
    until = timezone.now() + timedelta(seconds=failure.retry_after)
    SlackWorkspace.objects.filter(pk=workspace_id).filter(
        Q(next_send_at__isnull=True) | Q(next_send_at__lt=until)
    ).update(next_send_at=until)
    logger.warning("slack: rate limited, the workspace waits %s s", f"{failure.retry_after:g}")
    return until


def _rate_limited(row: SlackMessage, claim: uuid.UUID, failure: RateLimited) -> None:
    """Slack said 429: the workspace waits out Retry-After, the row waits as long; the row's attempts are
    not counted (nothing is lost)."""
    until = workspace_wait_out(row.workspace_id, failure)
    SlackMessage.objects.filter(pk=row.pk, claim=claim).update(
        due_at=until, claim=None, claimed_until=None, error=str(failure)
    )


def _fail(
    row: SlackMessage, claim: uuid.UUID, failure: DeliveryFailure, moment: datetime, counts: Counter[str]
) -> None:
    """A failed call: permanent, or the last allowed attempt, records the message as failed (a dead
    letter) and moves on; a temporary one backs off (``delivery.backoff``)."""
    attempts = row.attempts + 1
    error = str(failure)[:500]
    if failure.permanent or attempts >= MAX_ATTEMPTS:
        if row.invitation.spent:
            _finish(row, claim, thanked=False)
        else:
            _record(row, claim, outcome=Invitation.EmailOutcome.FAILED)
        SlackMessage.objects.filter(pk=row.pk).update(error=error)
        counts[DeliveryCount.Outcome.FAILED] += 1
        logger.warning("slack message %s failed for good (attempt %s): %s", row.pk, attempts, error)
        return
    SlackMessage.objects.filter(pk=row.pk, claim=claim).update(
        attempts=attempts, due_at=moment + backoff(attempts), claim=None, claimed_until=None, error=error
    )
    counts[DeliveryCount.Outcome.RETRIED] += 1
    logger.info(
        "slack message %s failed (attempt %s), retrying in %s: %s", row.pk, attempts, backoff(attempts), error
    )
