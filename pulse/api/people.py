"""People (admins only): list, create, update, deactivate, and the HR CSV import."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from pulse.api.base import IsAdmin, PulseApi, strict_query
from pulse.api.errors import error_responses
from pulse.api.fields import id_field
from pulse.permissions import people_visible_to
from pulse.services.email_changes import email_changes_open_subquery
from pulse.services.people import person_update
from surveys.forms import MAX_IMPORT_BYTES
from surveys.models import Membership, Person
from surveys.services.organisation import person_create, person_deactivate
from surveys.services.people_import import people_import
from surveys.validators import validate_time_zone

LOCALES = [code for code, _ in settings.LANGUAGES]


class MembershipBriefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    team = serializers.IntegerField(source="team_id")
    team_name = serializers.CharField(source="team.name")
    role = serializers.ChoiceField(choices=Membership.Role.choices)

    class Meta:
        ref_name = "PersonMembership"


class PersonOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    locale = serializers.CharField(help_text="Empty: the organisation's.")
    time_zone = serializers.CharField(help_text="Empty: the team's.")
    is_active = serializers.BooleanField()
    is_admin = serializers.BooleanField()
    can_sign_in = serializers.SerializerMethodField()
    pending_email = serializers.EmailField(
        allow_null=True,
        help_text="A new address waiting for its owner to confirm it by the emailed link (null: none). "
        "Until then the person signs in with email.",
    )
    emails_paused_at = serializers.DateTimeField(
        allow_null=True,
        read_only=True,
        help_text="When the person paused their check-in emails from the link in one (null: not paused). "
        "Only they can resume them, from the same link.",
    )
    memberships = MembershipBriefSerializer(many=True, source="current_memberships")

    class Meta:
        ref_name = "Person"

    def get_can_sign_in(self, person: Person) -> bool:
        return person.is_active and (person.user is None or person.user.is_active)


def people_with_details(queryset: Any) -> Any:
    return (
        queryset.select_related("user")
        .annotate(pending_email=email_changes_open_subquery())
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.current().select_related("team").order_by("team__path", "role"),
                to_attr="current_memberships",
            )
        )
    )


def _person_out(person: Person) -> dict[str, Any]:
    fresh = people_with_details(Person.objects.filter(pk=person.pk)).get()
    return dict(PersonOutputSerializer(fresh).data)


class PersonListApi(PulseApi):
    permission_classes = [IsAdmin]

    class FilterSerializer(serializers.Serializer[Any]):
        active = serializers.BooleanField(required=False)
        admin = serializers.BooleanField(required=False)
        team = id_field(required=False, help_text="Current members of this team.")
        q = serializers.CharField(required=False, max_length=200, help_text="Part of a name or email.")

        class Meta:
            ref_name = "PersonFilter"

    @extend_schema(
        operation_id="people_list",
        summary="People of the organisation (admins)",
        parameters=[FilterSerializer],
        responses={200: PersonOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=strict_query(request))
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        people = people_visible_to(self.caller)
        if wanted.get("active") is not None:
            people = people.filter(is_active=wanted["active"])
        if wanted.get("admin") is not None:
            people = people.filter(is_admin=wanted["admin"])
        if "team" in wanted:
            members = Membership.objects.current().filter(team_id=wanted["team"]).values("person_id")
            people = people.filter(pk__in=members)
        if wanted.get("q"):
            people = people.filter(Q(display_name__icontains=wanted["q"]) | Q(email__icontains=wanted["q"]))
        return self.paginated(people_with_details(people), PersonOutputSerializer)


class PersonDetailApi(PulseApi):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="people_retrieve",
        summary="One person (admins)",
        responses={200: PersonOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        person = self.object_or_404(people_with_details(people_visible_to(self.caller)), pk)
        return Response(PersonOutputSerializer(person).data)


class PersonCreateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        email = serializers.EmailField(max_length=254)
        display_name = serializers.CharField(max_length=200)
        locale = serializers.ChoiceField(choices=["", *LOCALES], required=False, default="")
        time_zone = serializers.CharField(
            max_length=64, required=False, default="", allow_blank=True, validators=[validate_time_zone]
        )
        is_admin = serializers.BooleanField(required=False, default=False)
        can_sign_in = serializers.BooleanField(
            required=False, default=True, help_text="Create a user so the person can sign in by email link."
        )

        class Meta:
            ref_name = "PersonCreate"

    @extend_schema(
        operation_id="people_create",
        summary="Add a person (admins)",
        request=InputSerializer,
        responses={201: PersonOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = person_create(organisation=self.caller.organisation, **serializer.validated_data)
        return Response(_person_out(person), status=status.HTTP_201_CREATED)


class PersonUpdateApi(PulseApi):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        email = serializers.EmailField(max_length=254, required=False)
        display_name = serializers.CharField(max_length=200, required=False)
        locale = serializers.ChoiceField(choices=["", *LOCALES], required=False)
        time_zone = serializers.CharField(
            max_length=64, required=False, allow_blank=True, validators=[validate_time_zone]
        )
        is_admin = serializers.BooleanField(required=False)
        can_sign_in = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "PersonUpdate"

    @extend_schema(
        operation_id="people_update",
        summary="Change a person (admins)",
        description=(
            "A new email is not applied at once: the new address gets a link to confirm it and the old "
            "address is told; until it confirms, pending_email shows it and sign-in links go to the old one. "
            "Only staff may change the email of another admin or of a person whose account is staff."
        ),
        request=InputSerializer,
        responses={200: PersonOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        person = self.object_or_404(people_visible_to(self.caller).select_related("user"), pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        can_sign_in = changes.pop("can_sign_in", None)
        person = person_update(
            person=person,
            changes=changes,
            can_sign_in=can_sign_in,
            actor=self.caller.person,
            actor_is_staff=bool(request.user.is_staff or request.user.is_superuser),
        )
        return Response(_person_out(person))


class PersonDeactivateApi(PulseApi):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="people_deactivate",
        summary="Deactivate a person and end their memberships today (admins)",
        request=None,
        responses={200: PersonOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        person = self.object_or_404(people_visible_to(self.caller), pk)
        person_deactivate(person=person)
        return Response(_person_out(person))


class PeopleImportApi(PulseApi):
    """The HR CSV import (``surveys.services.people_import``): a dry run by default."""

    permission_classes = [IsAdmin]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(required=False, help_text="The CSV file (multipart).")
        csv = serializers.CharField(
            required=False,
            max_length=MAX_IMPORT_BYTES,
            trim_whitespace=False,
            help_text="Or the CSV as text.",
        )
        dry_run = serializers.BooleanField(
            required=False, default=True, help_text="true (default): report the changes, make none."
        )
        deactivate_missing = serializers.BooleanField(
            required=False,
            default=False,
            help_text=(
                "false (default): add and update the people in the file, and leave everyone else alone. "
                "true: also deactivate the active people missing from the file (they are listed in "
                "people_deactivated); applying that needs confirm_deactivations."
            ),
        )
        confirm_deactivations = serializers.IntegerField(
            required=False,
            min_value=0,
            help_text=(
                "With deactivate_missing=true and dry_run=false: the number of people the dry run listed "
                "in people_deactivated. Any other number changes nothing (400)."
            ),
        )

        class Meta:
            ref_name = "PeopleImport"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            upload = attrs.get("file")
            if (upload is None) == ("csv" not in attrs):
                raise ValidationError({"file": ["Send the CSV as a file or as the text field csv (one)."]})
            if upload is not None:
                if upload.size > MAX_IMPORT_BYTES:
                    raise ValidationError({"file": ["The file is larger than 5 MB; split it."]})
                try:
                    attrs["csv"] = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise ValidationError(
                        {"file": ["The file is not UTF-8 text; export it as CSV UTF-8."]}
                    ) from None
            return attrs

    class OutputSerializer(serializers.Serializer[Any]):
        applied = serializers.BooleanField()
        rows = serializers.IntegerField()
        summary = serializers.CharField()
        teams_created = serializers.ListField(child=serializers.CharField())
        people_created = serializers.ListField(child=serializers.CharField())
        people_updated = serializers.ListField(child=serializers.CharField())
        people_reactivated = serializers.ListField(child=serializers.CharField())
        people_deactivated = serializers.ListField(child=serializers.CharField())
        memberships_started = serializers.ListField(child=serializers.CharField())
        memberships_ended = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "PeopleImportReport"

    @extend_schema(
        operation_id="people_import",
        summary="Import people, teams and memberships from an HR CSV (admins); dry run by default",
        description=(
            "A dry run (the default) reports every change and makes none. With dry_run=false the changes "
            "are made in one transaction. The import adds and updates the people in the file and leaves "
            "everyone else alone; deactivate_missing=true also deactivates the active people missing from "
            "the file, and applying that needs confirm_deactivations set to their number (as the dry run "
            "listed them), so a file that is missing most of the company cannot deactivate it by accident. "
            "A file with any error is refused either way, with the errors per CSV line (400)."
        ),
        request={"multipart/form-data": InputSerializer, "application/json": InputSerializer},
        responses={200: OutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = "file" if data.get("file") is not None else "csv"
        organisation, deactivate = self.caller.organisation, data["deactivate_missing"]
        apply = not data["dry_run"]
        # Deactivating is destructive: a dry run first, and the changes are applied only when the caller
        # confirmed how many people go, and only exactly as that dry run found them (its fingerprint).
        report = people_import(
            organisation=organisation,
            csv_text=data["csv"],
            deactivate_missing=deactivate,
            apply=apply and not deactivate,
        )
        if apply and deactivate and not report.errors:
            count = len(report.people_deactivated)
            if count and data.get("confirm_deactivations") != count:
                raise ValidationError(
                    {
                        "confirm_deactivations": [
                            f"This file deactivates {count} {'person' if count == 1 else 'people'} "
                            f"(people_deactivated in a dry run); send confirm_deactivations={count} to "
                            "apply it. Nothing was changed."
                        ]
                    }
                )
            report = people_import(
                organisation=organisation,
                csv_text=data["csv"],
                deactivate_missing=True,
                apply=report.fingerprint,
            )
            if not report.applied:
                raise ValidationError(
                    {"csv": ["The people in Pulse changed while this file was applied; nothing was changed."]}
                )
        if report.errors:
            errors: dict[str, list[str]] = {}
            for line, message in report.errors:
                errors.setdefault(f"line {line}" if line else source, []).append(message)
            raise ValidationError(errors)
        return Response(
            self.OutputSerializer(
                {
                    "applied": report.applied,
                    "rows": report.rows,
                    "summary": report.summary(),
                    "teams_created": report.teams_created,
                    "people_created": report.people_created,
                    "people_updated": report.people_updated,
                    "people_reactivated": report.people_reactivated,
                    "people_deactivated": report.people_deactivated,
                    "memberships_started": report.memberships_started,
                    "memberships_ended": report.memberships_ended,
                }
            ).data
        )
