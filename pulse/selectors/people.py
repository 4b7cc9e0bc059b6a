"""Reads for the leaders' side. Every query is scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from surveys.models import Membership, Person, Team


def teams_led_by(*, person: Person) -> QuerySet[Team]:
    """Teams a person leads today, with every team below them (a leader answers for the subtree)."""
    led_paths = list(
        Membership.objects.current()
        .filter(person=person, role=Membership.Role.LEADER, team__organisation_id=person.organisation_id)
        .values_list("team__path", flat=True)
    )
    if not led_paths:
        return Team.objects.none()
    prefix = Q()
    for path in led_paths:
        prefix |= Q(path__startswith=path)
    return Team.objects.filter(prefix, organisation_id=person.organisation_id).order_by("path")
