"""The engineer's side: open a check-in from an email link, answer it, see "My check-ins".

A GET changes nothing (mail scanners prefetch links); the POST spends the token. Pages never echo the token
in anything but the form's own action, and the log filter removes it from access lines. The check-in
responses also keep it out of everything else that sees the URL: ``Referrer-Policy: no-referrer`` (the page's
stylesheet and links would otherwise carry it in ``Referer`` to static file and proxy logs), and Django's
own "Gone: /checkin/<token>/" warnings for 4xx answers are written here with the token removed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.log import log_response
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from surveys import scoring
from surveys.definitions import FALLBACK_LOCALE
from surveys.forms import CheckinChannelForm
from surveys.language import REQUEST_PERSON, activate_for, supported, time_zone_of
from surveys.models import Person, Round
from surveys.sealing import KeyRing, open_token
from surveys.selectors import checkins_of, person_for_user, slack_choice_of, slack_workspace_of
from surveys.services.answering import (
    COMMENT_MAX_CHARS,
    AnswersInvalid,
    SubmitRefused,
    invitation_for_answering,
    response_submit,
    round_questions,
)
from surveys.services.email_pause import checkin_emails_pause as pause_emails
from surveys.services.email_pause import checkin_emails_resume, person_for_pause_token
from surveys.services.language import person_language_set
from surveys.services.slack import SlackRefused, slack_channel_choose

SUPPORT_RESOURCES = [
    (gettext_lazy("Your organisation's employee assistance programme (EAP)"), ""),
    (gettext_lazy("Find a helpline in your country (findahelpline.com)"), "https://findahelpline.com/"),
]


def _lang(texts: dict[str, str] | None, locale: str) -> str:
    """The language a text is shown in: the person's, or English where that translation is missing (a
    validated item is never machine-translated), so screen readers pick the right voice (WCAG 3.1.2)."""
    return locale if (texts or {}).get(locale) else FALLBACK_LOCALE


def _form_questions(round_: Round, locale: str) -> list[dict[str, Any]]:
    """Questions grouped by instrument, with texts in the person's language (English when missing), each
    numbered "Question n of N": the page's progress indication, which needs no JavaScript."""
    groups: list[dict[str, Any]] = []
    questions = round_questions(round_)
    for number, question in enumerate(questions, start=1):
        instrument = question.instrument
        if not groups or groups[-1]["instrument"].pk != instrument.pk:
            groups.append(
                {
                    "instrument": instrument,
                    "stem": instrument.stem_in(locale),
                    "stem_lang": _lang(instrument.stem, locale),
                    "questions": [],
                }
            )
        labels = [option.get("label") for option in question.options]
        groups[-1]["questions"].append(
            {
                "key": question.key,
                "number": number,
                "of": len(questions),
                "text": question.text_in(locale),
                "lang": _lang(question.text, locale),
                "kind": question.kind,
                "optional": question.optional,
                "options": [
                    option | {"lang": _lang(label, locale)}
                    for option, label in zip(question.options_in(locale), labels, strict=True)
                ],
            }
        )
    return groups


def _error_summary(groups: list[dict[str, Any]], errors: dict[str, str]) -> list[dict[str, Any]]:
    """The problems in the order of the page, each naming its question ("Question 3 of 7, 'I have felt
    calm…'") so that a list of links read out of context says which answer to fix. A field that is no
    question of this round (a tampered form) is named by its key, last."""
    items = [
        question | {"message": errors[question["key"]]}
        for group in groups
        for question in group["questions"]
        if question["key"] in errors
    ]
    known = {item["key"] for item in items}
    return items + [
        {"key": key, "number": None, "message": message}
        for key, message in errors.items()
        if key not in known
    ]


# Every answer a submitter's browser receives after posting has one size, whatever they answered
# (docs/anonymity.md, "One size"): an access log records each response's size next to the request, in the
# order of the Participation ids, so a thank-you page longer for one WHO-5 band, or an error page echoing a
# comment, tells a log reader something of what a named person answered. The page is padded with an HTML
# comment to the next multiple of a block far larger than any variant: a thank-you page is about 3 KB in
# every band; a form sent back with errors holds at most every question and a 2,000-character comment.
THANKS_BLOCK_BYTES = 16 * 1024
FORM_ERRORS_BLOCK_BYTES = 64 * 1024
# A text sent back longer than this is cut to it: at six bytes a character once escaped, twice the limit
# still fits the block beside every question's error, so a pasted essay cannot grow the page.
ECHO_MAX_CHARS = 2 * COMMENT_MAX_CHARS
_PAD_OPEN, _PAD_CLOSE = b"\n<!-- padding, so every answer has one size: ", b" -->\n"


