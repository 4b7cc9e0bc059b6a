"""The engineer's side: open a check-in from an email link, answer it, see "My check-ins".

A GET changes nothing (mail scanners prefetch links); the POST spends the token. Pages never echo the token
in anything but the form's own action, and the log filter removes it from access lines.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys import scoring
from surveys.models import Invitation, Person, Round
from surveys.sealing import KeyRing, open_token
from surveys.selectors import person_for_user
from surveys.services.answering import (
    AnswersInvalid,
    SubmitRefused,
    invitation_for_answering,
    response_submit,
    round_questions,
)

SUPPORT_RESOURCES = [
    ("Your organisation's employee assistance programme (EAP)", ""),
    ("Find a helpline in your country (findahelpline.com)", "https://findahelpline.com/"),
]


def _locale(person: Person) -> str:
    return person.locale or person.organisation.locale or "en"


def _form_questions(round_: Round, locale: str) -> list[dict[str, Any]]:
    """Questions grouped by instrument, with texts in the person's language (English when missing)."""
    groups: list[dict[str, Any]] = []
    for question in round_questions(round_):
        instrument = question.instrument
        if not groups or groups[-1]["instrument"].pk != instrument.pk:
            groups.append({"instrument": instrument, "stem": instrument.stem_in(locale), "questions": []})
        groups[-1]["questions"].append(
            {
                "key": question.key,
                "text": question.text_in(locale),
                "kind": question.kind,
                "optional": question.optional,
                "options": question.options_in(locale),
            }
        )
    return groups


@never_cache
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_for_answering(token)
    except SubmitRefused as refused:
        return render(
            request, "surveys/checkin_refused.html", {"reason": refused.reason}, status=refused.status
        )
    locale = _locale(invitation.person)
    errors: dict[str, str] = {}
    submitted: dict[str, str] = {}
    if request.method == "POST":
        submitted = {key: str(value) for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
        try:
            clean = response_submit(token=token, answers=submitted)
        except SubmitRefused as refused:
            return render(
                request, "surveys/checkin_refused.html", {"reason": refused.reason}, status=refused.status
            )
        except AnswersInvalid as invalid:
            errors = invalid.errors
        else:
            return _thanks(request, clean, locale)
    with (
        translation.override(locale),
        timezone.override(ZoneInfo(invitation.person.time_zone or invitation.round.time_zone)),
    ):
        return render(
            request,
            "surveys/checkin.html",
            {
                "groups": _form_questions(invitation.round, locale),
                "round": invitation.round,
                "closes": invitation.round.closes_at,
                "errors": errors,
                "submitted": submitted,
                "k": invitation.person.organisation.min_group_size,
                "locale": locale,
            },
            status=400 if errors else 200,
        )


def _thanks(request: HttpRequest, clean: dict[str, Any], locale: str) -> HttpResponse:
    """Thank-you page. The person's own WHO-5 band is computed here, shown once, and stored nowhere."""
    who5 = None
    who5_answers = {key: value for key, value in clean.items() if key.startswith("who5_")}
    if len(who5_answers) == 5:
        result = scoring.score("who5", who5_answers)["who5"]
        who5 = {"score": result.score, "band": result.band}
    response = render(
        request,
        "surveys/checkin_thanks.html",
        {"who5": who5, "resources": SUPPORT_RESOURCES, "locale": locale},
    )
    response["Cache-Control"] = "no-store"
    return response


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/privacy.html")


@login_required
def my_checkins(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own open rounds, answered or not. Never anyone else's."""
    person = person_for_user(request.user)
    rows = []
    if person is not None:
        invitations = (
            Invitation.objects.filter(person=person, round__status=Round.Status.OPEN)
            .select_related("round__schedule")
            .order_by("round__closes_at")
        )
        ring = KeyRing.from_settings()
        rows = [
            {
                "name": invitation.round.schedule.name,
                "closes": invitation.round.closes_at,
                "answered": invitation.spent,
                # The sealed copy of the link (kept for reminders) lets a signed-in person answer on the web.
                "url": reverse("checkin", args=[open_token(ring, bytes(invitation.sealed_token))])
                if invitation.sealed_token and not invitation.spent
                else None,
            }
            for invitation in invitations
        ]
    return render(request, "surveys/my_checkins.html", {"rows": rows, "person": person})
