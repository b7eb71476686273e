"""Login lockout (django-axes): a clear answer on every sign-in path, and DRF's token endpoint too.

django-axes watches Django's `authenticate()`, so the sign-in page (/login/), the admin login and
DRF's ObtainAuthToken (whose serializer calls `authenticate(request=...)`) are all counted and all
refused while locked. One gap: DRF hands axes its own Request object, so axes marks *that* object
as locked out, and AxesMiddleware, which looks at Django's HttpRequest, would let DRF's plain
"unable to log in" 400 through. The receiver below copies the mark to the HttpRequest, so the
token endpoint answers 429 in the API's error shape like the pages do.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

API_PREFIX = "/api/"


@receiver(user_locked_out)
def _mark_django_request(sender, request, **kwargs) -> None:
    inner = getattr(request, "_request", None)  # rest_framework.request.Request wraps HttpRequest
    if inner is not None:
        inner.axes_locked_out = True
        inner.axes_credentials = getattr(request, "axes_credentials", None)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with how long to wait; JSON under /api/, a page elsewhere."""
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else None
    limit = get_failure_limit(request, credentials)
    if request.path.startswith(API_PREFIX):
        message = _("Too many failed sign-in attempts for this user. Try again in %(minutes)s minutes.") % {
            "minutes": minutes
        }
        body = {"error": {"code": "locked_out", "message": message, "fields": {}}}
        response = JsonResponse(body, status=settings.AXES_HTTP_RESPONSE_CODE)
    else:
        response = render(
            request, "security/lockout.html", {"failure_limit": limit, "cooloff_minutes": minutes},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """AXES_CLIENT_STR_CALLABLE: axes' log lines name a keyed hash, never the username or IP.

    Our logs carry ids, not personal data; the AccessAttempt rows (admin) keep the details.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{username}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"user-hash={digest} path={path_info}"


def client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the peer's address, from our own proxy's X-Forwarded-For when behind one.

    Behind the proxy (BEHIND_PROXY=1, which also sets SECURE_PROXY_SSL_HEADER) REMOTE_ADDR is the
    proxy; the proxy appends the real peer as the *last* X-Forwarded-For entry. Earlier entries
    come from the client and are not trusted. Not behind a proxy, the header is ignored.
    """
    if settings.SECURE_PROXY_SSL_HEADER:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR") or None
