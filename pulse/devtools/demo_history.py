"""Twelve weeks of history for the demo organisation Acme, made through the real services.

``demo_history_create()`` gives ``make run`` something to show. Acme's demo comes with three schedules
(``surveys.services.demo``: Platform and Product weekly, Data fortnightly). For the twelve weeks before
today, each round those schedules would have run and closed is

1. opened with ``surveys.services.rounds.round_open`` (frozen roster, invitations, sealed tokens),
2. answered through ``surveys.services.answering.response_submit`` by most of the invited people, with
   seeded random answers around a per-team curve, at a moment inside the round's window,
3. closed with ``round_close`` (ballots unsealed, counted and deleted), aggregated with
   ``pulse.services.aggregation.round_aggregate``, and evaluated with ``pulse.services.trends.trend_run``,

in the order the minute tick would have done it. The curves tell two stories:

* **SRE Americas declines** (Platform's weekly schedule): burnout and workload rise week after week, so
  trend flags open with their one-sentence explanations; the team answers at about 95%, so no round of
  it is withheld. Lena, the demo leader, leads Platform and sees them.
* **Payments recovers after an action** (Product's weekly schedule): its burnout crosses the cut-off for
  four weeks, the flag opens, its leader Olivia Chen acknowledges it the next day and plans an action,
  and two evaluations back within bounds resolve it automatically as a recovery.

Erik Engel, who heads Engineering, sees both stories side by side on Engineering's roll-up. About a third
of the people of the schedules that ask for a comment leave one; the first of each round pastes markup,
which the pages show as text.

Every other team stays steady with realistic noise; about 15% of people skip a round, so a small team
sometimes falls below k and its numbers are withheld, as they would be. Deterministic (one seed).
The schedules' start dates move back to the first history round, so the story is consistent.

Idempotent: if any of those rounds exists already (the history was made, or the tick has been running
these schedules for weeks), nothing happens. The history's invitation emails are skipped and its flag
notifications summed up, so starting the demo does not mail the past: each leader gets at most one
digest, of the flags still open (``notifications_collapse_history``), and no flag escalates before it has
been open a whole escalation period in real time (``pulse.services.escalation``); its rounds are marked as
summarised, so no team is mailed the results of the past (``team_summaries_skip_history``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from pulse.models import Flag
from pulse.services.aggregation import round_aggregate
from pulse.services.flags import flag_acknowledge, flag_action_plan
from pulse.services.notifications import notifications_collapse_history
from pulse.services.team_results import team_summaries_skip_history
from pulse.services.trends import trend_run
from surveys import cadence
from surveys.models import (
    Invitation,
    Membership,
    Organisation,
    Person,
    Round,
    Schedule,
)
from surveys.sealing import KeyRing, open_token
from surveys.services.answering import response_submit
from surveys.services.counting import round_close
from surveys.services.demo import DEMO_ORGANISATION, demo_create
from surveys.services.emails import emails_skip_remaining
from surveys.services.rounds import round_open, schedule_spec

logger = logging.getLogger(__name__)

WEEKS = 12
# With this seed the steady teams stay unflagged. (Other seeds sometimes give one of them a borderline
# trend flag at q = 0.10: the false discoveries a 10% false discovery rate allows.)
SEED = 4
DEFAULT_ANSWER_RATE = 0.85
ANSWER_RATE = {"sre-americas": 0.95, "payments": 0.92}


@dataclass(frozen=True)
class Targets:
    """A team's mean answers in one week: burnout and workload on 1–5, COPSOQ and WHO-5 on 0–100."""

    burnout: float = 2.1
    workload: float = 3.1
    demands: float = 52.0
    who5: float = 62.0


def targets(slug: str, week: int) -> Targets:
    """The story of each team, week 0 … 11."""
    if slug == "sre-americas":
        return Targets(
            burnout=1.8 + 0.2 * week,
            workload=3.0 + 0.12 * week,
            demands=50 + 2.4 * week,
            who5=66 - 2.0 * week,
        )
    if slug == "payments":
        strained = 3 <= week <= 6
        return Targets(
            burnout=3.4 if strained else 2.1,
            workload=4.0 if strained else 3.1,
            demands=70.0 if strained else 52.0,
            who5=52.0 if strained else 62.0,
        )
    return Targets()


def _item(rng: random.Random, mean: float, sd: float, low: int, high: int, step: int = 1) -> int:
    value = round(rng.gauss(mean, sd) / step) * step
    return int(min(high, max(low, value)))


# What some people write in the optional comment, in this order within a round: the first pastes markup,
# which every page shows as the text it is (escaped), never as HTML.
COMMENTS = (
    'The incident template still says "<b>TODO: owner</b>" & nobody knows who fills it in.',
    "On-call was quiet this week, thanks for the new runbooks.",
    "Too many meetings on Thursdays.",
    "Pairing on the migration helped a lot.",
    "Handover notes between time zones keep getting lost.",
)
COMMENT_RATE = 0.3


def comment_for(rng: random.Random, instruments: set[str], written: int) -> dict[str, str]:
    """Sometimes a comment (the round's ``written``-th), drawn from a random stream of its own so that the
    answers, and so the flags, are those of the history without comments."""
    if "comment" not in instruments or rng.random() >= COMMENT_RATE:
        return {}
    return {"comment_1": COMMENTS[written % len(COMMENTS)]}


