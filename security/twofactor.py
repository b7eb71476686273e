"""Two-factor sign-in (TOTP) for everyone who works with children's records.

Who must use it: consultants, team leads and administrators (from Membership rows, never from
flags on User), and anyone Django lets into the admin (`is_staff`, `is_superuser`). Families and
providers may switch it on; once they have a confirmed device it is enforced for them too, so
switching it on means something.

Sessions: after the password, `security.middleware.TwoFactorMiddleware` sends such a person to
set up a device (first time) or to enter a code, before any other page or session API call.
API tokens: a token is a system's credential and is not asked for a code on each request; a
staff member gets a token only by also giving a current code (`check_token_request`), so a
stolen password alone never yields a staff token.
"""

from __future__ import annotations

import base64
import io
import logging

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from support import audit
from support.errors import DomainError
from support.roles import STAFF_ROLES, Role, scope_for

logger = logging.getLogger(__name__)

ROLES_THAT_NEED_TWO_FACTOR = STAFF_ROLES | {Role.ADMINISTRATOR}
ISSUER = "Plejenet"
VERIFIED, WRONG, WAIT = "verified", "wrong", "wait"
DEVICE_NAME = "Authenticator app"


class TwoFactorRequired(DomainError):
    status = 403
    code = "otp_required"


class TwoFactorThrottled(DomainError):
    status = 429
    code = "otp_throttled"


def must_use_two_factor(user) -> bool:
    """Staff roles and admin-site users must; others may opt in."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return bool(scope_for(user).roles & ROLES_THAT_NEED_TWO_FACTOR)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def needs_code(user) -> bool:
    """True when this signed-in person must verify a code before going on."""
    if getattr(user, "is_verified", lambda: False)():
        return False
    return must_use_two_factor(user) or confirmed_device(user) is not None


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being set up (created on first visit; a new key each time it is reset)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def provisioning_uri(device: TOTPDevice) -> str:
    """otpauth:// URI with issuer; the label is the username (never a name or email)."""
    return device.config_url


def base32_key(device: TOTPDevice) -> str:
    """The key as people type it into an authenticator app, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_code_data_uri(data: str) -> str:
    """An SVG QR code as a data: URI (img-src allows data:; made locally, no network)."""
    import qrcode
    import qrcode.image.svg

    out = io.BytesIO()
    qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@transaction.atomic
def confirm_device(*, request, device: TOTPDevice, code: str) -> bool:
    """Check the first code from a new device; on success confirm it and verify this session."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=request.user, confirmed=False)
    if not device.verify_token(_digits(code)):
        logger.warning("two-factor set-up code rejected", extra={"user_id": request.user.pk})
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
    _verified(request, device)
    audit.record(
        actor=request.user, action="security.otp_enrolled", object_type="auth.user",
        object_id=str(request.user.pk), ip=client_ip(request),
    )
    return True


def verify_session(*, request, code: str) -> str:
    """Check a code against the person's confirmed device; on success this session is verified.

    Returns "verified", "wrong", or "wait" (django-otp throttles: after n wrong codes in a row the
    device refuses every code for 2^(n-1) seconds, so guessing six digits is hopeless).
    """
    device = confirmed_device(request.user)
    if device is None:
        return WRONG
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _why = device.verify_is_allowed()
        if not allowed:
            return WAIT
        ok = device.verify_token(_digits(code))
    if not ok:
        logger.warning("two-factor code rejected", extra={"user_id": request.user.pk})
        audit.record(
            actor=request.user, action="security.otp_failed", object_type="auth.user",
            object_id=str(request.user.pk), ip=client_ip(request),
        )
        return WRONG
    _verified(request, device)
    return VERIFIED


def check_token_request(*, user, code: str) -> None:
    """Refuse an API token to staff unless a current code from their confirmed device comes with it.

    Called by the token endpoint after the password checked out. Systems (accounts without a
    staff role) get their token with the password alone.
    """
    if not needs_code(user):
        return
    device = confirmed_device(user)
    if device is None:
        raise TwoFactorRequired(
            _("Set up two-factor sign-in on the website before asking for an API token."),
            code="otp_setup_required",
        )
    if not code:
        raise TwoFactorRequired(_("Staff need a code from their authenticator app (otp_token) to get an API token."))
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _why = device.verify_is_allowed()
        ok = allowed and device.verify_token(_digits(code))
    if not allowed:
        raise TwoFactorThrottled(_("Too many wrong codes in a row. Wait a little, then send the newest code."))
    if not ok:
        raise TwoFactorRequired(_("The code from the authenticator app is not valid."), code="otp_invalid")


def _verified(request, device: TOTPDevice) -> None:
    # A new session key at the moment the session gains rights, like at sign-in (session fixation).
    request.session.cycle_key()
    otp_login(request, device)


def _digits(code: str) -> str:
    return "".join(ch for ch in str(code or "") if ch.isdigit())


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
