from django.urls import path

from surveys import api, slack_app, views

urlpatterns = [
    path("checkin/<str:token>/", views.checkin, name="checkin"),
    path("me/checkins/", views.my_checkins, name="my_checkins"),
    path("me/checkins/channel/", views.my_checkin_channel, name="my_checkin_channel"),
    path("emails/pause/<str:token>/", views.checkin_emails_pause, name="checkin_emails_pause"),
    path("privacy/", views.privacy, name="privacy"),
    # Slack's events and interactivity URL (docs/slack-manifest.yml): signed requests only.
    path("slack/events/", slack_app.slack_events, name="slack_events"),
    path("language/", views.language_set, name="language_set"),
    path("api/v1/checkin/", api.CheckinSubmitApi.as_view(), name="api_checkin_submit"),
]
