from django.urls import path

from surveys import api, views

urlpatterns = [
    path("checkin/<str:token>/", views.checkin, name="checkin"),
    path("me/checkins/", views.my_checkins, name="my_checkins"),
    path("privacy/", views.privacy, name="privacy"),
    path("api/v1/checkin/", api.CheckinSubmitApi.as_view(), name="api_checkin_submit"),
]
