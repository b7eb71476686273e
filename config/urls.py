from django.contrib import admin
from django.urls import include, path

from support.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("cal/", include("calendars.urls")),
    path("security/", include("security.urls")),
    path("", include("web.urls")),
]

# An unreachable database answers 503 with Retry-After instead of 500 (config/errors.py).
handler500 = "config.errors.server_error_or_unavailable"
