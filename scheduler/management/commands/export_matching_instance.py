import json
import sys

from django.core.management.base import BaseCommand, CommandError

from scheduler.instance_export import build_instance
from support import audit
from support.models import Municipality


class Command(BaseCommand):
    help = "Write a municipality's open needs and available providers as a support-matching/1 instance."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, help="3-digit municipality code, e.g. 751")
        parser.add_argument("-o", "--output", help="File to write (default: standard output)")
        parser.add_argument("--name", help="Instance name (default: CODE-export)")

    def handle(self, *args, municipality, output, name, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            known = ", ".join(Municipality.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"--municipality: no municipality with code {municipality!r} (known: {known})")
        instance, skipped = build_instance(municipality=found, name=name or f"{found.code}-export")
        text = json.dumps(instance, ensure_ascii=False, indent=1)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(text + "\n")
            except OSError as exc:
                raise CommandError(f"-o: cannot write {output}: {exc.strerror}") from None
        else:
            sys.stdout.write(text + "\n")
        audit.record(actor=None, action="matching_instance.export", object_type="municipality",
                     object_id=found.code, municipality_id=found.pk,
                     details={"needs": len(instance["needs"]), "providers": len(instance["providers"])})
        for pk, reason in skipped:
            self.stderr.write(f"need N{pk} not exported: {reason}")
        self.stderr.write(f"exported {len(instance['needs'])} needs and {len(instance['providers'])} providers")
