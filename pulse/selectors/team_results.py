"""What a team member sees of their own team ("you said, we did"): the team's published results of its
latest round, the leaders' actions on the team's flags, and the leader's note; and the summary a member is
sent of them.

Nothing new is released here. The page is the leader's team page of the same team and round
(``pulse.selectors.reports.team_report_of``, one release for the round's whole scope tree), filtered to
the team alone, and then narrowed further: the latest round's scale results and the response rate (each as
the leader sees it, withheld cells as their reason), the flags with their gated headline, and what was
planned. Nothing per person: no comment texts, no distributions, no one's name but the leaders' own (an
action's "who", a note's author). A team whose latest round shows nothing (fewer than k answers, or every
cell withheld to protect a smaller group) shows only why (docs/anonymity.md §9).

A person sees the teams they are a member of today (any role), never another: any other id is "not
found", exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from html import unescape
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import strip_tags
from django.utils.translation import gettext, gettext_lazy

from pulse import dates
from pulse.analysis.metrics import HIGHER_IS_BETTER
from pulse.disclosure.release import ReleaseMemo, RoundInfo, TeamIndex, TeamInfo
from pulse.disclosure.rules import Withheld, WithheldCode
from pulse.models import Flag, RoundNote
from pulse.permissions import Caller
from pulse.selectors.cells import ShownCell, horizon
from pulse.selectors.flag_words import DATA_LANGUAGE, label_lang
from pulse.selectors.people import teams_led_by
from pulse.selectors.reports import MetricReport, TeamReport, team_report_of
from pulse.selectors.team_rounds import rounds_asking
from surveys.models import Membership, Organisation, Person
from surveys.services.slack_delivery import mrkdwn_escape

#: Why a result is not shown, in plain words (``%(k)s``: the organisation's minimum group size).
WITHHELD_WORDS: dict[WithheldCode, Promise] = {
    WithheldCode.TOO_FEW_ANSWERS: gettext_lazy("not shown: fewer than %(k)s answers"),
    WithheldCode.PROTECTS_SMALLER_GROUP: gettext_lazy("not shown, to protect a smaller group"),
    WithheldCode.OVERLAPPING_TEAMS: gettext_lazy("not shown: the team overlaps another one too closely"),
    WithheldCode.CHANGED_SINCE_LAST_RESULT: gettext_lazy(
        "not shown: too few people joined or left since the last result"
    ),
    WithheldCode.TOO_CLOSE_TO_LARGER_GROUP: gettext_lazy("not shown: too close to a larger group's result"),
    WithheldCode.CONCENTRATED: gettext_lazy("not shown: the answers are too concentrated"),
}


def withheld_words(cell: ShownCell, k: int) -> str:
    """Why a cell is not shown, in the active language."""
    if isinstance(cell.verdict, Withheld):
        words = WITHHELD_WORDS.get(cell.verdict.code, WITHHELD_WORDS[WithheldCode.PROTECTS_SMALLER_GROUP])
        return str(words) % {"k": k}
    return gettext("not asked in this round")


@dataclass(frozen=True)
class ResultLine:
    """One scale of the latest round, as the leader's page shows it."""

    label: str  # the instrument's own (English) name of the scale
    shown: bool
    value: str  # the published value, or why it is not shown
    band: str  # the cut-off band the value lies in, in the reader's language ("ausgebrannt (≥ 3)"), or ""
    higher_is_better: bool
    previous: str  # the last earlier published value ("" when none)
    previous_day: str


@dataclass(frozen=True)
class ActionLine:
    what: str
    who: str
    due_on: date
    due: bool  # its date has come
    # How the metric moved since (pulse.selectors.flags._outcome), "" before its date: in the reader's
    # language, as HTML whose instrument label carries its lang.
    outcome: str


