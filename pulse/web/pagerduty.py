"""PagerDuty in the admin app (save the key, the webhook's signing secrets, link teams, sync now) and the
webhook endpoint PagerDuty posts to (docs/oncall.md §6). Each linked team's row says where its interruption
counts come from: the log entries, cross-checked with PagerDuty Analytics where the account has it (§9.1).

The admin page shows a saved key or secret only by its hint (last four characters); the forms' password
inputs never render a value back. The webhook view reads the raw body (the signature is over its exact
bytes), answers 202 to what it accepts and 401/400/404 to what it refuses, and stores nothing then.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from pulse.analysis.pagerduty import WEBHOOK_MAX_BYTES, WebhookRefused
from pulse.models.pagerduty import PagerDutyConnection, PagerDutyTeamLink, SyncOutcome
from pulse.permissions import Caller, teams_visible_to
from pulse.selectors.pagerduty import interruption_sources
from pulse.services.pagerduty import (
    pagerduty_connection_save,
    pagerduty_sync_request,
    pagerduty_team_link_delete,
    pagerduty_team_link_save,
    pagerduty_webhook_receive,
    pagerduty_webhook_secret_add,
    pagerduty_webhook_secret_remove,
)
from pulse.web.forms import ServiceErrorsMixin
from pulse.web.views import admin_required

logger = logging.getLogger(__name__)

REGION_LABELS = {
    "https://api.pagerduty.com": _("United States (api.pagerduty.com)"),
    "https://api.eu.pagerduty.com": _("European Union (api.eu.pagerduty.com)"),
}
OUTCOME_TEXTS = {
    SyncOutcome.OK: _("Synced"),
    SyncOutcome.KEY_REFUSED: _("PagerDuty refused the API key. Save a valid key."),
    SyncOutcome.FORBIDDEN: _("The API key may not read these schedules, policies or services."),
    SyncOutcome.RATE_LIMITED: _(
        "PagerDuty kept answering that the rate limit was reached; the next sync tries again."
    ),
    SyncOutcome.UNREACHABLE: _("PagerDuty could not be reached; the next sync tries again."),
    SyncOutcome.SERVER_ERROR: _("PagerDuty answered with an error; the next sync tries again."),
    SyncOutcome.BAD_RESPONSE: _("PagerDuty's answer could not be read."),
    SyncOutcome.KEY_UNREADABLE: _(
        "The stored key cannot be opened (the stored-secrets key ring changed). Save the key again."
    ),
}


def _regions() -> list[tuple[str, str]]:
    return [(url, str(REGION_LABELS.get(url, url))) for url in settings.PULSE_PAGERDUTY_API_URLS]


class ConnectionForm(ServiceErrorsMixin, forms.Form):
    api_url = forms.ChoiceField(label=_("Service region"), choices=_regions)
    api_key = forms.CharField(
        label=_("REST API key"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "A read-only REST API key (PagerDuty: Integrations → API Access Keys). Pulse stores it "
            "encrypted and shows only its last four characters. Leave empty to keep the saved key."
        ),
    )


class SecretForm(ServiceErrorsMixin, forms.Form):
    secret = forms.CharField(
        label=_("Signing secret"),
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "The secret PagerDuty shows once when the webhook subscription is made. While PagerDuty "
            "rotates it, save the new one beside the old and remove the old one afterwards."
        ),
    )


def _id_list(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


class TeamLinkForm(ServiceErrorsMixin, forms.Form):
    team = forms.TypedChoiceField(label=_("Team"), coerce=int)
    schedule_ids = forms.CharField(
        label=_("Schedule ids"),
        required=False,
        max_length=2000,
        help_text=_("PagerDuty ids, separated by commas or spaces (e.g. PABC123)."),
    )
    escalation_policy_ids = forms.CharField(
        label=_("Escalation policy ids"),
        required=False,
        max_length=2000,
        help_text=_("Who is on call at which level comes from the schedules and escalation policies."),
    )
    service_ids = forms.CharField(
        label=_("Service ids"),
        required=False,
        max_length=2000,
        help_text=_(
            "The team's pages are the notifications of these services' incidents (empty: of its "
            "escalation policies' incidents)."
        ),
    )
    pagerduty_team_id = forms.CharField(
        label=_("PagerDuty team id"),
        required=False,
        max_length=32,
        help_text=_(
            "Optional. Where the PagerDuty account has Analytics, Pulse cross-checks the interruptions it "
            "counts from the log entries with Analytics' figures for this PagerDuty team."
        ),
    )

    def __init__(self, *args: object, caller: Caller, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.TypedChoiceField)
        team_field.choices = [(team.pk, team.name) for team in teams_visible_to(caller).order_by("path")]


def _context(caller: Caller, **forms_by_name: forms.Form) -> dict[str, object]:
    connection = (
        PagerDutyConnection.objects.filter(organisation_id=caller.organisation_id)
        .prefetch_related("webhook_secrets")
        .first()
    )
    links = (
        list(PagerDutyTeamLink.objects.filter(connection=connection).select_related("team"))
        if connection
        else []
    )
    sources = interruption_sources(links)
    rows = [
        {
            "link": link,
            "outcome": OUTCOME_TEXTS.get(SyncOutcome(link.last_sync_outcome))
            if link.last_sync_outcome
            else None,
            "interruptions": sources[link.pk],
        }
        for link in links
    ]
    webhook_url = (
        settings.PULSE_BASE_URL + reverse("pagerduty_webhook", args=[connection.webhook_token])
        if connection
        else ""
    )
    return {
        "connection": connection,
        "rows": rows,
        "webhook_url": webhook_url,
        "connection_form": forms_by_name.get("connection_form")
        or ConnectionForm(initial={"api_url": connection.api_url if connection else _regions()[0][0]}),
        "secret_form": forms_by_name.get("secret_form") or SecretForm(),
        "link_form": forms_by_name.get("link_form") or TeamLinkForm(caller=caller),
    }


def _page(
    request: HttpRequest, caller: Caller, status: int = 200, **forms_by_name: forms.Form
) -> HttpResponse:
    response = render(
        request, "pulse/admin_app/pagerduty.html", _context(caller, **forms_by_name), status=status
    )
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("api_key", "secret")
@admin_required
def pagerduty_settings(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The admin's PagerDuty page: GET shows it; POST does one ``action`` and comes back (303-style
    redirect on success, the page with field errors and 400 on a refusal, nothing saved)."""
    if request.method != "POST":
        return _page(request, caller)
    action = request.POST.get("action", "")
    organisation_id = caller.organisation_id
    if action == "save_key":
        form = ConnectionForm(request.POST)
        if form.is_valid():
            try:
                pagerduty_connection_save(organisation_id=organisation_id, **form.cleaned_data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, gettext("The PagerDuty key was checked with PagerDuty and saved."))
                return redirect("web_pagerduty")
        return _page(request, caller, 400, connection_form=form)
    if action == "add_secret":
        secret_form = SecretForm(request.POST)
        if secret_form.is_valid():
            try:
                pagerduty_webhook_secret_add(organisation_id=organisation_id, **secret_form.cleaned_data)
            except ValidationError as error:
                secret_form.add_service_errors(error)
            else:
                messages.success(request, gettext("The signing secret was saved."))
                return redirect("web_pagerduty")
        return _page(request, caller, 400, secret_form=secret_form)
    if action == "remove_secret":
        secret_id = request.POST.get("secret", "")
        if secret_id.isdigit() and pagerduty_webhook_secret_remove(
            organisation_id=organisation_id, secret_id=int(secret_id)
        ):
            messages.success(request, gettext("The signing secret was removed."))
        return redirect("web_pagerduty")
    if action == "link_team":
        link_form = TeamLinkForm(request.POST, caller=caller)
        if link_form.is_valid():
            data = link_form.cleaned_data
            try:
                pagerduty_team_link_save(
                    organisation_id=organisation_id,
                    team_id=data["team"],
                    schedule_ids=_id_list(data["schedule_ids"]),
                    escalation_policy_ids=_id_list(data["escalation_policy_ids"]),
                    service_ids=_id_list(data["service_ids"]),
                    pagerduty_team_id=data["pagerduty_team_id"],
                )
            except ValidationError as error:
                link_form.add_service_errors(error)
            else:
                messages.success(request, gettext("The team's PagerDuty objects were saved."))
                return redirect("web_pagerduty")
        return _page(request, caller, 400, link_form=link_form)
    link = PagerDutyTeamLink.objects.filter(
        pk=int(request.POST.get("link", "0") or 0) if request.POST.get("link", "").isdigit() else 0,
        connection__organisation_id=organisation_id,
    ).first()
    if action == "unlink_team" and link is not None:
        pagerduty_team_link_delete(organisation_id=organisation_id, link_id=link.pk)
        messages.success(request, gettext("The team is no longer synced; what was stored stays."))
    elif action == "sync_now" and link is not None:
        if pagerduty_sync_request(link_id=link.pk):
            messages.success(request, gettext("A sync was queued. Reload the page in a minute to see it."))
        else:
            messages.info(request, gettext("A sync of this team is already queued."))
    return redirect("web_pagerduty")


@csrf_exempt  # PagerDuty signs the body; it has no CSRF token, and the signature is the proof
@require_POST
@never_cache
@sensitive_variables()
def pagerduty_webhook(request: HttpRequest, token: str) -> HttpResponse:
    if int(request.headers.get("Content-Length") or 0) > WEBHOOK_MAX_BYTES:
        return HttpResponse(status=413)
    try:
        pagerduty_webhook_receive(
            token=token, body=request.body, signature_header=request.headers.get("X-PagerDuty-Signature")
        )
    except WebhookRefused as refused:
        logger.info("pagerduty webhook refused: %s", refused.reason)
        return HttpResponse(status=refused.status)
    return HttpResponse(status=202)
