"""Password sign-in that an organisation can switch off (``Organisation.password_sign_in``).

Django's ``ModelBackend``, refusing the person of an organisation that signs in through its identity
provider or by email link only. The refusal comes after the password matched, so it tells nothing to
someone who does not know the password; the sign-in page then says why (``PASSWORD_OFF``). A Django
account that is no organisation's person (an operator's, made with ``createsuperuser``) keeps its
password, so a broken provider never locks the operators out of ``/admin/``.

Every session signed in by password or email link records this backend, whose ``get_user`` is Django's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from surveys.models import Person

PASSWORD_OFF = "pulse_password_sign_in_off"  # noqa: S105 (a request attribute's name)


class PasswordBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        person = Person.objects.filter(user=user).select_related("organisation").first()
        if person is not None and not person.organisation.password_sign_in:
            if request is not None:
                setattr(request, PASSWORD_OFF, True)
            return None
        return user