def answers_for(rng: random.Random, instruments: set[str], goal: Targets) -> dict[str, int]:
    """One person's answers, by question key, drawn around the team's targets."""
    answers: dict[str, int] = {}
    if "burnout1" in instruments:
        answers["burnout1_1"] = _item(rng, goal.burnout, 0.75, 1, 5)
    if "workload1" in instruments:
        answers["workload1_1"] = _item(rng, goal.workload, 0.7, 1, 5)
    if "copsoq_demands" in instruments:
        for number in range(1, 5):
            answers[f"copsoq_demands_{number}"] = _item(rng, goal.demands, 18, 0, 100, step=25)
    if "who5" in instruments:
        for number in range(1, 6):
            answers[f"who5_{number}"] = _item(rng, goal.who5 / 20, 0.9, 0, 5)
    return answers


def history_openings(schedule: Schedule, now: datetime) -> list[tuple[datetime, datetime]]:
    """(opens_at, closes_at) of the schedule's last rounds that would have closed by ``now`` within twelve
    weeks (12 weekly rounds, 6 fortnightly ones), as if it had been running since then."""
    span = timedelta(weeks=WEEKS + schedule.every_n_weeks)
    spec = dataclasses.replace(schedule_spec(schedule), start_date=(now - span - timedelta(days=1)).date())
    zone = schedule.effective_time_zone
    found = []
    for opens_at in cadence.openings_between(spec, now - span, now):
        closes_at = cadence.round_closes_at(opens_at, schedule.open_for, zone)
        if closes_at < now:
            found.append((opens_at, closes_at))
    return found[-(WEEKS // schedule.every_n_weeks) :]


def demo_history_create(*, now: datetime | None = None) -> bool:
    """Create the demo's twelve weeks of history. Returns False when there is nothing to do."""
    moment = now or timezone.now()
    demo_create()
    acme = Organisation.objects.get(name=DEMO_ORGANISATION)
    schedules = list(Schedule.objects.filter(organisation=acme).select_related("team__organisation"))
    plan = {schedule: history_openings(schedule, moment) for schedule in schedules}
    made = Q()
    for schedule, openings in plan.items():
        made |= Q(schedule=schedule, opens_at__in=[opens_at for opens_at, _closes_at in openings])
    if not any(plan.values()) or Round.objects.filter(made).exists():
        return False
    rng = random.Random(SEED)
    comments = random.Random(SEED + 1)
    ring = KeyRing.from_settings()
    slug_of = dict(acme.teams.values_list("pk", "slug"))
    payments_leader = (
        Membership.objects.current()
        .filter(team__organisation=acme, team__slug="payments", role=Membership.Role.LEADER)
        .select_related("person")
        .first()
    )
    rounds: list[Round] = []
    with transaction.atomic():
        for schedule, openings in plan.items():
            if openings:
                first_day = openings[0][0].astimezone(ZoneInfo(schedule.effective_time_zone)).date()
                Schedule.objects.filter(pk=schedule.pk, starts_on__gt=first_day).update(starts_on=first_day)
        timeline = sorted(
            (opens_at, closes_at, schedule, (opens_at - openings[0][0]).days // 7)
            for schedule, openings in plan.items()
            for opens_at, closes_at in openings
        )
        for opens_at, closes_at, schedule, week in timeline:
            round_ = round_open(schedule=schedule, opens_at=opens_at, closes_at=closes_at)
            rounds.append(round_)
            keys = {instrument.key for instrument in round_.instruments.all()}
            written = 0  # comments in this round so far
            for invitation in Invitation.objects.filter(round=round_).order_by("person_id"):
                slug = slug_of[invitation.teams[0]] if invitation.teams else ""
                if rng.random() >= ANSWER_RATE.get(slug, DEFAULT_ANSWER_RATE):
                    continue
                assert invitation.sealed_token is not None
                token = open_token(ring, bytes(invitation.sealed_token))
                answered_at = min(
                    opens_at + timedelta(hours=rng.uniform(1, 60)), closes_at - timedelta(minutes=1)
                )
                comment = comment_for(comments, keys, written)
                written += len(comment)
                response_submit(
                    token=token,
                    answers={**answers_for(rng, keys, targets(slug, week)), **comment},
                    now=answered_at,
                )
            round_close(round_id=round_.pk, now=closes_at + timedelta(minutes=1))
            round_aggregate(round_id=round_.pk, now=closes_at + timedelta(minutes=2))
            trend_run(organisation_id=acme.pk, now=closes_at + timedelta(minutes=3))
            if payments_leader is not None:
                _leader_acts(payments_leader.person, closes_at + timedelta(days=1))
        # The past is not news: each leader gets at most one digest of the flags still open, nothing
        # else of it is sent, and the invitation emails are moot.
        notifications_collapse_history(organisation_id=acme.pk, before=moment, now=moment)
        emails_skip_remaining(round_ids=[round_.pk for round_ in rounds])
        team_summaries_skip_history(round_ids=[round_.pk for round_ in rounds], now=moment)
    logger.info("demo history: %s rounds for %s", len(rounds), acme.name)
    return True


def _leader_acts(leader: Person, at: datetime) -> None:
    """Payments' leader answers each flag of her team the day after it opens: a note, then an action."""
    for flag in Flag.objects.filter(
        team__slug="payments", team__organisation_id=leader.organisation_id, state=Flag.State.OPEN
    ):
        flag_acknowledge(
            flag_id=flag.pk,
            by=leader,
            note="Seen. The release crunch is on us; talking to the team today.",
            now=at,
        )
        flag_action_plan(
            flag_id=flag.pk,
            by=leader,
            what="Move the release date by two weeks and pause on-call swaps until it ships.",
            who="Olivia Chen with the product lead",
            due_on=(at + timedelta(days=14)).date(),
            now=at,
        )
