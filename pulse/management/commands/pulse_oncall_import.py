"""Import on-call load from CSV: ``manage.py pulse_oncall_import --shifts shifts.csv --pages pages.csv``.

The same service as the admin page (``pulse.services.oncall.oncall_csv_import``, docs/oncall.md §7): every
error is printed by file, row and column and nothing is stored on any error; ``--dry-run`` stores nothing
and prints the same report; a re-import stores nothing twice. ``--time-off absences.csv`` imports time off
(``email``, ``first_day``, ``last_day``) the same way. ``--organisation`` names the organisation when there
is more than one. Exits with status 1 when a file has errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pulse.services.oncall import oncall_csv_import, oncall_time_off_import
from surveys.models import Organisation


def _read(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from None


class Command(BaseCommand):
    help = "Import shifts.csv and pages.csv (and optionally time off) for an organisation's teams."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shifts", help="shifts.csv: team, responder, start, end, level, site")
        parser.add_argument(
            "--pages",
            help="pages.csv: team, responder, responder_time_zone, occurred_at, incident, urgency, channel",
        )
        parser.add_argument("--time-off", dest="time_off", help="time off: email, first_day, last_day")
        parser.add_argument("--organisation", help="The organisation's name, when there is more than one.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count; store nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["shifts"] or options["pages"] or options["time_off"]):
            raise CommandError("give --shifts, --pages, --time-off or several")
        organisations = Organisation.objects.all()
        if options["organisation"]:
            organisations = organisations.filter(name=options["organisation"])
        found = list(organisations[:2])
        if len(found) != 1:
            raise CommandError(
                "no such organisation" if not found else "there are several organisations; name one"
            )
        organisation = found[0]
        dry_run = options["dry_run"]
        failed = False
        if options["shifts"] or options["pages"]:
            report = oncall_csv_import(
                organisation_id=organisation.pk,
                shifts_text=_read(options["shifts"]),
                pages_text=_read(options["pages"]),
                dry_run=dry_run,
            )
            for name, errors in (("shifts.csv", report.shift_errors), ("pages.csv", report.page_errors)):
                for error in errors:
                    self.stderr.write(f"{name}: {error}")
            for line in report.teams:
                self.stdout.write(
                    f"{line.team_name}: shifts {line.shifts_read} read, {line.counts.shifts_new} new, "
                    f"{line.counts.shifts_existing} already stored; pages {line.pages_read} read, "
                    f"{line.counts.pages_new} new, {line.counts.pages_existing} already stored"
                )
            failed = failed or not report.ok
            self.stdout.write(_outcome(dry_run, report.ok))
        if options["time_off"]:
            time_off = oncall_time_off_import(
                organisation_id=organisation.pk, csv_text=_read(options["time_off"]), dry_run=dry_run
            )
            for error in time_off.errors:
                self.stderr.write(f"time off: {error}")
            self.stdout.write(
                f"time off: {time_off.rows_read} absences of {time_off.people} people read, "
                f"{time_off.absences_new} new, {time_off.absences_existing} already stored"
            )
            failed = failed or not time_off.ok
            self.stdout.write(_outcome(dry_run, time_off.ok))
        if failed:
            raise CommandError("the files have errors; nothing was stored")


def _outcome(dry_run: bool, ok: bool) -> str:
    if not ok:
        return "errors: nothing stored"
    return "dry run: nothing stored" if dry_run else "stored"
