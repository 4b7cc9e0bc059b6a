"""Forms of the web app: labels, help texts and errors per field (Django renders ``aria-invalid`` and
``aria-describedby`` pointing at ``<id>_error`` and ``<id>_helptext``, the ids our field template uses)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dates import WEEKDAYS
from django.utils.functional import Promise, lazy
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pulse.permissions import Caller, instruments_visible_to
from surveys.forms import DEACTIVATE_HELP, DEACTIVATE_LABEL, MAX_IMPORT_BYTES
from surveys.models import Instrument, Membership, Person, Schedule, Team
from surveys.validators import validate_time_zone


def _filled(message: Promise, **values: object) -> str:
    """``message % values`` in the language active when it is shown (a lazy string's ``%`` is not lazy)."""
    fill: Any = lazy(lambda: str(message) % values, str)
    result: str = fill()
    return result


LOCALE_CHOICES = [("", _("Organisation default")), *settings.LANGUAGES]
# The models' choice labels stay English (the API and the site admin show them); the forms say them in the
# page's language. Weekdays come from Django's own catalogue (Monday = 0, as in Schedule.Weekday).
ROLE_CHOICES = [(Membership.Role.MEMBER, _("Member")), (Membership.Role.LEADER, _("Leader"))]
CADENCE_CHOICES = [
    (Schedule.Cadence.WEEKLY, _("Every N weeks")),
    (Schedule.Cadence.MONTHLY, _("Monthly, on the n-th weekday")),
]
WEEKDAY_CHOICES = sorted(WEEKDAYS.items())


class ServiceErrorsMixin:
    """Put a service's ``ValidationError`` on the form, each message on its field when the form has it."""

    field_map: dict[str, str] = {}

    def add_service_errors(self, error: ValidationError) -> None:
        form: Any = self
        if not hasattr(error, "error_dict"):
            form.add_error(None, error.messages)
            return
        for name, messages in error.message_dict.items():
            target = self.field_map.get(name, name)
            form.add_error(target if target in form.fields else None, messages)


class TimeZoneField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("validators", [validate_time_zone])
        super().__init__(**kwargs)
        self.widget.attrs.update({"list": "time-zones", "autocomplete": "off", "spellcheck": "false"})


class OrganisationForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    min_group_size = forms.IntegerField(
        label=_("Minimum group size (k)"),
        min_value=settings.PULSE_MIN_GROUP_SIZE_FLOOR,
        max_value=1000,
        help_text=_filled(
            _(
                "The fewest respondents a result is shown for. Never below %(floor)s; a larger k protects "
                "small teams better and shows fewer results."
            ),
            floor=settings.PULSE_MIN_GROUP_SIZE_FLOOR,
        ),
    )
    time_zone = TimeZoneField(
        label=_("Time zone"), help_text=_("IANA name, e.g. Europe/Berlin. Teams may set their own.")
    )
    locale = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language"))
    password_sign_in = forms.BooleanField(
        required=False,
        label=_("People may sign in with a password"),
        help_text=_(
            "Off: only single sign-on or email links (operators' own accounts keep theirs at /admin/)."
        ),
    )
    email_link_sign_in = forms.BooleanField(
        required=False,
        label=_("People may sign in by a link sent by email"),
        help_text=_("Off: only single sign-on or passwords. Links already sent stop working."),
    )
    team_summaries = forms.BooleanField(
        required=False,
        label=_("Send each team a summary of its results"),
        help_text=_(
            "After a round, every member of a team with results gets one email: the results its leader "
            "sees, the actions on its flags and the leader's note. Everyone sees them on their team's page "
            "either way."
        ),
    )
    no_action_reminder_days = forms.IntegerField(
        required=False,  # a form posted without it (an older page, a script) keeps the stored value
        min_value=1,
        max_value=90,
        label=_("Remind leaders of a flag with no action after (days)"),
        help_text=_("Once per flag; the team sees “No action recorded yet” until there is one."),
    )


class TeamForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    slug = forms.SlugField(
        max_length=100,
        required=False,
        label=_("Short name"),
        help_text=_("Short name for URLs and files. Empty: made from the name."),
    )
    parent = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label=_("(top level)"), label=_("Part of")
    )
    time_zone = TimeZoneField(
        required=False, label=_("Time zone"), help_text=_("Empty: the organisation's time zone.")
    )

    def __init__(self, *args: Any, caller: Caller, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parents = Team.objects.filter(organisation_id=caller.organisation_id)
        if team is not None:
            # A team cannot move under itself or its own subtree; the service refuses it too.
            parents = parents.exclude(path__startswith=team.path)
        field: Any = self.fields["parent"]
        field.queryset = parents
        field.label_from_instance = lambda option: f"{'— ' * option.depth}{option.name}"


class PersonForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(max_length=254, label=_("Email"))
    display_name = forms.CharField(max_length=200, label=_("Name"))
    locale = forms.ChoiceField(choices=LOCALE_CHOICES, required=False, label=_("Language"))
    time_zone = TimeZoneField(
        required=False,
        label=_("Time zone"),
        help_text=_("Empty: the team's. Used for reminders and quiet hours."),
    )
    is_admin = forms.BooleanField(
        required=False,
        label=_("Organisation admin"),
        help_text=_("Admins configure the organisation. They get no extra access to anything anonymous."),
    )
    can_sign_in = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Can sign in"),
        help_text=_("Signs in with a link sent by email."),
    )