@dataclass(frozen=True)
class FlagLine:
    flag_id: int
    label: str
    headline: (
        str  # behind the leader page's gate, worded in the reader's language, as HTML (its label marked)
    )
    state: str
    opened_at: datetime | None
    actions: tuple[ActionLine, ...]  # empty: "No action recorded yet"
    resolution_note: str
    # The languages to mark, "" for the page's: an instrument's label is English data, a load measure's and
    # the response rate's are Pulse's words (pulse.selectors.flag_words.label_lang); a headline is "en"
    # only when it is a flag's stored English (pulse.selectors.flags.FlagView.lang).
    label_lang: str = DATA_LANGUAGE
    headline_lang: str = ""


@dataclass(frozen=True)
class NoteView:
    text: str
    written_by: str
    updated_at: datetime
    edited: bool  # saved more than once


@dataclass(frozen=True)
class TeamResults:
    organisation: Organisation
    k: int
    team: TeamInfo
    round: RoundInfo | None
    shown: bool  # the latest round has anything to show for the team
    why_not: str  # when not shown, why, in plain words
    results: tuple[ResultLine, ...]
    response_rate: str  # "80%", or "" when not shown
    flags: tuple[FlagLine, ...]
    note: NoteView | None

    @property
    def closing_day(self) -> str:
        return dates.day_text(self.round.closes_at, self.organisation.time_zone) if self.round else ""


def member_team_ids(person: Person) -> list[int]:
    """The teams a person is a member of today (any role), in the organisation's tree order."""
    return list(
        Membership.objects.current()
        .filter(person=person, team__organisation_id=person.organisation_id)
        .order_by("team__path")
        .values_list("team_id", flat=True)
        .distinct()
    )


def team_results_get(*, person: Person, team_id: int, today: date | None = None) -> TeamResults | None:
    """The results page of one of the person's own teams, or None (the view: 404) for any other team."""
    if team_id not in member_team_ids(person):
        return None
    return _team_results(Caller(person), TeamIndex.of(person.organisation_id), team_id, today)


def my_team_results(*, person: Person, today: date | None = None) -> list[TeamResults]:
    """Each of the person's teams, as :func:`team_results_get` shows it (their rounds released once for
    all of them)."""
    team_ids = member_team_ids(person)
    batch = TeamResultsBatch(
        reader=person, teams=TeamIndex.of(person.organisation_id), team_ids=team_ids, today=today
    )
    return [batch.results(team_id) for team_id in team_ids]


class TeamResultsBatch:
    """Many teams' results as their members see them (a round's summaries), built in one unit of work: one
    caller for the organisation's context (nothing of a team's page depends on who reads it), the rounds
    that asked every team listed at once (``rounds_asking``), and each round released once for all of them
    (``pulse.disclosure.release.ReleaseMemo``), so building a team's results costs the same few queries
    whatever the size of the tree."""

    def __init__(
        self, *, reader: Person, teams: TeamIndex, team_ids: Sequence[int], today: date | None = None
    ) -> None:
        self.caller = Caller(reader)
        self.teams = teams
        self.today = today
        self.memo = ReleaseMemo(teams)
        asked = [teams.by_id[pk] for pk in team_ids if pk in teams.by_id]
        self.rounds = rounds_asking(reader.organisation_id, asked, limit=horizon())

    def results(self, team_id: int) -> TeamResults:
        """The team's results, exactly as :func:`team_results_get` shows them to any of its members."""
        return _team_results(
            self.caller, self.teams, team_id, self.today, memo=self.memo, rounds=self.rounds.get(team_id, [])
        )


