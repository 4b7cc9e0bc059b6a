"""factory_boy factories for the organisation model."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Model

from surveys.models import Membership, Organisation, Person, Team

_M = TypeVar("_M", bound=Model)


class ModelFactory(factory.django.DjangoModelFactory[_M]):
    """A factory whose call (``TeamFactory(...)``) is typed as the model it creates."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # factory_boy's metaclass ``__call__`` returns the model instance; mypy does not read a
        # metaclass ``__call__``, so the call is described here, for the type checker only.
        def __new__(cls, **kwargs: Any) -> _M: ...  # type: ignore[misc]


class OrganisationFactory(ModelFactory[Organisation]):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    time_zone = "Europe/Berlin"


class TeamFactory(ModelFactory[Team]):
    class Meta:
        model = Team

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class UserFactory(ModelFactory[User]):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}@example.org")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct horse battery")


class PersonFactory(ModelFactory[Person]):
    class Meta:
        model = Person

    organisation = factory.SubFactory(OrganisationFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    display_name = factory.Sequence(lambda n: f"Person {n}")


class MembershipFactory(ModelFactory[Membership]):
    class Meta:
        model = Membership

    person = factory.SubFactory(PersonFactory)
    team = factory.SubFactory(TeamFactory, organisation=factory.SelfAttribute("..person.organisation"))
    role = Membership.Role.MEMBER
    starts_on = dt.date(2026, 1, 1)
