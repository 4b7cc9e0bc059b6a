from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from pulse.api.errors import api_path_not_found
from pulse.health import health, live, ready
from pulse.metrics import metrics

admin.site.site_header = "Pulse administration"
admin.site.site_title = "Pulse"

# Under /api/ even Django's own 404 and 500 answer in the API's JSON error format.
handler404 = "pulse.api.errors.not_found"
handler500 = "pulse.api.errors.server_error"

urlpatterns = [
    path("health/", health, name="health"),
    # Probes are configured without a trailing slash as often as with one; both answer (no redirect).
    re_path(r"^health/live/?$", live, name="health_live"),
    re_path(r"^health/ready/?$", ready, name="health_ready"),
    re_path(r"^metrics/?$", metrics, name="metrics"),  # Prometheus' default path; a bearer token only
    path("admin/", admin.site.urls),
    # OpenAPI 3 schema and its docs page: Swagger UI from drf-spectacular-sidecar's static files, so it
    # works without internet access and calls no third party (drf-spectacular's Redoc page loads Google
    # Fonts, so it is not offered).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (/api/docs/?script=): the page
    # runs no inline script, as the Content Security Policy requires.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    path("api/v1/", include("pulse.api.urls")),
    path("", include("surveys.urls")),  # holds api/v1/checkin/ too
    path("", include("pulse.urls")),
    re_path(r"^api/(?P<path>.*)$", api_path_not_found),  # last, after every API route: a JSON 404
]
