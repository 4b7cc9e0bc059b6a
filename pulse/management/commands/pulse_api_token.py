"""Print a new API token for a person's user, for scripts: ``manage.py pulse_api_token admin@acme.example``.

The old token of that user stops working. The same can be done on the web (Account → API token) or with
``POST /api/v1/me/token/``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pulse.services.api_tokens import api_token_rotate
from surveys.models import Person


class Command(BaseCommand):
    help = "Create (or replace) the API token of the user linked to the person with this email address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--organisation", help="The organisation's name, when the address is in several.")

    def handle(self, *args: Any, **options: Any) -> None:
        people = Person.objects.filter(email__iexact=options["email"], is_active=True, user__isnull=False)
        if options["organisation"]:
            people = people.filter(organisation__name=options["organisation"])
        matches = list(people.select_related("user")[:2])
        if not matches:
            raise CommandError(f"No active person with a user has the address {options['email']}.")
        if len(matches) > 1:
            raise CommandError("The address is in several organisations; name one with --organisation.")
        self.stdout.write(api_token_rotate(user=matches[0].user))
