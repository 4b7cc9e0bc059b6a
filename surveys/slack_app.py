"""Pulse's Slack app: a ``slack_bolt`` App answering the DM's button and the check-in modal.

HTTP mode by default: Slack posts interactivity to ``/slack/events/`` (:func:`slack_events`, through Bolt's
Django adapter). ``manage.py pulse_slack_socket`` runs the same App over Socket Mode where Pulse has no
public URL. The manifest is docs/slack-manifest.yml; setting it up is docs/operations.md §16.

* Every HTTP request is verified before Bolt sees it (:func:`verified`): ``X-Slack-Signature`` is Slack's
  v0 HMAC-SHA256 over ``v0:{timestamp}:{body}``, checked by slack_sdk's ``SignatureVerifier`` (the one Bolt
  uses: a five-minute window, constant-time comparison) against the installation's signing secret and each
  connected workspace's own; a request no secret signed, or signed too long ago (a replay), is refused
  with 401 and changes nothing.
* Link mode: the button is a link to the web check-in (the answers never pass through Slack); Slack still
  tells the app about the click, which is acknowledged and nothing else.
* Modal mode: the button opens the modal (``views.open`` with the click's trigger id, within Slack's three
  seconds: built from the round's questions, a few indexed reads); the submission goes through
  ``surveys.services.answering.response_submit``, the web's own validation and sealing path, with the
  link's token from the view's ``private_metadata``. Invalid answers come back per question
  (``response_action: errors``). Once the HTTP answer has gone, the DM becomes "Answered, thank you".
* Nothing here logs a payload, a Slack user id, a channel or a message timestamp; Bolt's own logger is
  held at ERROR (its DEBUG and "unhandled request" lines print bodies).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST
from slack_bolt import Ack, App, BoltContext
from slack_bolt.adapter.django import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from surveys.language import language_of
from surveys.models import SlackWorkspace
from surveys.sealing import SealError
from surveys.services.answering import (
    AnswersInvalid,
    SubmitRefused,
    invitation_for_answering,
    response_submit,
)
from surveys.services.emails import checkin_url
from surveys.services.slack_delivery import (
    SIGNING_SECRET_PURPOSE,
    slack_client,
    slack_message_thank,
    workspace_token,
)
from surveys.slack_modal import CALLBACK_ID, TooLargeForSlack, answers_from_view, checkin_modal, notice_modal
from surveys.stored_secrets import secret_open

logger = logging.getLogger(__name__)

bolt_logger = logging.getLogger("surveys.slack.bolt")
bolt_logger.setLevel(logging.ERROR)

# Work to do once the HTTP answer has gone (the DM's update after a submission): collected by the listener,
# run by the view's response closer, so Slack gets its answer within its three seconds.
_after_response: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "slack_after_response", default=None
)


def _later(work: Callable[[], object]) -> None:
    pending = _after_response.get()
    if pending is not None:
        pending.append(work)
        return

    def run() -> None:  # Socket Mode: no HTTP response to wait for
        try:
            work()
        finally:
            close_old_connections()

    threading.Thread(target=run, daemon=True).start()


def _authorize(enterprise_id: str | None, team_id: str | None, logger: logging.Logger) -> AuthorizeResult:
    """The bot token of the workspace a request comes from (Bolt's multi-workspace ``authorize``)."""
    workspace = SlackWorkspace.objects.filter(team_id=team_id or "").first()
    if workspace is None:
        raise BoltError("this workspace is not connected")
    try:
        token = workspace_token(workspace)
    except SealError:
        raise BoltError("this workspace's token cannot be opened") from None
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)


