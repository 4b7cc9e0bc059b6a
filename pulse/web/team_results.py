"""A team member's pages: their teams' published results, with what the leaders did (you said, we did).

Every signed-in person with a team sees it; the numbers are the leader's page's (``pulse.selectors.
team_results``). A team the person is not a member of is a 404, like an id that does not exist.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from pulse.permissions import caller_of_request
from pulse.selectors.team_results import my_team_results, team_results_get


@login_required
def my_results(request: HttpRequest) -> HttpResponse:
    """Each of the signed-in person's teams, its latest results and what was done about them."""
    caller = caller_of_request(request)
    teams = my_team_results(person=caller.person) if caller else []
    return render(request, "pulse/team_results.html", {"teams": teams, "single": False})


@login_required
def team_results_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the person's teams; any other team is "not found"."""
    caller = caller_of_request(request)
    results = team_results_get(person=caller.person, team_id=pk) if caller else None
    if results is None:
        raise Http404("Not found.")
    return render(request, "pulse/team_results.html", {"teams": [results], "single": True})
