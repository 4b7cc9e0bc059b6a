"""Connect an organisation's Slack workspace, set how its people are asked, match people to Slack users.

Credentials are sealed at once (``surveys.stored_secrets``, bound to their purpose and the organisation)
and only their last four characters are kept in clear, as a hint for the admin page. Matching asks Slack
``users.lookupByEmail`` for each active person: a person Slack does not know keeps email
(``surveys.services.checkin_channels``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from slack_sdk.errors import SlackApiError, SlackClientError

from surveys.models import CheckinChannel, Organisation, Person, SlackUser, SlackWorkspace
from surveys.services.slack_delivery import (
    BOT_TOKEN_PURPOSE,
    SIGNING_SECRET_PURPOSE,
    RateLimited,
    slack_client,
    slack_failure,
    workspace_token,
)
from surveys.stored_secrets import SealError, secret_hint, secret_seal

logger = logging.getLogger(__name__)


class SlackRefused(Exception):
    """The change was refused; ``errors`` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("refused")
        self.errors = errors


def slack_workspace_connect(
    *, organisation: Organisation, bot_token: str, signing_secret: str, now: datetime | None = None
) -> SlackWorkspace:
    """Connect (or reconnect) the organisation's workspace with a pasted bot token (xoxb-…) and, for a
    single-workspace app, its signing secret. Slack's ``auth.test`` checks the token and names the
    workspace. An empty signing secret on a reconnect keeps the stored one."""
    bot_token, signing_secret = bot_token.strip(), signing_secret.strip()
    existing = SlackWorkspace.objects.filter(organisation=organisation).first()
    errors: dict[str, str] = {}
    if not bot_token.startswith("xoxb-"):
        errors["bot_token"] = gettext("A bot token starts with xoxb- (Slack: OAuth & Permissions).")
    if signing_secret and (len(signing_secret) < 16 or not signing_secret.isalnum()):
        errors["signing_secret"] = gettext(
            "A signing secret is a string of letters and digits (Basic Information)."
        )
    if errors:
        raise SlackRefused(errors)
    try:
        identity = slack_client(bot_token).auth_test()
    except (SlackApiError, SlackClientError, OSError, ValueError) as error:
        raise SlackRefused(
            {
                "bot_token": gettext("Slack refused this token (%(reason)s).")
                % {"reason": slack_failure(error)}
            }
        ) from None
    team_id = str(identity.get("team_id", ""))
    taken = SlackWorkspace.objects.filter(team_id=team_id).exclude(organisation=organisation).exists()
    if not team_id or taken:
        raise SlackRefused(
            {"bot_token": gettext("This workspace is already connected to another organisation.")}
        )
    context = str(organisation.pk)
    with transaction.atomic():
        workspace = existing or SlackWorkspace(organisation=organisation)
        workspace.team_id = team_id
        workspace.team_name = str(identity.get("team", ""))[:200]
        workspace.bot_token = secret_seal(bot_token, purpose=BOT_TOKEN_PURPOSE, context=context)
        workspace.bot_token_hint = secret_hint(bot_token)
        if signing_secret:
            workspace.signing_secret = secret_seal(
                signing_secret, purpose=SIGNING_SECRET_PURPOSE, context=context
            )
            workspace.signing_secret_hint = secret_hint(signing_secret)
        workspace.connected_at = now or timezone.now()
        workspace.save()
    return workspace


def slack_workspace_settings_set(*, workspace: SlackWorkspace, default_channel: str, mode: str) -> None:
    """Set how the organisation's people are asked by default, and whether the DM's button opens the web
    page or a modal."""
    errors: dict[str, str] = {}
    if default_channel not in CheckinChannel.values:
        errors["default_channel"] = gettext("Choose email, Slack, or both.")
    if mode not in SlackWorkspace.Mode.values:
        errors["mode"] = gettext("Choose link or modal.")
    if errors:
        raise SlackRefused(errors)
    SlackWorkspace.objects.filter(pk=workspace.pk).update(default_channel=default_channel, mode=mode)


def slack_workspace_disconnect(*, organisation: Organisation) -> bool:
    """Revoke the bot token with Slack (``auth.revoke``), then forget the workspace: its credentials, its
    outbox rows and the people's Slack users. Everyone is asked by email again. Returns whether Slack
    revoked the token; when it could not (Slack unreachable, the token already revoked, a key ring that no
    longer opens it), the workspace is forgotten all the same, and the admin removes the app in Slack."""
    workspace = SlackWorkspace.objects.filter(organisation=organisation).first()
    revoked = False
    if workspace is not None:
        # Outside the transaction: a slow Slack holds no lock. Nothing is stored from its answer.
        try:
            answer = slack_client(workspace_token(workspace)).auth_revoke()
            revoked = bool(answer.get("revoked"))
        except (SealError, SlackApiError, SlackClientError, OSError, ValueError) as error:
            logger.warning("Slack: the bot token was not revoked (%s)", type(error).__name__)
    with transaction.atomic():
        SlackUser.objects.filter(person__organisation=organisation).update(user_id="", looked_up_at=None)
        SlackWorkspace.objects.filter(organisation=organisation).delete()
    return revoked


def slack_channel_choose(*, person: Person, channel: str) -> None:
    """A person's own choice of how they are asked; empty: the organisation's default."""
    if channel and channel not in CheckinChannel.values:
        raise SlackRefused({"channel": gettext("Choose email, Slack, or both.")})
    SlackUser.objects.update_or_create(person=person, defaults={"channel": channel})


@dataclass(frozen=True)
class MatchResult:
    matched: int
    unmatched: int
    waiting: int  # not looked up: Slack asked us to slow down; run it again later


def slack_people_match(*, organisation: Organisation, now: datetime | None = None) -> MatchResult:
    """Look up each active person of the organisation in Slack by email (``users.lookupByEmail``) and store
    their Slack user id, or none. Stops at Slack's first 429: the rest wait for the next run."""
    moment = now or timezone.now()
    workspace = SlackWorkspace.objects.get(organisation=organisation)
    client = slack_client(workspace_token(workspace))
    people = list(Person.objects.filter(organisation=organisation, is_active=True).order_by("pk"))
    matched = unmatched = 0
    for position, person in enumerate(people):
        try:
            found = client.users_lookupByEmail(email=person.email)
            user = found.get("user") or {}
            user_id = "" if user.get("deleted") or user.get("is_bot") else str(user.get("id", ""))
        except (SlackApiError, SlackClientError, OSError, ValueError) as error:
            failure = slack_failure(error)
            if isinstance(failure, RateLimited):
                return MatchResult(matched, unmatched, len(people) - position)
            if not failure.permanent and "users_not_found" not in str(failure):
                logger.warning("slack: looking people up failed (%s); the rest wait", failure)
                return MatchResult(matched, unmatched, len(people) - position)
            user_id = ""
        SlackUser.objects.update_or_create(
            person=person, defaults={"user_id": user_id, "looked_up_at": moment}
        )
        if user_id:
            matched += 1
        else:
            unmatched += 1
    return MatchResult(matched, unmatched, 0)
