from django.contrib import admin
from django.urls import include, path

from pulse.health import health

admin.site.site_header = "Pulse administration"
admin.site.site_title = "Pulse"

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("", include("surveys.urls")),
    path("", include("pulse.urls")),
]
