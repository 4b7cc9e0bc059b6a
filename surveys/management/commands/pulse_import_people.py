"""``manage.py pulse_import_people FILE --organisation NAME``: always a dry run first.

The dry run prints every change and the command that applies exactly those changes
(``--apply FINGERPRINT``). The import adds and updates; ``--deactivate-missing`` also deactivates the
people missing from the file, listed by name, and applying that needs ``--confirm-deactivations N`` with
the number of people the dry run listed.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.models import Organisation
from surveys.services.people_import import ImportReport, people_import


class Command(BaseCommand):
    help = "Import people, teams and memberships from an HR CSV export (a dry run unless --apply)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", required=True, help="the organisation's name")
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="also deactivate the active people who are not in the file (default: leave them alone)",
        )
        parser.add_argument(
            "--apply",
            metavar="FINGERPRINT",
            help="write the changes of the dry run that printed this fingerprint",
        )
        parser.add_argument(
            "--confirm-deactivations",
            type=int,
            metavar="N",
            help="with --apply and --deactivate-missing: the number of people the dry run deactivates",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organisation = Organisation.objects.get(name=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(f"No organisation named {options['organisation']!r}.") from None
        try:
            text = options["file"].read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from None
        deactivate = options["deactivate_missing"]
        fingerprint = options["apply"]
        dry = people_import(organisation=organisation, csv_text=text, deactivate_missing=deactivate)
        if fingerprint is None or dry.fingerprint != fingerprint or not dry.ok:
            self._print_dry_run(dry, options)
            if not dry.ok:
                raise CommandError("The file has errors; nothing was changed.")
            if fingerprint is not None:
                raise CommandError(
                    "The changes are no longer those of the dry run with that fingerprint (the file or the "
                    "people in Pulse changed); nothing was changed. Check the dry run above."
                )
            return
        if dry.people_deactivated and options["confirm_deactivations"] != len(dry.people_deactivated):
            self._print_dry_run(dry, options)
            raise CommandError(
                f"Deactivating {len(dry.people_deactivated)} people needs --confirm-deactivations "
                f"{len(dry.people_deactivated)}; nothing was changed."
            )
        report = people_import(
            organisation=organisation, csv_text=text, deactivate_missing=deactivate, apply=fingerprint
        )
        if not report.applied:
            self._print_dry_run(report, options)
            raise CommandError("The people in Pulse changed since the dry run; nothing was changed.")
        for line in report.lines():
            self.stdout.write(line)

    def _print_dry_run(self, report: ImportReport, options: dict[str, Any]) -> None:
        for line in report.neutral_lines():
            self.stdout.write(line)
        if not report.ok:
            return
        if report.people_deactivated:
            self.stdout.write("")
            self.stdout.write(
                f"DESTRUCTIVE: {len(report.people_deactivated)} people not in the file would be "
                f"deactivated and {len(report.memberships_ended_by_deactivation)} of their memberships end:"
            )
            for name in report.people_deactivated:
                self.stdout.write(f"  deactivate: {name}")
        elif report.people_missing:
            self.stdout.write(
                f"{len(report.people_missing)} active people are not in the file and are left as they are "
                "(--deactivate-missing would deactivate them)."
            )
        if not report.change_count:
            return
        command = [
            "manage.py",
            "pulse_import_people",
            str(options["file"]),
            "--organisation",
            options["organisation"],
        ]
        if options["deactivate_missing"]:
            command.append("--deactivate-missing")
        command += ["--apply", report.fingerprint]
        self.stdout.write("")
        self.stdout.write("Dry run: nothing was changed. To apply exactly these changes, run:")
        self.stdout.write("  " + shlex.join(command))
        if report.people_deactivated:
            self.stdout.write(
                "  and confirm the deactivations separately by adding --confirm-deactivations "
                f"{len(report.people_deactivated)} (the number of people listed above)."
            )
