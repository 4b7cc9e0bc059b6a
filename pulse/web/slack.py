"""Check-ins in Slack in the admin app: how to make the Slack app (the manifest, with this installation's
address filled in), connect a workspace with its bot token and signing secret, choose how people are asked
by default and in which mode, match people to Slack users, and disconnect (docs/operations.md §16).

A saved token or secret is shown only by its hint (last four characters); the password inputs never render
a value back. A refused change comes back as the page with its errors on their fields and status 400, and
nothing is stored (the services check everything, and Slack's ``auth.test`` the token, before writing).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from pulse.permissions import Caller
from pulse.web.views import admin_required
from surveys.models import CheckinChannel, SlackWorkspace
from surveys.sealing import SealError
from surveys.selectors import slack_people_of, slack_workspace_of
from surveys.services.slack import (
    SlackRefused,
    slack_people_match,
    slack_workspace_connect,
    slack_workspace_disconnect,
    slack_workspace_settings_set,
)

MANIFEST_PATH = Path(settings.BASE_DIR) / "docs" / "slack-manifest.yml"
MANIFEST_ADDRESS = "https://<your-pulse>"
#: The most people Slack does not know that the page names; the rest are counted.
NOT_FOUND_SHOWN = 50

CHANNEL_CHOICES = [
    (CheckinChannel.EMAIL, _("Email")),
    (CheckinChannel.SLACK, _("Slack direct message")),
    (CheckinChannel.BOTH, _("Both email and Slack")),
]
MODE_CHOICES = [
    (
        SlackWorkspace.Mode.LINK,
        _(
            "Link: the button opens the check-in page in the browser. Slack sees that a message was sent "
            "and that its button was clicked, never the answers."
        ),
    ),
    (
        SlackWorkspace.Mode.MODAL,
        _(
            "Modal: people answer in a Slack form. The answers pass through Slack's servers (Slack sees "
            "them in transit and its logs may keep them); Pulse stores them as it does from the web, "
            "without the Slack user."
        ),
    ),
]


@cache
def _manifest_source() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), MANIFEST_PATH
    return loaded


def manifest_for(*, base_url: str, socket_mode: bool) -> str:
    """docs/slack-manifest.yml for this installation: its address in the request URL, or, in Socket Mode
    (``PULSE_SLACK_APP_TOKEN`` set), no request URL at all. Without the file's comments, which the page
    says in its own words."""
    manifest = copy.deepcopy(_manifest_source())
    app_settings = manifest["settings"]
    if socket_mode:
        app_settings["socket_mode_enabled"] = True
        app_settings["interactivity"].pop("request_url", None)
    else:
        url = str(app_settings["interactivity"]["request_url"])
        app_settings["interactivity"]["request_url"] = url.replace(MANIFEST_ADDRESS, base_url, 1)
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)


class ConnectForm(forms.Form):
    bot_token = forms.CharField(
        label=_("Bot User OAuth Token"),
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Starts with xoxb- (Slack: OAuth & Permissions, after installing the app). Pulse checks it "
            "with Slack, stores it encrypted and shows only its last four characters."
        ),
    )
    signing_secret = forms.CharField(
        label=_("Signing Secret"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Slack: Basic Information → App Credentials. Pulse checks every request from Slack with it; "
            "stored encrypted, shown only by its last four characters."
        ),
    )

    def __init__(self, *args: Any, secret_needed: bool, reconnect: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret_needed = secret_needed
        if reconnect:
            self.fields["signing_secret"].help_text = _(
                "Slack: Basic Information → App Credentials. Leave empty to keep the saved one."
            )

    def clean_signing_secret(self) -> str:
        secret: str = self.cleaned_data["signing_secret"]
        if not secret and self.secret_needed:
            # Nothing else could verify Slack's requests: no saved secret, none for the installation, and
            # no Socket Mode (whose connection needs no signature).
            raise forms.ValidationError(
                gettext("Paste the app's signing secret: without it Pulse cannot tell Slack's requests.")
            )
        return secret


class SettingsForm(forms.Form):
    default_channel = forms.ChoiceField(
        label=_("How people are asked by default"),
        choices=CHANNEL_CHOICES,
        widget=forms.RadioSelect,
        help_text=_(
            "Each person can choose otherwise on their own page (My check-ins). Someone Slack does not "
            "know by their email address is always asked by email."
        ),
    )
    mode = forms.ChoiceField(
        label=_("What the button in Slack does"),
        choices=MODE_CHOICES,
        widget=forms.RadioSelect,
        help_text=_(
            'Either way the message becomes a neutral "Answered, thank you" once answered (workspace '
            "exports can contain direct messages). The privacy page tells people which mode you chose."
        ),
    )


class DisconnectForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "Yes, disconnect: Pulse forgets the token and the matched Slack users, and asks everyone by email"
        ),
        error_messages={"required": _("Tick the box to disconnect.")},
    )


def _refused(form: forms.Form, refused: SlackRefused) -> None:
    for field, message in refused.errors.items():
        form.add_error(field if field in form.fields else None, message)


def _secret_needed(workspace: SlackWorkspace | None) -> bool:
    return not (
        (workspace is not None and workspace.signing_secret)
        or settings.PULSE_SLACK_SIGNING_SECRET
        or settings.PULSE_SLACK_APP_TOKEN
    )


def _connect_form(workspace: SlackWorkspace | None, data: Any = None) -> ConnectForm:
    return ConnectForm(data, secret_needed=_secret_needed(workspace), reconnect=workspace is not None)


def _page(
    request: HttpRequest,
    caller: Caller,
    workspace: SlackWorkspace | None,
    status: int = 200,
    **forms_by_name: forms.Form,
) -> HttpResponse:
    socket_mode = bool(settings.PULSE_SLACK_APP_TOKEN)
    base_url = settings.PULSE_BASE_URL
    people = slack_people_of(caller.organisation, named=NOT_FOUND_SHOWN) if workspace else None
    context: dict[str, Any] = {
        "workspace": workspace,
        "people": people,
        "not_found_more": people.not_found - len(people.not_found_first) if people else 0,
        "manifest": manifest_for(base_url=base_url, socket_mode=socket_mode),
        "socket_mode": socket_mode,
        "events_url": base_url + reverse("slack_events"),
        "reachable": base_url.startswith("https://"),
        "installation_secret": bool(settings.PULSE_SLACK_SIGNING_SECRET),
        "connect_form": forms_by_name.get("connect_form") or _connect_form(workspace),
        "settings_form": forms_by_name.get("settings_form")
        or SettingsForm(
            initial={"default_channel": workspace.default_channel, "mode": workspace.mode}
            if workspace
            else None
        ),
        "disconnect_form": forms_by_name.get("disconnect_form") or DisconnectForm(),
    }
    response = render(request, "pulse/admin_app/slack.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _match_message(request: HttpRequest, matched: int, unmatched: int, waiting: int) -> None:
    parts = [
        ngettext(
            "%(count)d person matched to a Slack user", "%(count)d people matched to Slack users", matched
        )
        % {"count": matched},
        ngettext(
            "%(count)d not found in Slack (asked by email)",
            "%(count)d not found in Slack (asked by email)",
            unmatched,
        )
        % {"count": unmatched},
    ]
    if waiting:
        parts.append(
            ngettext(
                "%(count)d not looked up yet: Slack did not answer or asked Pulse to slow down; "
                "match again in a minute",
                "%(count)d not looked up yet: Slack did not answer or asked Pulse to slow down; "
                "match again in a minute",
                waiting,
            )
            % {"count": waiting}
        )
        messages.warning(request, "; ".join(parts) + ".")
    else:
        messages.success(request, "; ".join(parts) + ".")


@sensitive_post_parameters("bot_token", "signing_secret")
@admin_required
def slack_settings(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The admin's Slack page: GET shows it; POST does one ``action`` and comes back (a redirect on
    success, the page with field errors and 400 on a refusal, nothing stored)."""
    organisation = caller.organisation
    workspace = slack_workspace_of(organisation)
    if request.method != "POST":
        return _page(request, caller, workspace)
    action = request.POST.get("action", "")
    if action == "connect":
        connect_form = _connect_form(workspace, request.POST)
        if connect_form.is_valid():
            try:
                connected = slack_workspace_connect(organisation=organisation, **connect_form.cleaned_data)
            except SlackRefused as refused:
                _refused(connect_form, refused)
            else:
                messages.success(
                    request,
                    gettext(
                        "Slack accepted the token: connected to the workspace %(name)s. Match people next."
                    )
                    % {"name": connected},
                )
                return redirect("web_slack")
        return _page(request, caller, workspace, 400, connect_form=connect_form)
    if workspace is None:  # the other actions need a workspace; a stale page's button does nothing
        return redirect("web_slack")
    if action == "settings":
        settings_form = SettingsForm(request.POST)
        if settings_form.is_valid():
            try:
                slack_workspace_settings_set(workspace=workspace, **settings_form.cleaned_data)
            except SlackRefused as refused:
                _refused(settings_form, refused)
            else:
                messages.success(request, gettext("Saved: how people are asked, and in which mode."))
                return redirect("web_slack")
        return _page(request, caller, workspace, 400, settings_form=settings_form)
    if action == "match":
        try:
            result = slack_people_match(organisation=organisation)
        except SealError:
            messages.error(
                request,
                gettext(
                    "The saved token cannot be opened (the stored-secrets key ring changed). "
                    "Connect again with the token."
                ),
            )
        else:
            _match_message(request, result.matched, result.unmatched, result.waiting)
        return redirect("web_slack")
    if action == "disconnect":
        disconnect_form = DisconnectForm(request.POST)
        if not disconnect_form.is_valid():
            return _page(request, caller, workspace, 400, disconnect_form=disconnect_form)
        if slack_workspace_disconnect(organisation=organisation):
            messages.success(
                request,
                gettext(
                    "Slack is disconnected: everyone is asked by email, and Slack has revoked Pulse's "
                    "token. Remove the app from the workspace in Slack too."
                ),
            )
        else:
            messages.warning(
                request,
                gettext(
                    "Slack is disconnected: everyone is asked by email. Slack did not confirm that it "
                    "revoked Pulse's token: remove the app from the workspace in Slack, which revokes it."
                ),
            )
        return redirect("web_slack")
    return redirect("web_slack")
