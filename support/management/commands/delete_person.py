"""Erasure: delete one user and pseudonymise them in the audit trail (support.privacy)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from support import privacy
from support.errors import DomainError


class Command(BaseCommand):
    help = "Delete a user's account and personal data; audit entries stay, pseudonymised (GDPR art. 17)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, metavar="USERNAME", help="The user's username.")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask for confirmation."
        )

    def handle(self, *args, user: str, interactive: bool, **options):
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"No user with the username {user!r}.")
        if interactive:
            answer = input(f"Delete user {user!r} (#{person.pk}) for good? Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Cancelled; nothing was deleted.")
        try:
            result = privacy.delete_person(user=person)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Deleted user #{result.user_id}. {result.audit_entries} audit entr(y/ies) now name {result.pseudonym}; "
            f"{result.sessions} session(s) ended."
        )
