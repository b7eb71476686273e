"""Error reports (Django's technical 500 data, admin error emails) without secrets.

Django's SafeExceptionReporterFilter hides settings whose names look secret and POST fields that
views mark with @sensitive_post_parameters. Ours hides more, whether or not a view remembered:
settings holding credentials in URLs, the Authorization header, and any POST field or local
variable named like a password, token, code or key.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

SECRET_NAMES = re.compile(
    r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION|CREDENTIAL|CPR|OTP|FERNET|CALDAV"
    r"|DATABASE_URL|REDIS_URL|EMAIL_URL|DSN",
    flags=re.IGNORECASE,
)


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = SECRET_NAMES

    def is_active(self, request) -> bool:
        # Django cleanses POST data only when DEBUG is off; we always do (a developer's
        # screen-share or a pasted debug page should not show a colleague's password either).
        return True

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if request is None or not params:
            return params
        cleansed = params.copy()
        for name in cleansed:
            if SECRET_NAMES.search(name) or name.lower() in {"code", "otp_token", "password1", "password2"}:
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if SECRET_NAMES.search(name) else value) for name, value in variables
        ]
