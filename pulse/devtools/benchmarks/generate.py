"""Generate a large organisation quickly (set-based SQL, not the ORM row by row). For benchmarks only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from surveys.models import Membership, Organisation, Person, Team


@dataclass(frozen=True)
class GeneratedOrganisation:
    organisation: Organisation
    root: Team
    teams: int
    people: int


def organisation_generate(*, people: int, levels: tuple[int, ...] = (9, 10, 10, 10)) -> GeneratedOrganisation:
    """A root team, then ``levels`` children per team at each depth (default 9·10·10·10: 9,999 teams below
    the root), and ``people`` members spread evenly over the deepest teams."""
    organisation = Organisation.objects.create(name=f"Generated {people}", time_zone="Europe/Berlin")
    root = Team.objects.create(organisation=organisation, name="Root", slug="root")
    parents = [root.pk]
    with connection.cursor() as cursor:
        for fan_out in levels:
            cursor.execute(
                """
                INSERT INTO surveys_team (organisation_id, name, slug, parent_id, time_zone, path)
                SELECT %s, 'Team ' || p.id || '.' || g, 't' || p.id || '-' || g, p.id, '', ''
                FROM surveys_team p CROSS JOIN generate_series(1, %s) g
                WHERE p.id = ANY(%s)
                """,
                [organisation.pk, fan_out, parents],
            )
            cursor.execute(
                """
                UPDATE surveys_team t SET path = p.path || t.id || '/'
                FROM surveys_team p WHERE t.parent_id = p.id AND p.id = ANY(%s)
                """,
                [parents],
            )
            cursor.execute("SELECT id FROM surveys_team WHERE parent_id = ANY(%s)", [parents])
            parents = [row[0] for row in cursor.fetchall()]
        leaves = parents
        cursor.execute(
            """
            INSERT INTO surveys_person
                (organisation_id, email, display_name, locale, time_zone, is_active, is_admin)
            SELECT %s, 'p' || g || '@example.org', 'Person ' || g, '', '', true, false
            FROM generate_series(1, %s) g
            """,
            [organisation.pk, people],
        )
        cursor.execute(
            """
            INSERT INTO surveys_membership (person_id, team_id, role, starts_on)
            SELECT p.id, (%s::bigint[])[1 + (row_number() OVER (ORDER BY p.id) - 1) %% %s], 'member', %s
            FROM surveys_person p WHERE p.organisation_id = %s
            """,
            [leaves, len(leaves), dt.date(2025, 1, 1), organisation.pk],
        )
    cursor_count = Team.objects.filter(organisation=organisation).count()
    assert Person.objects.filter(organisation=organisation).count() == people
    assert Membership.objects.filter(person__organisation=organisation).count() == people
    return GeneratedOrganisation(organisation, root, cursor_count, people)
