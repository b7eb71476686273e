"""System checks: the security middleware is in place and in order; deployments have their keys."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

REQUIRED_ORDER = [
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.TwoFactorMiddleware",
]


@register(Tags.security)
def check_middleware(app_configs, **kwargs):
    errors = []
    middleware = list(settings.MIDDLEWARE)
    positions = [middleware.index(name) if name in middleware else -1 for name in REQUIRED_ORDER]
    if -1 in positions or positions != sorted(positions):
        errors.append(
            Error(
                "Two-factor sign-in is not enforced: MIDDLEWARE must hold " + " then ".join(REQUIRED_ORDER) + ".",
                id="security.E001",
            )
        )
    if "security.middleware.ContentSecurityPolicyMiddleware" not in middleware:
        errors.append(Error("No Content-Security-Policy: add security.middleware.ContentSecurityPolicyMiddleware.",
                            id="security.E002"))
    if not middleware or middleware[-1] != "axes.middleware.AxesMiddleware":
        errors.append(Error("Login lockout answers need axes.middleware.AxesMiddleware last in MIDDLEWARE.",
                            id="security.E003"))
    return errors


@register(Tags.security, deploy=True)
def check_deployment_keys(app_configs, **kwargs):
    errors = []
    if not getattr(settings, "FIELD_ENCRYPTION_KEYS", None):
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEYS is not set: secrets at rest (CalDAV passwords) cannot be encrypted.",
                hint='python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
                id="security.E010",
            )
        )
    else:
        try:
            from calendars.crypto import fernet
        except ImportError:
            pass
        else:
            from django.core.exceptions import ImproperlyConfigured

            try:
                fernet()
            except ImproperlyConfigured as exc:
                errors.append(Error(str(exc), id="security.E011"))
    if getattr(settings, "CPR_HASH_KEY", None) == settings.SECRET_KEY:
        errors.append(
            Warning(
                "CPR_HASH_KEY is SECRET_KEY: rotating SECRET_KEY would then make every stored CPR hash unfindable.",
                hint="Set CPR_HASH_KEY to its own long random value, once, and never change it.",
                id="security.W012",
            )
        )
    return errors