class MembershipForm(ServiceErrorsMixin, forms.Form):
    person = forms.ModelChoiceField(queryset=Person.objects.none(), label=_("Person"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), label=_("Team"))
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Membership.Role.MEMBER, label=_("Role"))
    starts_on = forms.DateField(
        required=False,
        label=pgettext_lazy("a membership: first day", "From"),
        help_text=_("YYYY-MM-DD; empty: today."),
        widget=forms.DateInput({"type": "date"}),
    )

    def __init__(self, *args: Any, caller: Caller, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person: Any = self.fields["person"]
        person.queryset = Person.objects.filter(organisation_id=caller.organisation_id, is_active=True)
        team: Any = self.fields["team"]
        team.queryset = Team.objects.filter(organisation_id=caller.organisation_id)
        team.label_from_instance = lambda option: f"{'— ' * option.depth}{option.name}"


class MembershipEndForm(forms.Form):
    ends_on = forms.DateField(required=False, widget=forms.DateInput({"type": "date"}))


class PeopleImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label=_("CSV file"),
        help_text=_("Columns: email, name, team, role, locale, time_zone."),
    )
    csv_text = forms.CharField(
        required=False,
        label=_("Or paste the CSV"),
        widget=forms.Textarea({"rows": 8, "spellcheck": "false"}),
        max_length=MAX_IMPORT_BYTES,
    )
    deactivate_missing = forms.BooleanField(required=False, label=DEACTIVATE_LABEL, help_text=DEACTIVATE_HELP)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise ValidationError({"file": _("The file is larger than 5 MB; split it.")})
            try:
                data["csv_text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError(
                    {"file": _("The file is not UTF-8 text; export it as CSV UTF-8.")}
                ) from None
        elif not data.get("csv_text"):
            raise ValidationError({"file": _("Choose a file or paste the CSV.")})
        return data


