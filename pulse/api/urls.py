"""/api/v1/: one URL per resource, one view class per action (``pulse.api.base.methods``)."""

from __future__ import annotations

from django.urls import path

from pulse.api import instruments, me, memberships, organisation, people, schedules, teams
from pulse.api import reports as results
from pulse.api.base import methods

urlpatterns = [
    path(
        "organisation/",
        methods(get=organisation.OrganisationDetailApi, patch=organisation.OrganisationUpdateApi),
        name="api_organisation",
    ),
    path("teams/", methods(get=teams.TeamListApi, post=teams.TeamCreateApi), name="api_teams"),
    path("teams/<int:pk>/", methods(get=teams.TeamDetailApi, patch=teams.TeamUpdateApi), name="api_team"),
    path("people/", methods(get=people.PersonListApi, post=people.PersonCreateApi), name="api_people"),
    path("people/import/", people.PeopleImportApi.as_view(), name="api_people_import"),
    path(
        "people/<int:pk>/",
        methods(get=people.PersonDetailApi, patch=people.PersonUpdateApi),
        name="api_person",
    ),
    path("people/<int:pk>/deactivate/", people.PersonDeactivateApi.as_view(), name="api_person_deactivate"),
    path(
        "memberships/",
        methods(get=memberships.MembershipListApi, post=memberships.MembershipCreateApi),
        name="api_memberships",
    ),
    path("memberships/<int:pk>/end/", memberships.MembershipEndApi.as_view(), name="api_membership_end"),
    path(
        "schedules/",
        methods(get=schedules.ScheduleListApi, post=schedules.ScheduleCreateApi),
        name="api_schedules",
    ),
    path("schedules/preview/", schedules.SchedulePreviewApi.as_view(), name="api_schedule_preview"),
    path(
        "schedules/<int:pk>/",
        methods(get=schedules.ScheduleDetailApi, patch=schedules.ScheduleUpdateApi),
        name="api_schedule",
    ),
    path(
        "instruments/",
        methods(get=instruments.InstrumentListApi, post=instruments.InstrumentCreateApi),
        name="api_instruments",
    ),
    path("instruments/<int:pk>/", instruments.InstrumentDetailApi.as_view(), name="api_instrument"),
    path("me/checkins/", me.MyCheckinListApi.as_view(), name="api_my_checkins"),
    path("me/tokens/", methods(get=me.TokenListApi, post=me.TokenCreateApi), name="api_my_tokens"),
    path("me/tokens/<int:pk>/", me.TokenRevokeApi.as_view(), name="api_my_token"),
    # Results and flags, through the disclosure gate (pulse.disclosure.release), for leaders and admins.
    path("reports/home/", results.ReportHomeApi.as_view(), name="api_report_home"),
    path("reports/teams/<int:pk>/", results.TeamReportApi.as_view(), name="api_report_team"),
    path("flags/", results.FlagListApi.as_view(), name="api_flags"),
    path("flags/<int:pk>/", results.FlagDetailApi.as_view(), name="api_flag"),
    path("flags/<int:pk>/acknowledge/", results.FlagAcknowledgeApi.as_view(), name="api_flag_acknowledge"),
    path("flags/<int:pk>/plan/", results.FlagPlanApi.as_view(), name="api_flag_plan"),
    path("flags/<int:pk>/resolve/", results.FlagResolveApi.as_view(), name="api_flag_resolve"),
]
