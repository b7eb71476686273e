"""Middleware: two-factor enforcement for sessions, and the content security policy per path."""

from __future__ import annotations

from urllib.parse import urlencode

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from security import twofactor

# Paths a person who still owes a code may open: the two-factor pages themselves, signing out,
# static files, the health check and the language switch. Everything else waits for the code.
OPEN_PREFIXES = ("/security/2fa/", "/logout/", "/admin/logout/", "/static/", "/healthz", "/i18n/")
API_PREFIX = "/api/"
# The token endpoint authenticates by password (+ code for staff) itself; a session cookie that
# happens to come along must not turn it into a redirect.
API_SIGN_IN_PATH = "/api/v1/auth/token/"


class TwoFactorMiddleware:
    """After the password, staff (and anyone who enrolled) must verify a TOTP code.

    Install after django_otp.middleware.OTPMiddleware (which sets `user.is_verified()`).
    Token-authenticated API calls never reach this check: Django's session user is anonymous
    for them, and DRF authenticates the token later. Session calls to the API are checked here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(OPEN_PREFIXES)
            and request.path != API_SIGN_IN_PATH
            and twofactor.needs_code(user)
        ):
            return self._stop(request, user)
        return self.get_response(request)

    def _stop(self, request, user):
        has_device = twofactor.confirmed_device(user) is not None
        if request.path.startswith(API_PREFIX):
            message = (
                _("Enter the code from your authenticator app on the website first.")
                if has_device
                else _("Set up two-factor sign-in on the website first.")
            )
            body = {"error": {"code": "otp_required", "message": message, "fields": {}}}
            return JsonResponse(body, status=403)
        target = reverse("security:verify" if has_device else "security:setup")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


# The Swagger UI (drf-spectacular-sidecar, served from our own static files) writes inline
# styles: its page template has a <style> block and the React app sets style attributes. Only
# there do we allow inline *styles*; scripts stay 'self' (the split view loads its init script
# from a URL). Nothing on that page shows personal data: it renders the schema only.
PATH_POLICY_REPLACEMENTS: dict[str, dict[str, list[str]]] = {
    "/api/docs/": {"style-src": ["'self'", "'unsafe-inline'"]},
}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus one place that lists the paths with a relaxed policy."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        for prefix, replacement in PATH_POLICY_REPLACEMENTS.items():
            if request.path_info.startswith(prefix):
                parts.replace = {**replacement, **(parts.replace or {})}
        return parts