def _team_results(
    caller: Caller,
    teams: TeamIndex,
    team_id: int,
    today: date | None,
    memo: ReleaseMemo | None = None,
    rounds: Sequence[RoundInfo] | None = None,
) -> TeamResults:
    # A member's page shows no distributions, shares, comments or set-up steps: left out (details=False).
    report = team_report_of(
        caller=caller,
        teams=teams,
        visible={team_id},
        team_id=team_id,
        today=today,
        memo=memo,
        rounds=rounds,
        details=False,
    )
    k, latest = report.k, report.latest_round
    nothing = TeamResults(
        organisation=report.organisation,
        k=k,
        team=report.team,
        round=latest,
        shown=False,
        why_not="",
        results=(),
        response_rate="",
        flags=(),
        note=None,
    )
    if latest is None:
        return replace(nothing, why_not=gettext("No check-in that asked this team has closed yet."))
    rate_cell = report.response_rate.latest if report.response_rate else None
    lines = tuple(_line(m, k) for m in report.metrics if m.points and m.points[-1].round.pk == latest.pk)
    shown = any(line.shown for line in lines) or bool(rate_cell and rate_cell.published)
    if not shown:
        # Nothing of the team: not its flags, not the note (docs/anonymity.md §9).
        return replace(nothing, why_not=_why_not(report, rate_cell))
    return replace(
        nothing,
        shown=True,
        results=lines,
        response_rate=rate_cell.text if rate_cell and rate_cell.published else "",
        flags=_flag_lines(report),
        note=_note(latest.pk, report.team.pk),
    )


def _why_not(report: TeamReport, rate: ShownCell | None) -> str:
    day = (
        dates.day_text(report.latest_round.closes_at, report.organisation.time_zone)
        if report.latest_round
        else ""
    )
    if (
        rate is not None
        and isinstance(rate.verdict, Withheld)
        and rate.verdict.code is WithheldCode.TOO_FEW_ANSWERS
    ):
        return gettext(
            "Fewer than %(k)s people of this team answered the check-in that closed on %(day)s, so none of "
            "its results are shown: with so few answers, a result could point to a person."
        ) % {"k": report.k, "day": day}
    return gettext(
        "The results of the check-in that closed on %(day)s are not shown for this team, to protect a "
        "smaller group: they could be worked out from another team's results."
    ) % {"day": day}


def _line(metric: MetricReport, k: int) -> ResultLine:
    latest = metric.latest
    earlier = [p for p in metric.points[:-1] if p.cell.published]
    previous = earlier[-1] if earlier and latest.published else None
    return ResultLine(
        label=metric.label,
        shown=latest.published,
        value=latest.text if latest.published else withheld_words(latest, k),
        band=latest.note if latest.published else "",
        higher_is_better=metric.column.info.direction == HIGHER_IS_BETTER,
        previous=previous.cell.text if previous else "",
        previous_day=previous.day if previous else "",
    )


def _flag_lines(report: TeamReport) -> tuple[FlagLine, ...]:
    lines = []
    for view in report.flags:
        actions = tuple(
            ActionLine(o.action.what, o.action.who, o.action.due_on, o.due, o.sentence if o.due else "")
            for o in view.outcomes
        )
        lines.append(
            FlagLine(
                flag_id=view.flag.pk,
                label=view.label,
                headline=view.headline,
                state=view.flag.state,
                opened_at=view.flag.opened_at,
                actions=actions,
                resolution_note=view.resolution_note if view.flag.state == Flag.State.RESOLVED else "",
                label_lang=label_lang(view.flag.metric),
                headline_lang=view.lang,
            )
        )
    return tuple(lines)


def _note(round_id: int, team_id: int) -> NoteView | None:
    note = RoundNote.objects.filter(round_id=round_id, team_id=team_id).select_related("written_by").first()
    if note is None:
        return None
    return NoteView(
        note.text, note.written_by.display_name, note.updated_at, note.updated_at != note.created_at
    )


def may_write_note(*, person: Person, team_id: int) -> bool:
    """Whether a person writes a team's note: a leader of the team or of a team above it (``teams_led_by``
    includes every team below the ones led). An admin who leads neither does not."""
    return teams_led_by(person=person).filter(pk=team_id).exists()


def round_note_get(*, round_id: int, team_id: int) -> RoundNote | None:
    """The leader's note on a round for a team (for the leader's form), or None."""
    return RoundNote.objects.filter(round_id=round_id, team_id=team_id).select_related("written_by").first()


# ------------------------------------------------------------------------------------------ the summary


