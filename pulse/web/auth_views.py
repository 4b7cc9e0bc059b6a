"""Sign-in pages: password (kept for the demo) and email link, both rate-limited.

Rate limits (``pulse.ratelimit``) answer 429 with a page saying when to try again. The email-link request
answers the same page whether or not the address is known; its limits count every address alike, so even
a 429 says nothing about whether an account exists.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from pulse.auth import LINK_LIFETIME, link_digest, login_link_pending, login_link_request, login_link_spend
from pulse.ratelimit import client_ip, failure_record, failures_blocked, failures_clear, hit
from pulse.services.email_changes import email_change_confirm, email_change_pending
from pulse.web.backends import PASSWORD_OFF
from surveys.models import Organisation
from surveys.services.resend import checkin_links_resend


class EmailLinkForm(forms.Form):
    email = forms.EmailField(max_length=254, label=gettext_lazy("Work email"))


def _too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    minutes = max(1, (retry_after + 59) // 60)
    response = render(request, "pulse/auth/too_many.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # Pages under /login/link/<token>/ must not send their URL (and so the token) as Referer anywhere.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def sign_in_methods() -> dict[str, Any]:
    """What the sign-in page offers: single sign-on when configured, and passwords and email links while
    any organisation allows them (``Organisation.password_sign_in``, ``email_link_sign_in``; the backends
    refuse them per person's organisation whatever the page shows)."""
    return {
        "sso_provider": settings.PULSE_OIDC_PROVIDER_NAME if settings.PULSE_OIDC_ISSUER else "",
        "offer_password": Organisation.objects.filter(password_sign_in=True).exists()
        or not Organisation.objects.exists(),
        "offer_email_link": Organisation.objects.filter(email_link_sign_in=True).exists()
        or not Organisation.objects.exists(),
    }


class LoginView(auth_views.LoginView):
    """Django's password sign-in. Failed passwords (only those) lock the username and the client address
    with exponential backoff (``pulse.ratelimit``); the email link is limited apart and keeps working."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("link_form", EmailLinkForm())
        context.update(sign_in_methods())
        context["password_off"] = getattr(self.request, PASSWORD_OFF, False)
        return context

    def _limited(self) -> tuple[tuple[str, str], tuple[str, str]]:
        request = self.request
        return (("login_ip", client_ip(request)), ("login_user", request.POST.get("username", "")))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        verdict = failures_blocked(self._limited())
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        if getattr(self.request, PASSWORD_OFF, False):
            # The password matched; the organisation signs in another way (the page says which).
            return self.render_to_response(self.get_context_data(form=form), status=403)
        for name, key in self._limited():
            failure_record(name, key)
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        failures_clear("login_user", self.request.POST.get("username", ""))
        return super().form_valid(form)


@never_cache
@sensitive_post_parameters("email")
@require_http_methods(["GET", "POST"])
def login_link_request_view(request: HttpRequest) -> HttpResponse:
    """POST an email address: a sign-in link is sent if it belongs to someone, and the answer is the same."""
    if request.method == "GET":
        return redirect("login")
    form = EmailLinkForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "registration/login.html",
            {"form": AuthenticationForm(request), "link_form": form, **sign_in_methods()},
            status=400,
        )
    email = form.cleaned_data["email"]
    for name, key in (("link_ip", client_ip(request)), ("link_email", email)):
        verdict = hit(name, key)
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
    login_link_request(email=email)
    # Post/redirect/get, and the same redirect whatever happened above.
    return redirect("login_link_sent")


def login_link_sent(request: HttpRequest) -> HttpResponse:
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    return render(request, "pulse/auth/link_sent.html", {"minutes": minutes})


PENDING_LINK = "_pulse_pending_link"


@never_cache
@sensitive_variables("token")
@require_http_methods(["GET"])
def login_link(request: HttpRequest, token: str) -> HttpResponse:
    """Opening the emailed link: remember which link in the session and go to the confirm page.

    Nothing is spent (mail scanners open links). The token leaves the address bar at once: the confirm page
    has a URL without it, so it may send a normal same-origin Referer, which Django's CSRF check needs on
    HTTPS (a page with ``Referrer-Policy: no-referrer`` makes browsers send ``Origin: null`` with its form,
    which the check refuses). The session keeps the token's hash only.
    """
    verdict = hit("token_ip", client_ip(request))
    if not verdict.allowed:
        return _no_referrer(_too_many(request, verdict.retry_after))
    digest = link_digest(token)
    if digest is None or login_link_pending(digest=digest) is None:
        return _no_referrer(render(request, "pulse/auth/link_confirm.html", {"email": None}, status=410))
    request.session[PENDING_LINK] = digest.hex()
    return _no_referrer(redirect("login_link_confirm"))


@never_cache
@require_http_methods(["GET", "POST"])
def login_link_confirm(request: HttpRequest) -> HttpResponse:
    """GET shows a "Sign in as ..." button; POST spends the link remembered in the session and signs in."""
    verdict = hit("token_ip", client_ip(request))
    if not verdict.allowed:
        return _too_many(request, verdict.retry_after)
    try:
        digest = bytes.fromhex(str(request.session.get(PENDING_LINK, "")))
    except ValueError:
        digest = b""
    if request.method == "GET":
        email = login_link_pending(digest=digest) if digest else None
        return render(request, "pulse/auth/link_confirm.html", {"email": email}, status=200 if email else 410)
    user = login_link_spend(digest=digest) if digest else None
    request.session.pop(PENDING_LINK, None)
    if user is None:
        return render(request, "pulse/auth/link_confirm.html", {"email": None}, status=410)
    # login() rotates the session key (cycle_key), so a session fixed before sign-in is worthless after.
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])  # type: ignore[arg-type]
    return redirect(settings.LOGIN_REDIRECT_URL)


PENDING_CHANGE = "_pulse_pending_email_change"


@never_cache
@sensitive_variables("token")
@require_http_methods(["GET"])
def email_change_link(request: HttpRequest, token: str) -> HttpResponse:
    """Opening the emailed confirm link: as for sign-in links, nothing is spent (mail scanners open links)
    and the token leaves the address bar at once; the session keeps its hash for the confirm page."""
    verdict = hit("token_ip", client_ip(request))
    if not verdict.allowed:
        return _no_referrer(_too_many(request, verdict.retry_after))
    digest = link_digest(token)
    if digest is None or email_change_pending(digest=digest) is None:
        return _no_referrer(render(request, "pulse/auth/email_change_confirm.html", {}, status=410))
    request.session[PENDING_CHANGE] = digest.hex()
    return _no_referrer(redirect("email_change_confirm"))


@never_cache
@require_http_methods(["GET", "POST"])
def email_change_confirm_view(request: HttpRequest) -> HttpResponse:
    """GET shows "Confirm <new address>"; POST makes it the person's address (``email_change_confirm``)."""
    verdict = hit("token_ip", client_ip(request))
    if not verdict.allowed:
        return _too_many(request, verdict.retry_after)
    try:
        digest = bytes.fromhex(str(request.session.get(PENDING_CHANGE, "")))
    except ValueError:
        digest = b""
    change = email_change_pending(digest=digest) if digest else None
    page = "pulse/auth/email_change_confirm.html"
    if change is None:
        return render(request, page, {}, status=410)
    if request.method == "GET":
        return render(request, page, {"change": change})
    try:
        confirmed = email_change_confirm(digest=digest)
    except ValidationError as error:
        return render(request, page, {"change": change, "error": " ".join(error.messages)}, status=409)
    request.session.pop(PENDING_CHANGE, None)
    if confirmed is None:
        return render(request, page, {}, status=410)
    return render(request, page, {"confirmed": confirmed.new_email})


# --- "I lost my check-in link" ------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("email")
@require_http_methods(["GET", "POST"])
def checkin_link_resend_view(request: HttpRequest) -> HttpResponse:
    """Ask for one's open check-in links again: the same answer (and the same single UPDATE) whether the
    address has open check-ins or not (``surveys.services.resend``); the next tick sends them.

    It shares the sign-in link limits: both send an email to whatever address is typed in."""
    page = "pulse/auth/checkin_resend.html"
    if request.method == "GET":
        return render(request, page, {"form": EmailLinkForm()})
    form = EmailLinkForm(request.POST)
    if not form.is_valid():
        return render(request, page, {"form": form}, status=400)
    email = form.cleaned_data["email"]
    for name, key in (("link_ip", client_ip(request)), ("link_email", email)):
        verdict = hit(name, key)
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
    checkin_links_resend(email=email)
    return redirect("checkin_link_resent")


def checkin_link_resent(request: HttpRequest) -> HttpResponse:
    return render(request, "pulse/auth/checkin_resend.html", {"sent": True})
