"""Organisation, teams, people and who belongs where.

Teams form a tree kept as a *materialised path* ("/1/4/9/": the ids from the root down to the team).
Chosen over a recursive CTE and a closure table because a subtree is one indexed prefix query and the
ancestors are one ``id IN (...)`` query on SQLite and PostgreSQL alike, with no raw SQL; moving a team
rewrites its descendants' paths in one UPDATE. A closure table would need depth × teams rows kept in step,
a CTE raw SQL in every reader.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Length, Lower, Substr
from simple_history.models import HistoricalRecords

from surveys.validators import (
    validate_locale,
    validate_min_group_size,
    validate_single_line,
    validate_time_zone,
)


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True, validators=[validate_single_line])
    min_group_size = models.PositiveSmallIntegerField(
        "minimum group size (k)",
        default=settings.PULSE_DEFAULT_MIN_GROUP_SIZE,
        validators=[validate_min_group_size],
        help_text="Fewest respondents a mean or score is shown for. Never below 3.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    locale = models.CharField(max_length=8, default="en", validators=[validate_locale])
    # How people sign in besides the organisation's identity provider (docs/operations.md §14): either may
    # be switched off once single sign-on works; Organisation.clean refuses to switch off the last way.
    password_sign_in = models.BooleanField(
        "password sign-in",
        default=True,
        help_text="People of this organisation may sign in with a password.",
    )
    email_link_sign_in = models.BooleanField(
        "email-link sign-in",
        default=True,
        help_text="People of this organisation may ask for a sign-in link by email.",
    )
    # You said, we did (docs/operations.md §17): what the team is told after a round, and when leaders are
    # reminded that a flag has no action yet.
    team_summaries = models.BooleanField(
        "team result summaries",
        default=True,
        help_text="After a round's results are published, each member of a team with results gets a short "
        "summary email: the results, the leader's actions and note.",
    )
    no_action_reminder_days = models.PositiveSmallIntegerField(
        "remind leaders after (days)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="A flag with no action this many days after it opened: its leaders are reminded once.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_group_size__gte=settings.PULSE_MIN_GROUP_SIZE_FLOOR),
                name="organisation_min_group_size_floor",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def single_sign_on(self) -> bool:
        """Whether the OpenID provider configured for this installation signs this organisation's people in
        (``PULSE_OIDC_ISSUER`` and ``PULSE_OIDC_ORGANISATION`` naming it)."""
        return bool(settings.PULSE_OIDC_ISSUER) and self.name == settings.PULSE_OIDC_ORGANISATION

    def clean(self) -> None:
        if not (self.password_sign_in or self.email_link_sign_in or self.single_sign_on):
            raise ValidationError(
                {
                    "email_link_sign_in": (
                        "Keep at least one way to sign in: this organisation has no single sign-on, so "
                        "switching off both passwords and email links would lock everyone out."
                    )
                }
            )


class TeamQuerySet(models.QuerySet["Team"]):
    def subtree_of(self, team: Team) -> TeamQuerySet:
        """The team and every team below it: one prefix query, whatever the depth."""
        return self.filter(path__startswith=team.path)

    def ancestors_of(self, team: Team, *, include_self: bool = False) -> TeamQuerySet:
        ids = team.ancestor_ids if not include_self else [*team.ancestor_ids, team.pk]
        return self.filter(pk__in=ids)


class Team(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=200, validators=[validate_single_line])
    slug = models.SlugField(max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty: the organisation's time zone.",
    )
    path = models.CharField(max_length=1000, editable=False, db_index=True, default="")
    history = HistoricalRecords(excluded_fields=["path"])

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "slug"], name="team_slug_unique_per_organisation"
            ),
            # One name per parent, ignoring case (surveys.services.organisation says so at the field).
            models.UniqueConstraint(
                Lower("name"),
                "parent",
                condition=Q(parent__isnull=False),
                name="team_name_unique_per_parent",
                violation_error_message="There is already a team with this name under the same parent.",
            ),
            models.UniqueConstraint(
                Lower("name"),
                "organisation",
                condition=Q(parent__isnull=True),
                name="team_name_unique_at_top_level",
                violation_error_message="There is already a top-level team with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent (not the team itself)."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1] if part]

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.organisation.time_zone

    def clean(self) -> None:
        if self.parent_id is None:
            return
        parent = self.parent
        assert parent is not None
        if parent.organisation_id != self.organisation_id:
            raise ValidationError({"parent": "The parent team belongs to another organisation."})
        if self.pk is not None and (parent.pk == self.pk or f"/{self.pk}/" in parent.path):
            raise ValidationError({"parent": "A team cannot be placed under itself or one of its own teams."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The path is an invariant of the tree, not business logic: keeping it here means every route
        # (services, admin, import, shell) leaves the tree consistent.
        with transaction.atomic():
            if self.pk is None:
                super().save(*args, **kwargs)
                self.path = self._path_for(self.pk)
                type(self).objects.filter(pk=self.pk).update(path=self.path)
                return
            old_path = type(self).objects.filter(pk=self.pk).values_list("path", flat=True).first() or ""
            self.path = self._path_for(self.pk)
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                type(self).objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(self.path), Substr(F("path"), Length(Value(old_path)) + 1))
                )

    def _path_for(self, pk: int) -> str:
        parent_path = self.parent.path if self.parent_id and self.parent else "/"
        return f"{parent_path}{pk}/"


class Person(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="people")
    email = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=200, validators=[validate_single_line])
    locale = models.CharField(max_length=8, blank=True, validators=[validate_locale])
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty: the team's time zone. Used for this person's reminders and quiet hours.",
    )
    is_active = models.BooleanField(default=True)
    is_admin = models.BooleanField(
        "organisation admin",
        default=False,
        help_text="Admins configure the organisation. They get no extra access to anything anonymous.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="person"
    )
    emails_paused_at = models.DateTimeField(
        "check-in emails paused",
        null=True,
        blank=True,
        help_text=(
            "Set when the person paused their check-in emails (the link in every check-in email); they "
            "resume them from the same page. No invitation or reminder is sent while it is set."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["display_name", "pk"]
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(
                "organisation", Lower("email"), name="person_email_unique_per_organisation_ci"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.email}>"

    def clean(self) -> None:
        self.email = (self.email or "").strip()
        if self.email and self.organisation_id:
            clash = Person.objects.filter(organisation_id=self.organisation_id, email__iexact=self.email)
            if self.pk:
                clash = clash.exclude(pk=self.pk)
            if clash.exists():
                raise ValidationError(
                    {"email": "Someone in this organisation already has this email address."}
                )

    @property
    def effective_locale(self) -> str:
        return self.locale or self.organisation.locale


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self, on: date | None = None) -> MembershipQuerySet:
        from django.utils import timezone

        day = on or timezone.now().date()
        return self.filter(Q(starts_on__lte=day), Q(ends_on__isnull=True) | Q(ends_on__gt=day))


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEADER = "leader", "Leader"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    starts_on = models.DateField()
    ends_on = models.DateField(
        null=True, blank=True, help_text="First day no longer in the team. Empty: still a member."
    )
    history = HistoricalRecords()

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["team", "person"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=F("starts_on")),
                name="membership_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["person", "team", "role"],
                condition=Q(ends_on__isnull=True),
                name="membership_one_open_per_person_team_role",
            ),
        ]
        indexes = [models.Index(fields=["team", "role"], name="membership_team_role")]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} of {self.team}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.person_id and self.team_id and self.person.organisation_id != self.team.organisation_id:
            errors["team"] = "The team belongs to another organisation than the person."
        if self.ends_on and self.starts_on and self.ends_on <= self.starts_on:
            errors["ends_on"] = "The end date must be after the start date."
        if errors:
            raise ValidationError(errors)
