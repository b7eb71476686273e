"""Two-factor pages: set up an authenticator app (first time), and enter a code (every sign-in)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from security import twofactor
from security.forms import CodeForm


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Show a QR code for a new TOTP key and confirm it with the first code."""
    if twofactor.confirmed_device(request.user) is not None:
        # Replacing a device is an administrator's job (after checking who asks): no self-reset
        # here, or a stolen password would be enough to move the second factor.
        return redirect(reverse("security:verify") + "?" + urlencode({"next": _next_url(request)}))
    device = twofactor.pending_device(request.user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and twofactor.confirm_device(
            request=request, device=device, code=form.cleaned_data["otp_token"]
        ):
            messages.success(request, _("Two-factor sign-in is set up."))
            return redirect(_next_url(request))
        form.add_error("otp_token", _("That code is not right. Check the clock on your phone and try the next code."))
        status = 400
    context = {
        "form": form,
        "next": _next_url(request),
        "qr_code": twofactor.qr_code_data_uri(twofactor.provisioning_uri(device)),
        "manual_key": twofactor.base32_key(device),
        "required": twofactor.must_use_two_factor(request.user),
    }
    return render(request, "security/setup.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """Ask for the current code from the confirmed device."""
    if twofactor.confirmed_device(request.user) is None:
        return redirect(reverse("security:setup") + "?" + urlencode({"next": _next_url(request)}))
    if request.user.is_verified():
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = twofactor.verify_session(request=request, code=form.cleaned_data["otp_token"]) if form.is_valid() else None
        if outcome == twofactor.VERIFIED:
            return redirect(_next_url(request))
        if outcome == twofactor.WAIT:
            form.add_error("otp_token", _("Too many wrong codes in a row. Wait a little, then enter the newest code."))
            status = 429
        else:
            form.add_error("otp_token", _("That code is not right. Wait for the next code and try again."))
            status = 400
    return render(request, "security/verify.html", {"form": form, "next": _next_url(request)}, status=status)

