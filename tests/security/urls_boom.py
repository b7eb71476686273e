"""The site's URLs plus views that fail while holding secrets (for the error-page and log tests)."""

from importlib import import_module

from django.conf import settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

FEED_TOKEN = "feedtok-Qm9vbS1zZWNyZXQtZmVlZC10b2tlbg"
API_TOKEN = "0123456789abcdef0123456789abcdef01234567"
CALDAV_PASSWORD = "caldav-app-pass-hunter22"
PASSWORD = "pw-konsulent-123"
OTP_CODE = "493817"


def feed_boom(request, token):
    raise RuntimeError(f"could not render the feed for token={token}")


@csrf_exempt
def api_boom(request):
    api_key = request.headers.get("Authorization", "")  # noqa: F841  (a local a debug page would show)
    caldav_password = request.POST.get("caldav_password", "")
    raise ValueError(f"CalDAV refused password={caldav_password} for Token {API_TOKEN}")


urlpatterns = [
    path("cal/<str:token>/boom/", feed_boom),
    path("boom/", api_boom),
    *import_module(settings.ROOT_URLCONF).urlpatterns,
]
