"""``manage.py pulse_import_people FILE --organisation NAME [--apply]``: a dry run unless --apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.models import Organisation
from surveys.services.people_import import people_import


class Command(BaseCommand):
    help = "Import people, teams and memberships from an HR CSV export (dry run by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", required=True, help="the organisation's name")
        parser.add_argument("--apply", action="store_true", help="write the changes (default: dry run)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organisation = Organisation.objects.get(name=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(f"No organisation named {options['organisation']!r}.") from None
        try:
            text = options["file"].read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from None
        report = people_import(organisation=organisation, csv_text=text, apply=options["apply"])
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError("The file has errors; nothing was changed.")
        if not options["apply"] and report.change_count:
            self.stdout.write("Dry run: run again with --apply to make these changes.")
