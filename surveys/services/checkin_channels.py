"""Which channel a person is asked to check in on: one rule, for the email sender and the Slack sender.

:func:`channels_of` is the rule: the person's own choice (``SlackUser.channel``), else their organisation's
default (``SlackWorkspace.default_channel``), and email only while no Slack user is matched to them, so
nobody is left unasked. :func:`slack_asked` and :func:`slack_only_people` are the same rule as database
conditions, for the queries that plan DMs and that keep Slack-only people off email;
:func:`channels_of_people` applies it to many people at once (the team summaries go by the same rule).
"""

from __future__ import annotations

from django.db.models import Q

from surveys.models import CheckinChannel, Person

SLACK_CHOICES = (CheckinChannel.SLACK, CheckinChannel.BOTH)
EMAIL_CHOICES = (CheckinChannel.EMAIL, CheckinChannel.BOTH)


def channels_of(*, choice: str, default: str, matched: bool) -> frozenset[str]:
    """The channels a person is asked on: their own ``choice``, else the organisation's ``default``; only
    email while no Slack user is matched to them (nobody is left unasked)."""
    chosen = choice or default or CheckinChannel.EMAIL
    if not matched:
        return frozenset({CheckinChannel.EMAIL})
    return frozenset(
        channel
        for channel, choices in ((CheckinChannel.EMAIL, EMAIL_CHOICES), (CheckinChannel.SLACK, SLACK_CHOICES))
        if chosen in choices
    )


def _chooses(choices: tuple[str, ...], prefix: str) -> Q:
    """:func:`channels_of`'s choice as a condition on rows reaching a ``SlackUser`` through ``prefix``."""
    return Q(**{f"{prefix}slack_user__channel__in": choices}) | Q(
        **{
            f"{prefix}slack_user__channel": "",
            f"{prefix}organisation__slack_workspace__default_channel__in": choices,
        }
    )


def slack_asked(prefix: str = "") -> Q:
    """People asked on Slack (:func:`channels_of`), as a condition through ``prefix`` ("person__")."""
    return (
        Q(**{f"{prefix}slack_user__user_id__gt": ""})
        & Q(**{f"{prefix}organisation__slack_workspace__isnull": False})
        & _chooses(SLACK_CHOICES, prefix)
    )


def slack_only_people(person_ids: list[int]) -> set[int]:
    """Which of these people :func:`channels_of` keeps off email (matched, and Slack only). One query."""
    if not person_ids:
        return set()
    return set(
        Person.objects.filter(pk__in=person_ids)
        .filter(slack_asked())
        .exclude(_chooses(EMAIL_CHOICES, ""))
        .values_list("pk", flat=True)
    )


def channels_of_people(person_ids: list[int]) -> dict[int, frozenset[str]]:
    """:func:`channels_of` for each of these people (one query). A person of an organisation without a
    connected workspace is not matched: email only."""
    if not person_ids:
        return {}
    rows = Person.objects.filter(pk__in=person_ids).values_list(
        "pk",
        "slack_user__channel",
        "slack_user__user_id",
        "organisation__slack_workspace__pk",
        "organisation__slack_workspace__default_channel",
    )
    return {
        pk: channels_of(
            choice=choice or "", default=default or "", matched=bool(user_id and workspace_id is not None)
        )
        for pk, choice, user_id, workspace_id, default in rows
    }