def _open_modal(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    action = (body.get("actions") or [{}])[0]
    token = str(action.get("value", ""))
    user_id = str((body.get("user") or {}).get("id", ""))
    trigger_id = str(body.get("trigger_id", ""))
    view = modal_for(token=token, user_id=user_id)
    try:
        # A client of our own, not Bolt's: it follows PULSE_SLACK_API_URL as it is now.
        slack_client(context.bot_token).views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        logger.warning("slack: cannot open the check-in modal (%s)", type(error).__name__)


@sensitive_variables()
def modal_for(*, token: str, user_id: str) -> dict[str, Any]:
    """The view a click opens: the check-in, or a notice saying why not (a spent or closed link, a click
    by someone the DM was not sent to, a round too large for one modal)."""
    try:
        invitation = invitation_for_answering(token)
    except SubmitRefused as refused:
        if refused.person is not None:
            with translation.override(language_of(refused.person)):
                return notice_modal(str(refused.reason))
        return notice_modal(str(refused.reason))
    person = invitation.person
    slack_user = getattr(person, "slack_user", None)
    with translation.override(language_of(person)):
        if slack_user is None or not user_id or slack_user.user_id != user_id:
            return notice_modal(gettext("This check-in was sent to someone else."))
        try:
            return checkin_modal(
                invitation.round,
                token=token,
                locale=language_of(person),
                k=person.organisation.min_group_size,
            )
        except TooLargeForSlack:
            return notice_modal(
                gettext(
                    "This check-in has more questions than a Slack form can hold; "
                    "please answer it on the web."
                ),
                url=checkin_url(token),
            )


@sensitive_variables()
def _submit(ack: Ack, view: dict[str, Any]) -> None:
    ack(**submission_response(view))


@sensitive_variables()
def submission_response(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack is told after a modal's submission: the errors per question, or a neutral thank-you
    view (never the answers, never a score). A stored answer makes the DM's update due after the reply."""
    token = str(view.get("private_metadata", ""))
    try:
        invitation = invitation_for_answering(token)
    except SubmitRefused as refused:
        return {"response_action": "update", "view": notice_modal(str(refused.reason))}
    with translation.override(language_of(invitation.person)):
        try:
            response_submit(token=token, answers=answers_from_view(view))
        except AnswersInvalid as invalid:
            return {"response_action": "errors", "errors": dict(invalid.errors)}
        except SubmitRefused as refused:
            return {"response_action": "update", "view": notice_modal(str(refused.reason))}
        thanks = notice_modal(gettext("Answered, thank you."))
    invitation_id = invitation.pk
    _later(lambda: slack_message_thank(invitation_id=invitation_id))
    return {"response_action": "update", "view": thanks}


def _acknowledge(ack: Ack) -> None:
    ack()


def build_app() -> App:
    """The App, with Pulse's listeners. Requests reach it verified (:func:`verified`; Socket Mode needs no
    signature: its connection is opened with the app-level token)."""
    app = App(
        # Bolt names its own logger after the app and gives it the base logger's level: named "pulse" it
        # would set Pulse's own logger to ERROR and silence every warning of the service.
        name="surveys.slack.bolt.app",
        logger=bolt_logger,
        client=slack_client(),
        authorize=_authorize,
        signing_secret="",
        request_verification_enabled=False,
        token_verification_enabled=False,
        # Listeners finish before the HTTP answer: views.open inside Slack's three seconds, and the test
        # client sees the outcome; slower work goes after the answer (_later).
        process_before_response=True,
        ignoring_self_events_enabled=False,
    )
    app.action("pulse_checkin_link")(_acknowledge)
    app.action("pulse_checkin_modal")(_open_modal)
    app.view(CALLBACK_ID)(_submit)
    app.view_closed(CALLBACK_ID)(_acknowledge)
    return app


_app_lock = threading.Lock()
_app: App | None = None
_handler: SlackRequestHandler | None = None


def slack_app() -> App:
    global _app, _handler
    with _app_lock:
        if _app is None:
            _app = build_app()
            _handler = SlackRequestHandler(_app)
        return _app


def _signing_secrets() -> list[str]:
    secrets = [settings.PULSE_SLACK_SIGNING_SECRET] if settings.PULSE_SLACK_SIGNING_SECRET else []
    for organisation_id, stored in SlackWorkspace.objects.exclude(signing_secret="").values_list(
        "organisation_id", "signing_secret"
    ):
        try:
            secrets.append(secret_open(stored, purpose=SIGNING_SECRET_PURPOSE, context=str(organisation_id)))
        except SealError:
            continue
    return secrets


def verified(body: bytes, headers: dict[str, str]) -> bool:
    """Whether Slack signed this request, with one of the secrets Pulse knows, within five minutes."""
    return any(SignatureVerifier(secret).is_valid_request(body, headers) for secret in _signing_secrets())


@csrf_exempt
@require_POST
def slack_events(request: HttpRequest) -> HttpResponse:
    """Slack's events and interactivity URL. Unsigned, badly signed or replayed requests: 401, and nothing
    is done."""
    if not verified(request.body, dict(request.headers)):
        return HttpResponse(status=401)
    slack_app()
    assert _handler is not None
    pending: list[Callable[[], object]] = []
    reset = _after_response.set(pending)
    try:
        response = _handler.handle(request)
    finally:
        _after_response.reset(reset)
    for work in pending:
        # Run by the server once the answer has been sent (Django calls a response's closers then).
        response._resource_closers.append(work)  # type: ignore[attr-defined]
    return response