def _padded(response: HttpResponse, block: int) -> HttpResponse:
    """The response with its body padded to a whole number of ``block`` bytes, and marked ``no-transform``
    so that no proxy compresses it (compression would make the sizes differ again)."""
    body = response.content
    room = len(_PAD_OPEN) + len(_PAD_CLOSE)
    target = -(-(len(body) + room) // block) * block
    response.content = body + _PAD_OPEN + b"." * (target - len(body) - room) + _PAD_CLOSE
    patch_cache_control(response, no_transform=True)
    return response


def _echo_bounded(submitted: dict[str, str], errors: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """What the form gives back: every value, texts longer than ``ECHO_MAX_CHARS`` cut to it (their error
    says so, so the person knows to keep the rest of their text)."""
    echoed, said = dict(submitted), dict(errors)
    for key, value in submitted.items():
        if len(value) > ECHO_MAX_CHARS:
            echoed[key] = value[:ECHO_MAX_CHARS]
            note = gettext("Only its first %(count)s characters are shown here.") % {
                "count": formats.number_format(ECHO_MAX_CHARS, force_grouping=True)
            }
            said[key] = f"{said[key]} {note}" if key in said else note
    return echoed, said


def _without_token(response: HttpResponse) -> HttpResponse:
    """Every check-in response: no Referer from this page, and 4xx answers logged without the token."""
    response["Referrer-Policy"] = "no-referrer"
    if response.status_code >= 400:
        # Django would log "Gone: /checkin/<token>/" with the request attached; log_response marks the
        # response as logged, so this redacted line is the only one.
        log_response(
            "%s: %s",
            response.reason_phrase,
            unquote(reverse("checkin", args=["[redacted]"])),  # as config.logging_filters writes it
            response=response,
            request=None,
        )
    return response


def _refused(request: HttpRequest, refused: SubmitRefused) -> HttpResponse:
    # Every variable the templates use is given: a missing one makes django.template log, at DEBUG, the
    # whole context, request (and so the token) included.
    if refused.person is not None:
        activate_for(request, refused.person)  # a known link: its person's language
    context = {"reason": refused.reason}
    response = render(request, "surveys/checkin_refused.html", context, status=refused.status)
    return _without_token(response)


# No CSRF token: the secret token in the URL already proves the form came from the person's own email, a
# cross-site page cannot know it, and a CSRF failure would be logged with the URL (and so the token). The
# page therefore sets no cookie at all.
@csrf_exempt
@never_cache
@sensitive_post_parameters()
@sensitive_variables()
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return _without_token(HttpResponseNotAllowed(["GET", "POST"]))
    try:
        invitation = invitation_for_answering(token)
    except SubmitRefused as refused:
        return _refused(request, refused)
    # The page is in the language of the person the link belongs to (unless someone is signed in).
    locale = activate_for(request, invitation.person)
    errors: dict[str, str] = {}
    submitted: dict[str, str] = {}
    if request.method == "POST":
        submitted = {key: str(value) for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
        try:
            clean = response_submit(token=token, answers=submitted)
        except SubmitRefused as refused:
            return _refused(request, refused)
        except AnswersInvalid as invalid:
            errors = invalid.errors
            submitted, errors = _echo_bounded(submitted, errors)
        else:
            return _without_token(_padded(_thanks(request, clean), THANKS_BLOCK_BYTES))
    with timezone.override(ZoneInfo(invitation.person.time_zone or invitation.round.time_zone)):
        groups = _form_questions(invitation.round, locale)
        response = render(
            request,
            "surveys/checkin.html",
            {
                "groups": groups,
                "round": invitation.round,
                "closes": invitation.round.closes_at,
                "errors": errors,
                "error_summary": _error_summary(groups, errors),
                "submitted": submitted,
                "k": invitation.person.organisation.min_group_size,
                "comment_max": COMMENT_MAX_CHARS,
            },
            status=400 if errors else 200,
        )
    if request.method == "POST":
        response = _padded(response, FORM_ERRORS_BLOCK_BYTES)
    return _without_token(response)


@sensitive_variables()
def _thanks(request: HttpRequest, clean: dict[str, Any]) -> HttpResponse:
    """Thank-you page. The person's own WHO-5 band is computed here, shown once, and stored nowhere."""
    who5 = None
    who5_answers = {key: value for key, value in clean.items() if key.startswith("who5_")}
    if len(who5_answers) == 5:
        result = scoring.score("who5", who5_answers)["who5"]
        who5 = {"score": result.score, "band": result.band}
    response = render(
        request,
        "surveys/checkin_thanks.html",
        {"who5": who5, "resources": SUPPORT_RESOURCES},
    )
    response["Cache-Control"] = "no-store"
    return response


# No CSRF token: a mail client's one-click unsubscribe (RFC 8058) POSTs "List-Unsubscribe=One-Click" to the
# link without one, and the secret token in the URL already proves the request comes from the person's own
# email; a cross-site page cannot know it. The page sets no cookie.
@csrf_exempt
@never_cache
def checkin_emails_pause(request: HttpRequest, token: str) -> HttpResponse:
    """The List-Unsubscribe link of the check-in emails: a GET shows the state and a button (it changes
    nothing: mail scanners prefetch links); a POST pauses, or resumes with ``action=resume``."""
    if request.method not in ("GET", "POST"):
        # Logged by Django with the path, which config.logging_filters redacts.
        return _no_referrer(HttpResponseNotAllowed(["GET", "POST"]))
    person = person_for_pause_token(token)
    if person is None:
        invalid = {
            "reason": gettext("This link is not valid. Please use the link from your latest check-in email.")
        }
        return _no_referrer(render(request, "surveys/checkin_refused.html", invalid, status=404))
    activate_for(request, person)
    done = ""
    if request.method == "POST":
        # The one-click POST carries no action: it pauses, as the mail client's button said it would.
        if request.POST.get("action") == "resume":
            checkin_emails_resume(person=person)
            done = "resumed"
        else:
            pause_emails(person=person)
            done = "paused"
    context: dict[str, Any] = {
        "paused_at": person.emails_paused_at,
        "organisation": person.organisation.name,
        "done": done,
    }
    with timezone.override(time_zone_of(person)):
        return _no_referrer(render(request, "surveys/checkin_emails_pause.html", context))


def _no_referrer(response: HttpResponse) -> HttpResponse:
    """The page's URL holds the token: no Referer carries it to the stylesheet's or a link's server."""
    response["Referrer-Policy"] = "no-referrer"
    return response


def privacy(request: HttpRequest) -> HttpResponse:
    """What Pulse keeps and who sees what; for a signed-in person whose organisation connected Slack, also
    which Slack mode it uses (everyone else reads what each mode means)."""
    person = person_for_user(request.user)
    workspace = slack_workspace_of(person.organisation_id) if person is not None else None
    return render(request, "surveys/privacy.html", {"slack_mode": workspace.mode if workspace else ""})


@login_required
def my_checkins(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own open rounds, answered or not. Never anyone else's. Once their
    organisation has connected Slack, also where they are asked (:func:`my_checkin_channel`)."""
    return _my_checkins_page(request, person_for_user(request.user))


@login_required
@require_POST
def my_checkin_channel(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own choice of where they are asked: email, Slack, both, or (empty) their
    organisation's default. Only while the organisation has connected Slack; a refused choice is the page
    again with the error at the choice (400), and nothing changes."""
    person = person_for_user(request.user)
    choice = slack_choice_of(person) if person is not None else None
    if person is None or choice is None:
        return redirect("my_checkins")
    form = CheckinChannelForm(request.POST)
    if form.is_valid():
        try:
            slack_channel_choose(person=person, channel=form.cleaned_data["channel"])
        except SlackRefused as refused:
            form.add_error("channel", refused.errors.get("channel", ""))
        else:
            messages.success(request, gettext("Saved: where Pulse asks you to check in."))
            return redirect("my_checkins")
    return _my_checkins_page(request, person, channel_form=form, status=400)


def _my_checkins_page(
    request: HttpRequest,
    person: Person | None,
    *,
    channel_form: CheckinChannelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = []
    if person is not None:
        invitations = checkins_of(person)
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
    context: dict[str, Any] = {"rows": rows, "person": person}
    if person is None:
        return render(request, "surveys/my_checkins.html", context, status=status)
    slack = slack_choice_of(person)
    if slack is not None:
        context["slack"] = slack
        context["channel_form"] = channel_form or CheckinChannelForm(initial={"channel": slack.choice})
    with timezone.override(time_zone_of(person)):  # the closing times in the person's own zone
        return render(request, "surveys/my_checkins.html", context, status=status)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The language switch: a signed-in person's choice is stored as their language (so their emails
    follow it); anyone else's is kept in Django's language cookie. Then back to the page it was made on."""
    language = supported(request.POST.get("language"))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    response: HttpResponseRedirect = redirect(target)
    if language is None:
        return response
    person = getattr(request, REQUEST_PERSON, None)
    if person is not None:
        person_language_set(person=person, locale=language)
    else:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response