@dataclass(frozen=True)
class SummaryResult:
    """One scale of the latest round in the summary."""

    label: str  # the instrument's own (English) name of the scale
    value: str  # the published value, or why it is not shown
    shown: bool
    band: str  # the cut-off band the value lies in, in the reader's language, or ""
    before: str  # "before: 3.4 (2 Mar 2026)", or "" when no earlier value was shown


@dataclass(frozen=True)
class SummaryAction:
    planned: str  # "Planned: Fewer pages at night (Lena, by 1 Apr 2026)"
    outcome: str  # how the metric moved since, plain text in the reader's language, "" before its date
    outcome_html: str = ""  # the same for the HTML part, its instrument label marked with its lang


@dataclass(frozen=True)
class SummaryFlag:
    label: str
    headline: str  # behind the leader page's gate, plain text in the reader's language
    actions: tuple[SummaryAction, ...]  # empty: ``SummaryParts.no_action``
    headline_html: str = ""  # the same for the HTML part
    label_lang: str = DATA_LANGUAGE  # "" for a label in the reader's language (see FlagLine)
    headline_lang: str = ""  # "en" for a flag's stored English


def plain_text(html: str) -> str:
    """A sentence worded for a page (escaped, an instrument's label in a ``<span lang>``) as plain text, for
    the summary's text part and Slack: the same words without the markup."""
    return unescape(strip_tags(html))


@dataclass(frozen=True)
class SummaryParts:
    """What a team's summary says, worded once in the active language. The email (text and HTML) and the
    Slack message only lay these parts out, so every channel says the same; each adds its own footer
    about anonymity and nothing else."""

    team: str
    closing_day: str
    k: int
    heading: str  # "Results of A from the check-in that closed on 9 Mar 2026"
    results: tuple[SummaryResult, ...]
    response_rate: str  # "90% of the team answered.", or "" when not shown
    flags_heading: str
    flags: tuple[SummaryFlag, ...]
    no_action: str  # "No action recorded yet"
    note_heading: str
    note: str  # the leader's note as written (plain text), or ""
    link_label: str
    url: str


