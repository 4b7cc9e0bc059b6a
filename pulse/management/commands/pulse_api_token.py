"""Print a new API token for a person's user, for scripts: ``manage.py pulse_api_token admin@acme.example``.

``--name`` says what it is for and ``--days`` how long it lives (default ``PULSE_API_TOKEN_DAYS``); the
user's other tokens keep working. The same can be done on the web (Account → API tokens) or with
``POST /api/v1/me/tokens/``; only the token's hash is stored, so it is printed this once.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pulse.services.api_tokens import api_token_create
from surveys.models import Person


class Command(BaseCommand):
    help = "Create an API token for the user linked to the person with this email address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--organisation", help="The organisation's name, when the address is in several.")
        parser.add_argument("--name", default="manage.py pulse_api_token", help="What the token is for.")
        parser.add_argument("--days", type=int, help="Days until it expires (default PULSE_API_TOKEN_DAYS).")

    def handle(self, *args: Any, **options: Any) -> None:
        people = Person.objects.filter(email__iexact=options["email"], is_active=True, user__isnull=False)
        if options["organisation"]:
            people = people.filter(organisation__name=options["organisation"])
        matches = list(people.select_related("user")[:2])
        if not matches:
            raise CommandError(f"No active person with a user has the address {options['email']}.")
        if len(matches) > 1:
            raise CommandError("The address is in several organisations; name one with --organisation.")
        try:
            _token, key = api_token_create(
                user=matches[0].user, name=options["name"], expires_in_days=options["days"]
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(key)
