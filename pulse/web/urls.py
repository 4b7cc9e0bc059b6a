"""The admin pages under /manage/ and the API token page."""

from __future__ import annotations

from django.urls import path

from pulse.web import oncall_views, pagerduty, slack, views

urlpatterns = [
    path("manage/", views.overview, name="web_admin"),
    path("manage/organisation/", views.organisation_settings, name="web_organisation"),
    path("manage/people/", views.people_list, name="web_people"),
    path("manage/people/new/", views.person_new, name="web_person_new"),
    path("manage/people/import/", views.people_import_view, name="web_people_import"),
    path("manage/people/<int:pk>/", views.person_edit, name="web_person"),
    path("manage/people/<int:pk>/deactivate/", views.person_deactivate_view, name="web_person_deactivate"),
    path("manage/teams/", views.teams_tree, name="web_teams"),
    path("manage/teams/<int:pk>/", views.team_edit, name="web_team"),
    path("manage/memberships/new/", views.membership_new, name="web_membership_new"),
    path("manage/memberships/<int:pk>/end/", views.membership_end_view, name="web_membership_end"),
    path("manage/schedules/", views.schedules_list, name="web_schedules"),
    path("manage/schedules/new/", views.schedule_new, name="web_schedule_new"),
    path("manage/schedules/<int:pk>/", views.schedule_edit, name="web_schedule"),
    path("manage/instruments/", views.instruments_list, name="web_instruments"),
    path("manage/instruments/<int:pk>/", views.instrument_detail, name="web_instrument"),
    path("manage/oncall/import/", oncall_views.oncall_import_view, name="web_oncall_import"),
    path("manage/oncall/time-off/", oncall_views.time_off_import_view, name="web_time_off_import"),
    path("manage/oncall/pagerduty/", pagerduty.pagerduty_settings, name="web_pagerduty"),
    path("manage/slack/", slack.slack_settings, name="web_slack"),
    # PagerDuty's webhook deliveries (v3); the token names the connection, the signature proves the sender.
    path("integrations/pagerduty/<str:token>/", pagerduty.pagerduty_webhook, name="pagerduty_webhook"),
    path("account/api-token/", views.api_token, name="web_api_token"),
]
