"""Test helpers for two-factor sign-in: codes from a device's key, and pre-verified test sessions."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

# Switched on per test by patch_test_clients (through monkeypatch, so it switches off by itself).
AUTO_VERIFY = False


def code_for(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code an authenticator app shows for this device, now or at Unix time `at`."""
    device.refresh_from_db()
    if at is None:
        value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    else:
        clock = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
        clock.time = at
        value = clock.token()
    return f"{value:0{device.digits}d}"


def confirmed_device_for(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test device", confirmed=True)


def _verify_on_login(sender, request, user, **kwargs) -> None:
    if not AUTO_VERIFY:
        return
    from security.twofactor import must_use_two_factor

    if must_use_two_factor(user):
        # django_otp.login needs request.user, which Client.force_login's stand-in request lacks.
        request.session[DEVICE_ID_SESSION_KEY] = confirmed_device_for(user).persistent_id


user_logged_in.connect(_verify_on_login, dispatch_uid="tests-verify-otp-on-login", weak=False)


def patch_test_clients(monkeypatch, *, verify: bool = True) -> None:
    """Every sign-in during this test (force_login, login, the login page) counts as code-verified.

    - staff who must use 2FA get a confirmed TOTP device and their new session holds it, exactly
      as django_otp.login stores it when security.twofactor accepts a right code;
    - Client.login passes a request, which django-axes needs to count the attempt.
    """
    monkeypatch.setattr("tests.security.otp.AUTO_VERIFY", verify)
    original_login = Client.login

    def login(self, **credentials):
        credentials.setdefault("request", HttpRequest())
        return original_login(self, **credentials)

    monkeypatch.setattr(Client, "login", login)
