"""The life of a flag: detected by a trend run, confirmed, acknowledged, acted on, resolved, reopened.

States (``Flag.State``) and who moves a flag between them:

* **pending** — the trend run saw the condition once (docs/science.md §3.9: it must hold for two evaluations
  before anyone is notified). Nobody sees it yet. Next evaluation with a newer round: the condition holds
  again → **open** (leaders notified), or it does not → **lapsed** (never shown).
* **open** → **acknowledged** (a leader, with a note) → **action planned** (what, who, by when; planning
  also acknowledges) → **resolved**, by a leader with a note, or by the system after two evaluations back
  within bounds (a *recovery*, notified like an opening).
* A resolved flag whose condition comes back is **pending** again (event "returning"); a second
  evaluation reopens it (notified) or puts it back to resolved.
* Open and unacknowledged for ``PULSE_FLAG_ESCALATE_AFTER_DAYS`` days: escalated to the leaders of the
  next team up that has leaders (``pulse.services.escalation.flags_escalate_due``), then again after as
  many days, to the top.

Every transition writes a ``FlagEvent`` (who: a person or "system"; when; why) and, where people are to
be told, its ``Notification`` rows, all in one transaction. Transitions are guarded by the state they
start from, under a row lock, so a double click or a concurrent run does nothing twice. An evaluation
counts only if it saw a newer round than the flag's last (``Flag.evaluated_through``).

Who may act on a flag: a current leader of its team or of any team above it (a leader answers for their
subtree, as ``pulse.selectors.teams_led_by`` says).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from pulse.analysis.rules import SEVERITY_RANK, SeriesVerdict, Severity
from pulse.models import Action, Flag, FlagEvent
from pulse.services.notifications import notifications_for_event
from surveys.models import Membership, Organisation, Person

logger = logging.getLogger(__name__)

#: Evaluations (each with a newer round) a condition must hold before a flag opens, and be absent before
#: it recovers (docs/science.md §3.9): one round alone is too noisy to tell anyone.
PERSIST = 2
SYSTEM = "system"


class FlagTransitionError(ValueError):
    """The flag is not in a state this action applies to, or a required field is missing."""


@dataclass
class ApplySummary:
    detected: int = 0
    opened: int = 0
    reopened: int = 0
    updated: int = 0
    lapsed: int = 0
    recovered: int = 0
    notifications: int = 0
    events: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.detected} detected, {self.opened} opened, {self.reopened} reopened, "
            f"{self.updated} updated, {self.lapsed} lapsed, {self.recovered} recovered, "
            f"{self.notifications} notifications"
        )


def flag_event_write(
    flag: Flag,
    kind: FlagEvent.Kind,
    *,
    from_state: str,
    now: datetime,
    why: str,
    by: Person | None = None,
    data: dict[str, object] | None = None,
) -> FlagEvent:
    return FlagEvent.objects.create(
        flag=flag,
        kind=kind,
        from_state=from_state,
        to_state=flag.state,
        actor=by,
        actor_label=by.display_name if by else SYSTEM,
        at=now,
        why=why,
        data=data or {},
    )


# ------------------------------------------------------------------------------------- the trend run side


def flags_apply_verdicts(
    *, organisation: Organisation, verdicts: Sequence[SeriesVerdict], now: datetime
) -> ApplySummary:
    """Move the organisation's flags according to one trend run's verdicts. Call inside the run's
    transaction (``pulse.services.trends.trend_run`` holds the organisation's row lock).

    One flag per team × metric: its condition holds while any reason does (a trend, a shift, a cut-off),
    and it is back within bounds only when every reason it carries was judged and none holds; a reason
    that could not be judged this time leaves the flag as it is."""
    summary = ApplySummary()
    evaluable = [v for v in verdicts if v.evaluable and v.latest_closes_at is not None]
    if not evaluable:
        return summary
    active = {
        (f.team_id, f.metric): f
        for f in Flag.objects.select_for_update().filter(
            organisation=organisation, state__in=Flag.ACTIVE_STATES
        )
    }
    hit_teams = {v.key[0] for v in evaluable if v.reasons}
    resolved: dict[tuple[int, str], Flag] = {}
    for f in Flag.objects.filter(
        organisation=organisation, state=Flag.State.RESOLVED, team_id__in=hit_teams
    ).order_by("resolved_at", "pk"):
        resolved[(f.team_id, f.metric)] = f  # the latest resolution wins
    for verdict in evaluable:
        assert verdict.latest_closes_at is not None
        flag = active.get(verdict.key)
        if flag is not None and flag.evaluated_through >= verdict.latest_closes_at:
            continue  # this round was evaluated already: a rerun is not a second evaluation
        if verdict.reasons:
            _on_hit(organisation, flag, resolved.get(verdict.key), verdict, now, summary)
        elif flag is not None and set(flag.reasons) <= set(verdict.hits):
            _on_clear(flag, verdict, now, summary)
    return summary


def _say(flag: Flag, verdict: SeriesVerdict) -> None:
    """The verdict's reasons, severity and what it says onto the flag (not saved): ``details["said"]`` is
    the data that pages, emails and messages word in their reader's language (``pulse.selectors.
    flag_words``); ``headline``, ``explanation`` and ``details["reasons"]`` keep the English wording, the
    fallback for a reader that does not know a shape (and the admin's search)."""
    assert verdict.severity is not None
    flag.reasons = [kind.value for kind in verdict.reasons]
    flag.kind = flag.reasons[0]
    flag.severity = verdict.severity
    flag.headline = verdict.headline
    flag.explanation = " ".join(verdict.explanations[kind] for kind in verdict.reasons)
    flag.details = {
        **verdict.details,
        "reasons": {k.value: verdict.explanations[k] for k in verdict.reasons},
        "said": dict(verdict.said),
    }


def _on_hit(
    organisation: Organisation,
    flag: Flag | None,
    previous: Flag | None,
    verdict: SeriesVerdict,
    now: datetime,
    summary: ApplySummary,
) -> None:
    assert verdict.latest_closes_at is not None
    if flag is None and previous is not None and previous.evaluated_through < verdict.latest_closes_at:
        _say(previous, verdict)
        previous.state = Flag.State.PENDING
        previous.hits, previous.clears = 1, 0
        previous.evaluated_through = verdict.latest_closes_at
        previous.save()
        flag_event_write(
            previous, FlagEvent.Kind.RETURNING, from_state=Flag.State.RESOLVED, now=now, why=previous.headline
        )
        summary.detected += 1
        return
    if flag is None:
        flag = Flag(
            organisation=organisation,
            team_id=verdict.key[0],
            metric=verdict.key[1],
            state=Flag.State.PENDING,
            hits=1,
            evaluated_through=verdict.latest_closes_at,
            created_at=now,
        )
        _say(flag, verdict)
        flag.save()
        flag_event_write(flag, FlagEvent.Kind.DETECTED, from_state="", now=now, why=flag.headline)
        summary.detected += 1
        return
    before_state, before_severity, before_reasons = flag.state, flag.severity, list(flag.reasons)
    _say(flag, verdict)
    flag.evaluated_through = verdict.latest_closes_at
    flag.clears = 0
    if flag.state == Flag.State.PENDING:
        flag.hits += 1
        if flag.hits < PERSIST:
            flag.save()
            return
        reopening = flag.resolved_at is not None
        flag.state = Flag.State.OPEN
        flag.opened_at = now
        flag.acknowledged_at = None
        flag.escalation_level, flag.escalated_at = 0, None
        if reopening:
            flag.reopen_count += 1
            flag.resolved_at, flag.resolution = None, ""
        flag.save()
        event = flag_event_write(
            flag,
            FlagEvent.Kind.REOPENED if reopening else FlagEvent.Kind.OPENED,
            from_state=before_state,
            now=now,
            why=flag.headline,
        )
        summary.notifications += notifications_for_event(event=event, now=now)
        if reopening:
            summary.reopened += 1
        else:
            summary.opened += 1
        return
    flag.save()
    added = [kind for kind in flag.reasons if kind not in before_reasons]
    if before_severity == flag.severity and not added:
        return
    # Leaders are told only when the flag has just become an alert; other news waits on the flag's page.
    now_alert = (
        Severity(flag.severity) == Severity.ALERT
        and SEVERITY_RANK[Severity(flag.severity)] > (SEVERITY_RANK[Severity(before_severity)])
    )
    event = flag_event_write(
        flag,
        FlagEvent.Kind.UPDATED if now_alert or not added else FlagEvent.Kind.REASON_ADDED,
        from_state=before_state,
        now=now,
        why=flag.headline,
        data={
            "severity_before": before_severity,
            "severity": flag.severity,
            "reasons_before": before_reasons,
            "reasons": flag.reasons,
        },
    )
    summary.updated += 1
    if now_alert:
        summary.notifications += notifications_for_event(event=event, now=now)


def _on_clear(flag: Flag, verdict: SeriesVerdict, now: datetime, summary: ApplySummary) -> None:
    assert verdict.latest_closes_at is not None
    before = flag.state
    flag.evaluated_through = verdict.latest_closes_at
    if flag.state == Flag.State.PENDING:
        returning = flag.resolved_at is not None
        flag.state = Flag.State.RESOLVED if returning else Flag.State.LAPSED
        flag.hits = 0
        flag.save()
        flag_event_write(
            flag,
            FlagEvent.Kind.LAPSED,
            from_state=before,
            now=now,
            why="Did not hold for a second evaluation. " + verdict.status,
            data={"said": dict(verdict.said)},
        )
        summary.lapsed += 1
        return
    flag.clears += 1
    if flag.clears < PERSIST:
        flag.save()
        return
    flag.state = Flag.State.RESOLVED
    flag.resolution = Flag.Resolution.RECOVERED
    flag.resolved_at = now
    flag.save()
    event = flag_event_write(
        flag,
        FlagEvent.Kind.RECOVERED,
        from_state=before,
        now=now,
        why=f"Back within bounds for {PERSIST} evaluations in a row. {verdict.status}",
        # The recovery's own words, worded for each reader (pulse.selectors.flag_words.recovery_text).
        data={"said": dict(verdict.said), "evaluations": PERSIST},
    )
    summary.recovered += 1
    summary.notifications += notifications_for_event(event=event, now=now)


# ----------------------------------------------------------------------------------------- leaders' side


def flag_can_act(*, person: Person, flag: Flag, on: date | None = None) -> bool:
    """A current leader of the flag's team or of a team above it, in the same organisation."""
    if person.organisation_id != flag.organisation_id or not person.is_active:
        return False
    team = flag.team
    return (
        Membership.objects.current(on)
        .filter(person=person, role=Membership.Role.LEADER, team_id__in=[*team.ancestor_ids, team.pk])
        .exists()
    )


def _locked(flag_id: int, by: Person) -> Flag:
    flag = Flag.objects.select_for_update().select_related("team").filter(pk=flag_id).first()
    if flag is None or not flag_can_act(person=by, flag=flag):
        raise PermissionDenied("Only the leaders responsible for this team can change its flags.")
    return flag


def _required(text: str, what: str) -> str:
    clean = (text or "").strip()
    if not clean:
        raise FlagTransitionError(f"Please write {what}.")
    return clean


def flag_acknowledge(*, flag_id: int, by: Person, note: str, now: datetime | None = None) -> Flag:
    """open → acknowledged, with a note. Acknowledging an acknowledged flag again changes nothing."""
    moment = now or timezone.now()
    note = _required(note, "a note")
    with transaction.atomic():
        flag = _locked(flag_id, by)
        if flag.state in (Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED):
            return flag
        if flag.state != Flag.State.OPEN:
            raise FlagTransitionError(f"A {flag.get_state_display().lower()} flag cannot be acknowledged.")
        flag.state = Flag.State.ACKNOWLEDGED
        flag.acknowledged_at = moment
        flag.save(update_fields=["state", "acknowledged_at"])
        flag_event_write(
            flag, FlagEvent.Kind.ACKNOWLEDGED, from_state=Flag.State.OPEN, now=moment, why=note, by=by
        )
    return flag


def flag_action_plan(
    *, flag_id: int, by: Person, what: str, who: str, due_on: date, now: datetime | None = None
) -> Action:
    """Record a planned action (what, who, by when); the flag becomes "action planned" (and counts as
    acknowledged). Several actions may be planned for one flag."""
    moment = now or timezone.now()
    what = _required(what, "what will be done")
    who = _required(who, "who will do it")
    with transaction.atomic():
        flag = _locked(flag_id, by)
        if flag.state not in (Flag.State.OPEN, Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED):
            raise FlagTransitionError(
                f"No action can be planned on a {flag.get_state_display().lower()} flag."
            )
        before = flag.state
        action = Action.objects.create(
            flag=flag, what=what, who=who, due_on=due_on, created_by=by, created_at=moment
        )
        flag.state = Flag.State.ACTION_PLANNED
        flag.acknowledged_at = flag.acknowledged_at or moment
        flag.save(update_fields=["state", "acknowledged_at"])
        flag_event_write(
            flag,
            FlagEvent.Kind.ACTION_PLANNED,
            from_state=before,
            now=moment,
            why=f"{what} — {who}, by {due_on:%d %b %Y}",  # the English fallback; pages word ``data``
            by=by,
            data={"action": action.pk, "what": what, "who": who, "due_on": due_on.isoformat()},
        )
    return action


def flag_resolve(*, flag_id: int, by: Person, note: str, now: datetime | None = None) -> Flag:
    """Resolve by hand, with a note. If the decline is seen again later, the flag is reopened."""
    moment = now or timezone.now()
    note = _required(note, "why it is resolved")
    with transaction.atomic():
        flag = _locked(flag_id, by)
        if flag.state == Flag.State.RESOLVED:
            return flag
        if flag.state not in (Flag.State.OPEN, Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED):
            raise FlagTransitionError(f"A {flag.get_state_display().lower()} flag cannot be resolved.")
        before = flag.state
        flag.state = Flag.State.RESOLVED
        flag.resolution = Flag.Resolution.BY_HAND
        flag.resolved_at = moment
        flag.clears = 0
        flag.save(update_fields=["state", "resolution", "resolved_at", "clears"])
        flag_event_write(flag, FlagEvent.Kind.RESOLVED, from_state=before, now=moment, why=note, by=by)
    return flag


def flag_reopen(*, flag_id: int, by: Person, reason: str, now: datetime | None = None) -> Flag:
    """A resolved flag back to open by a leader, with the reason (the problem is not over, or was resolved
    by mistake). The trend run's evidence stays as it was; the flag is open again as if just opened, so it
    can be acknowledged, acted on and escalated like any other."""
    moment = now or timezone.now()
    reason = _required(reason, "why it is reopened")
    with transaction.atomic():
        flag = _locked(flag_id, by)
        if flag.state != Flag.State.RESOLVED:
            raise FlagTransitionError(
                f"Only a resolved flag can be reopened; this one is {flag.get_state_display().lower()}."
            )
        newer = (
            Flag.objects.filter(team_id=flag.team_id, metric=flag.metric, state__in=Flag.ACTIVE_STATES)
            .exclude(pk=flag.pk)
            .exists()
        )
        if newer:
            raise FlagTransitionError(
                "A newer flag on this metric is already being followed; respond to that one instead."
            )
        flag.state = Flag.State.OPEN
        flag.opened_at = moment
        flag.acknowledged_at = None
        flag.resolved_at, flag.resolution = None, ""
        flag.reopen_count += 1
        flag.hits, flag.clears = PERSIST, 0
        flag.escalation_level, flag.escalated_at = 0, None
        flag.save()
        flag_event_write(
            flag,
            FlagEvent.Kind.REOPENED_BY_HAND,
            from_state=Flag.State.RESOLVED,
            now=moment,
            why=reason,
            by=by,
        )
    return flag
