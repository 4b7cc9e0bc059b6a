"""Pulse's tables, one module per concern.

``aggregates``: what closed rounds taught (``TeamAggregate``) and how rosters changed (``TeamRosterChange``);
``flags``: flags, their history, leaders' actions and trend runs; ``notifications``: the outbox;
``auth``: sign-in links, email changes and their outbox; ``api_tokens``: scripts' API tokens (hashed);
``oncall``: shifts, pages, time off (keyed hashes, no names) and the weekly team load; ``pagerduty``: the
PagerDuty connection, team links and Analytics' weekly team sums;
``team_results``: what a team is told of its results (the leader's note, summaries, no-action reminders).
Django finds models through this module.
"""

from pulse.models.aggregates import TeamAggregate, TeamRosterChange
from pulse.models.api_tokens import ApiToken
from pulse.models.auth import AuthEmail, EmailChange, LoginLink
from pulse.models.flags import Action, Flag, FlagEvent, TrendRun
from pulse.models.notifications import Notification, NotificationChannel
from pulse.models.oncall import OncallAbsence, OncallImport, OncallPage, OncallShift, OncallWeek
from pulse.models.pagerduty import (
    PagerDutyAnalyticsWeek,
    PagerDutyConnection,
    PagerDutyTeamLink,
    PagerDutyWebhookSecret,
)
from pulse.models.team_results import (
    NoActionReminder,
    RoundNote,
    RoundNoteRevision,
    TeamResultsEmail,
    TeamSummaryRun,
)

__all__ = [
    "Action",
    "ApiToken",
    "AuthEmail",
    "EmailChange",
    "Flag",
    "FlagEvent",
    "LoginLink",
    "NoActionReminder",
    "Notification",
    "NotificationChannel",
    "OncallAbsence",
    "OncallImport",
    "OncallPage",
    "OncallShift",
    "OncallWeek",
    "PagerDutyAnalyticsWeek",
    "PagerDutyConnection",
    "PagerDutyTeamLink",
    "PagerDutyWebhookSecret",
    "RoundNote",
    "RoundNoteRevision",
    "TeamAggregate",
    "TeamResultsEmail",
    "TeamRosterChange",
    "TeamSummaryRun",
    "TrendRun",
]
