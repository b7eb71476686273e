"""Re-encrypt stored secrets under the first FIELD_ENCRYPTION_KEYS key (step 2 of a key rotation)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from calendars.crypto import UndecryptableSecret, reencrypt
from calendars.models import CalDavConnection


class Command(BaseCommand):
    help = "Rewrite every encrypted CalDAV password under the newest key; then the old key can be removed."

    def handle(self, *args, **options):
        done = 0
        with transaction.atomic():
            for connection in CalDavConnection.objects.select_for_update().exclude(password_encrypted=""):
                try:
                    connection.password_encrypted = reencrypt(connection.password_encrypted)
                except UndecryptableSecret:
                    raise CommandError(
                        f"CalDAV connection {connection.pk}: no configured key decrypts it; "
                        "put the old key back in FIELD_ENCRYPTION_KEYS and run this again"
                    ) from None
                connection.save(update_fields=["password_encrypted"])
                done += 1
        self.stdout.write(f"{done} secret(s) re-encrypted under the first key")
