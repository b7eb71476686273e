"""`manage.py demo_totp USERNAME`: the current two-factor code of a demo staff account.

Only for the demo accounts seeded by seed_demo (their TOTP keys are derived from public names),
and only when DEBUG is on, so it can never hand out codes for real people.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from support import demo


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo staff account (DEBUG only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp only works with DEBUG on (it is for the demo accounts).")
        if username not in demo.USERNAMES:
            raise CommandError(f"{username!r} is not a demo account; demo staff: konsulent, konsulent2, teamleder, admin.")
        device = TOTPDevice.objects.filter(
            user__username=username, key=demo.demo_totp_key(username), confirmed=True
        ).first()
        if device is None:
            raise CommandError(f"{username!r} has no demo authenticator (run seed_demo first).")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