def _hours(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds() // 3600)


class ScheduleForm(ServiceErrorsMixin, forms.Form):
    """The schedule editor. Durations are whole hours here; the model keeps timedeltas."""

    field_map = {
        "open_for": "open_for_hours",
        "reminder_1": "reminder_1_hours",
        "reminder_2": "reminder_2_hours",
    }

    name = forms.CharField(max_length=200, label=_("Name"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), label=_("Team"), help_text=_("Who is asked."))
    include_subtree = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Include every team below it"),
        help_text=_("Otherwise the team's own members only."),
    )
    instruments = forms.ModelMultipleChoiceField(
        queryset=Instrument.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label=_("Instruments"),
    )
    is_active = forms.BooleanField(required=False, initial=True, label=_("Active"))
    cadence = forms.ChoiceField(choices=CADENCE_CHOICES, initial=Schedule.Cadence.WEEKLY, label=_("Cadence"))
    every_n_weeks = forms.IntegerField(
        min_value=1,
        max_value=52,
        initial=1,
        label=_("Every how many weeks"),
        help_text=_("Weekly only: 1 = every week."),
    )
    nth_weekday = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (1, pgettext_lazy("the n-th weekday of a month", "1st")),
            (2, pgettext_lazy("the n-th weekday of a month", "2nd")),
            (3, pgettext_lazy("the n-th weekday of a month", "3rd")),
            (4, pgettext_lazy("the n-th weekday of a month", "4th")),
            (-1, pgettext_lazy("the n-th weekday of a month", "last")),
        ],
        initial=1,
        label=_("Which weekday of the month"),
        help_text=_("Monthly only."),
    )
    weekday = forms.TypedChoiceField(coerce=int, choices=WEEKDAY_CHOICES, initial=0, label=_("Weekday"))
    local_time = forms.TimeField(
        initial="10:00",
        label=_("Opens at"),
        help_text=_("Local time, HH:MM."),
        widget=forms.TimeInput({"type": "time"}),
    )
    time_zone = TimeZoneField(
        required=False, label=_("Time zone"), help_text=_("Empty: the team's time zone.")
    )
    starts_on = forms.DateField(label=_("First day"), widget=forms.DateInput({"type": "date"}))
    ends_on = forms.DateField(
        required=False,
        label=_("Last day"),
        help_text=_("Empty: no end."),
        widget=forms.DateInput({"type": "date"}),
    )
    open_for_hours = forms.IntegerField(
        min_value=1,
        max_value=24 * 366,
        initial=72,
        label=_("Open for (hours)"),
        help_text=_("72 = three days."),
    )
    reminder_1_hours = forms.IntegerField(
        min_value=1, max_value=24 * 366, required=False, initial=24, label=_("Reminder (hours before close)")
    )
    reminder_2_hours = forms.IntegerField(
        min_value=1, max_value=24 * 366, required=False, label=_("Second reminder (hours before close)")
    )
    quiet_start = forms.TimeField(
        initial="20:00", label=_("No email from"), widget=forms.TimeInput({"type": "time"})
    )
    quiet_end = forms.TimeField(
        initial="08:00",
        label=pgettext_lazy("quiet hours: end", "until"),
        widget=forms.TimeInput({"type": "time"}),
    )
    quiet_weekends = forms.BooleanField(required=False, initial=True, label=_("No email at weekends"))

    def __init__(self, *args: Any, caller: Caller, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team: Any = self.fields["team"]
        team.queryset = Team.objects.filter(organisation_id=caller.organisation_id).select_related(
            "organisation"
        )
        team.label_from_instance = lambda option: f"{'— ' * option.depth}{option.name}"
        instruments: Any = self.fields["instruments"]
        instruments.queryset = instruments_visible_to(caller)
        # An instrument's name is its data, in English: marked for a page in another language.
        instruments.label_from_instance = lambda option: format_html('<span lang="en">{}</span>', option)

    @staticmethod
    def initial_from(schedule: Schedule) -> dict[str, Any]:
        return {
            "name": schedule.name,
            "team": schedule.team_id,
            "include_subtree": schedule.include_subtree,
            "instruments": [instrument.pk for instrument in schedule.instruments.all()],
            "is_active": schedule.is_active,
            "cadence": schedule.cadence,
            "every_n_weeks": schedule.every_n_weeks,
            "nth_weekday": schedule.nth_weekday,
            "weekday": schedule.weekday,
            "local_time": schedule.local_time,
            "time_zone": schedule.time_zone,
            "starts_on": schedule.starts_on,
            "ends_on": schedule.ends_on,
            "open_for_hours": _hours(schedule.open_for),
            "reminder_1_hours": _hours(schedule.reminder_1),
            "reminder_2_hours": _hours(schedule.reminder_2),
            "quiet_start": schedule.quiet_start,
            "quiet_end": schedule.quiet_end,
            "quiet_weekends": schedule.quiet_weekends,
        }

    def schedule_fields(self) -> tuple[dict[str, Any], list[Any]]:
        """The model's fields and the instruments, from valid data."""
        data = dict(self.cleaned_data)
        instruments = list(data.pop("instruments"))
        for name in ("open_for", "reminder_1", "reminder_2"):
            hours = data.pop(f"{name}_hours")
            data[name] = timedelta(hours=hours) if hours else None
        data["time_zone"] = data["time_zone"] or ""
        return data, instruments


class ApiTokenForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(
        max_length=100,
        label=_("Name"),
        help_text=_("What the token is for, e.g. the script that will use it."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=settings.PULSE_API_TOKEN_MAX_DAYS,
        initial=settings.PULSE_API_TOKEN_DAYS,
        help_text=_filled(
            _("At most %(days)s days. Make a new token before this one ends."),
            days=settings.PULSE_API_TOKEN_MAX_DAYS,
        ),
    )
