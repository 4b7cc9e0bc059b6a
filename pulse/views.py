from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pulse.selectors import teams_led_by
from surveys.selectors import person_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    person = person_for_user(request.user)
    teams = list(teams_led_by(person=person)) if person else []
    return render(request, "pulse/home.html", {"person": person, "teams": teams})
