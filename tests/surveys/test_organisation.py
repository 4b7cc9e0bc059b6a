"""The organisation model's rules, at unit level and as an admin meets them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pytest_django import DjangoAssertNumQueries

from surveys.models import Membership, Organisation, Person, Team
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db


def build_chain(organisation: Organisation, depth: int) -> list[Team]:
    teams: list[Team] = []
    for level in range(depth):
        teams.append(
            TeamFactory(organisation=organisation, parent=teams[-1] if teams else None, name=f"L{level}")
        )
    return teams


def test_team_path_lists_ids_from_the_root() -> None:
    root, middle, leaf = build_chain(OrganisationFactory(), 3)
    leaf.refresh_from_db()
    assert leaf.path == f"/{root.pk}/{middle.pk}/{leaf.pk}/"
    assert leaf.ancestor_ids == [root.pk, middle.pk]
    assert leaf.depth == 2


@pytest.mark.parametrize("depth", [3, 12])
def test_subtree_and_ancestors_take_one_query_at_any_depth(
    depth: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    chain = build_chain(OrganisationFactory(), depth)
    leaf = Team.objects.get(pk=chain[-1].pk)
    root = Team.objects.get(pk=chain[0].pk)
    with django_assert_num_queries(1):
        assert len(list(Team.objects.subtree_of(root))) == depth
    with django_assert_num_queries(1):
        assert [team.pk for team in Team.objects.ancestors_of(leaf)] == [team.pk for team in chain[:-1]]


def test_subtree_does_not_match_a_team_whose_id_shares_a_prefix() -> None:
    organisation = OrganisationFactory()
    teams = [TeamFactory(organisation=organisation) for _ in range(12)]
    first = Team.objects.get(pk=teams[0].pk)
    assert list(Team.objects.subtree_of(first)) == [first]


def test_moving_a_team_moves_its_whole_subtree() -> None:
    organisation = OrganisationFactory()
    a, b = TeamFactory(organisation=organisation), TeamFactory(organisation=organisation)
    child = TeamFactory(organisation=organisation, parent=a)
    grandchild = TeamFactory(organisation=organisation, parent=child)
    child.parent = b
    child.save()
    grandchild.refresh_from_db()
    assert grandchild.path == f"/{b.pk}/{child.pk}/{grandchild.pk}/"
    assert set(Team.objects.subtree_of(Team.objects.get(pk=b.pk))) == {b, child, grandchild}
    assert list(Team.objects.subtree_of(Team.objects.get(pk=a.pk))) == [a]


def test_a_team_cannot_be_placed_under_its_own_subtree() -> None:
    organisation = OrganisationFactory()
    root, _middle, leaf = build_chain(organisation, 3)
    root.refresh_from_db()
    root.parent = Team.objects.get(pk=leaf.pk)
    with pytest.raises(ValidationError) as error:
        root.full_clean()
    assert "parent" in error.value.message_dict
    root.parent = root
    with pytest.raises(ValidationError):
        root.full_clean()


def test_a_parent_from_another_organisation_is_refused() -> None:
    team = TeamFactory()
    foreign = TeamFactory()
    team.parent = foreign
    with pytest.raises(ValidationError) as error:
        team.full_clean()
    assert error.value.message_dict["parent"] == ["The parent team belongs to another organisation."]


def test_team_time_zone_falls_back_to_the_organisation() -> None:
    organisation = OrganisationFactory(time_zone="Asia/Kolkata")
    assert TeamFactory(organisation=organisation, time_zone="").effective_time_zone == "Asia/Kolkata"
    assert (
        TeamFactory(organisation=organisation, time_zone="America/New_York").effective_time_zone
        == "America/New_York"
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus", "CET+1", "europe/berlin "])
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError) as error:
        TeamFactory.build(organisation=OrganisationFactory(), time_zone=zone).full_clean()
    assert "time_zone" in error.value.message_dict


def test_minimum_group_size_below_three_is_refused_by_validation_and_by_the_database() -> None:
    organisation = Organisation(name="Tiny", min_group_size=2)
    with pytest.raises(ValidationError) as error:
        organisation.full_clean()
    assert "cannot be below 3" in error.value.message_dict["min_group_size"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        organisation.save()
    Organisation(name="Three", min_group_size=3).full_clean()  # the floor itself is valid: no error


def test_email_is_unique_per_organisation_ignoring_case() -> None:
    person = PersonFactory(email="Ana@Example.org")
    duplicate = Person(organisation=person.organisation, email="ana@example.org", display_name="Ana 2")
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    assert "email" in error.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    # The same address in another organisation is another person.
    PersonFactory(email="ana@example.org").full_clean()


def test_membership_history_keeps_ended_memberships_and_current_ignores_them() -> None:
    import datetime as dt

    membership = MembershipFactory(starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 6, 1))
    assert Membership.objects.current(dt.date(2026, 5, 31)).filter(pk=membership.pk).exists()
    assert not Membership.objects.current(dt.date(2026, 6, 1)).filter(pk=membership.pk).exists()
    membership.ends_on = dt.date(2025, 12, 1)
    with pytest.raises(ValidationError) as error:
        membership.full_clean()
    assert "ends_on" in error.value.message_dict


def test_membership_in_a_team_of_another_organisation_is_refused() -> None:
    person = PersonFactory()
    membership = Membership(person=person, team=TeamFactory(), starts_on="2026-01-01")
    with pytest.raises(ValidationError) as error:
        membership.full_clean()
    assert "team" in error.value.message_dict


def test_changes_are_kept_in_the_history() -> None:
    person = PersonFactory(display_name="Before")
    person.display_name = "After"
    person.save()
    assert [record.display_name for record in person.history.all()] == ["After", "Before"]