@dataclass(frozen=True)
class SlackSummary:
    """The summary as a Slack message: the notification's text and the Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class TeamSummary:
    subject: str
    text: str  # the plain-text email
    html: str  # its HTML part
    slack: SlackSummary
    parts: SummaryParts


def team_results_url(team_id: int) -> str:
    return settings.PULSE_BASE_URL + reverse("team_results_detail", args=[team_id])


def summary_parts(results: TeamResults) -> SummaryParts | None:
    """What the summary of a team's results says, in the active language: the same for every member (no
    name, no greeting, nothing about whether they answered). None when the team has nothing shown."""
    if not results.shown or results.round is None:
        return None
    team, day = results.team.name, results.closing_day
    return SummaryParts(
        team=team,
        closing_day=day,
        k=results.k,
        heading=gettext("Results of %(team)s from the check-in that closed on %(day)s")
        % {"team": team, "day": day},
        results=tuple(_summary_result(line) for line in results.results),
        response_rate=gettext("%(rate)s of the team answered.") % {"rate": results.response_rate}
        if results.response_rate
        else "",
        flags_heading=gettext("What the leaders are doing about it"),
        flags=tuple(
            SummaryFlag(
                flag.label,
                plain_text(flag.headline),
                tuple(_summary_action(a) for a in flag.actions),
                headline_html=flag.headline,
                label_lang=flag.label_lang,
                headline_lang=flag.headline_lang,
            )
            for flag in results.flags
        ),
        no_action=gettext("No action recorded yet"),
        note_heading=gettext("A note from your team's leader"),
        note=results.note.text if results.note else "",
        link_label=gettext("See your team's results"),
        url=team_results_url(results.team.pk),
    )


def _summary_result(line: ResultLine) -> SummaryResult:
    before = (
        gettext("before: %(value)s (%(day)s)") % {"value": line.previous, "day": line.previous_day}
        if line.previous
        else ""
    )
    return SummaryResult(line.label, line.value, line.shown, line.band, before)


def _summary_action(action: ActionLine) -> SummaryAction:
    planned = gettext("Planned: %(what)s (%(who)s, by %(due)s)") % {
        "what": action.what,
        "who": action.who,
        "due": dates.day_text(action.due_on),
    }
    return SummaryAction(planned, plain_text(action.outcome), action.outcome)


def team_summary(results: TeamResults) -> TeamSummary | None:
    """The summary of a team's results in the active language, as an email and as a Slack message, both
    laid out from one :class:`SummaryParts`. None when the team has nothing shown."""
    parts = summary_parts(results)
    if parts is None:
        return None
    subject = gettext("[Pulse] Your team's results: %(team)s, check-in of %(day)s") % {
        "team": parts.team,
        "day": parts.closing_day,
    }
    context = {"parts": parts}
    text = render_to_string("pulse/email/team_summary.txt", context).rstrip("\n")
    html = render_to_string("pulse/email/team_summary.html", context)
    return TeamSummary(subject=subject, text=text, html=html, slack=slack_summary(parts), parts=parts)


# Slack's limits (docs.slack.dev, "Block Kit"): 3,000 characters in a section's text, 50 blocks a message.
SLACK_SECTION_CHARS = 3000
SLACK_MAX_FLAGS = 40


def _section(text: str) -> dict[str, Any]:
    if len(text) > SLACK_SECTION_CHARS:
        text = text[: SLACK_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_summary(parts: SummaryParts) -> SlackSummary:
    """The summary as a Slack DM laid out from ``parts``: the heading, the results, the flags with their
    actions (or "No action recorded yet"), the leader's note as a quote, a button to the team's page and
    the line on anonymity. Every number in it is one of the parts' (the release's)."""
    lines = []
    for result in parts.results:
        value = f"*{mrkdwn_escape(result.value)}*" if result.shown else f"_{mrkdwn_escape(result.value)}_"
        line = f"• {mrkdwn_escape(result.label)}: {value}"
        if result.band:
            line += f" ({mrkdwn_escape(result.band)})"
        if result.before:
            line += f"; {mrkdwn_escape(result.before)}"
        lines.append(line)
    if parts.response_rate:
        lines.append(f"• {mrkdwn_escape(parts.response_rate)}")
    blocks: list[dict[str, Any]] = [_section(f"*{mrkdwn_escape(parts.heading)}*")]
    if lines:
        blocks.append(_section("\n".join(lines)))
    if parts.flags:
        blocks.append(_section(f"*{mrkdwn_escape(parts.flags_heading)}*"))
        for flag in parts.flags[:SLACK_MAX_FLAGS]:
            flag_lines = [f"• {mrkdwn_escape(flag.label)}: {mrkdwn_escape(flag.headline)}"]
            for action in flag.actions:
                flag_lines.append(f"    ◦ {mrkdwn_escape(action.planned)}")
                if action.outcome:
                    flag_lines.append(f"       {mrkdwn_escape(action.outcome)}")
            if not flag.actions:
                flag_lines.append(f"    ◦ _{mrkdwn_escape(parts.no_action)}_")
            blocks.append(_section("\n".join(flag_lines)))
    if parts.note:
        quoted = "\n".join(f"> {mrkdwn_escape(line)}" if line else ">" for line in parts.note.split("\n"))
        blocks.append(_section(f"*{mrkdwn_escape(parts.note_heading)}*\n{quoted}"))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "pulse_team_results",
                    "text": {"type": "plain_text", "text": parts.link_label[:75]},
                    "url": parts.url,
                }
            ],
        }
    )
    anonymity = gettext(
        "Pulse shows a team's results only when at least %(k)s people answered; nobody's own answers are "
        "ever in a message."
    ) % {"k": parts.k}
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(anonymity)}]})
    return SlackSummary(text=parts.heading, blocks=blocks)
