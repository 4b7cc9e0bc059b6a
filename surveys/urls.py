from django.urls import path

from surveys import api, views

urlpatterns = [
    path("checkin/<str:token>/", views.checkin, name="checkin"),
    path("me/checkins/", views.my_checkins, name="my_checkins"),
    path("emails/pause/<str:token>/", views.checkin_emails_pause, name="checkin_emails_pause"),
    path("privacy/", views.privacy, name="privacy"),
    path("language/", views.language_set, name="language_set"),
    path("api/v1/checkin/", api.CheckinSubmitApi.as_view(), name="api_checkin_submit"),
]
