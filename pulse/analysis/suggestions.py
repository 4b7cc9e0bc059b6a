"""What a leader might do about a flag: short suggestions with their sources (docs/science.md §3.12).

They are starting points, not prescriptions: the action form offers them and the leader writes their own.
Which ones a flag gets depends on what its metric measures (burnout and workload, wellbeing, the response
rate), read from the instrument's key; a custom instrument's scale gets the general ones. Titles and texts
are marked for the catalogue (``pulse.analysis.catalogue``) and translated where they are shown; a source
is cited as published. Pure, no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulse.analysis.catalogue import gettext_noop
from pulse.analysis.metrics import Metric


@dataclass(frozen=True)
class Suggestion:
    key: str
    title: str
    text: str
    source: str


ON_CALL = Suggestion(
    "on_call",
    gettext_noop("Review the team's on-call load"),
    gettext_noop(
        # xgettext:no-python-format
        "Look at pages, out-of-hours interruptions and how on-call time is shared in your paging tool. The "
        "SRE book's limits: at most 25% of anyone's time on call, and at most 2 incidents per 12-hour shift."
    ),
    "Beyer et al. (2016), Site Reliability Engineering, ch. 11 “Being On-Call”.",
)
TIME_OFF = Suggestion(
    "time_off",
    gettext_noop("Make sure people take time off"),
    gettext_noop(
        "Check that everyone has had a real break lately, and arrange cover so they can. Rest helps, but its "
        "effect fades within weeks, so regular breaks matter more than one long one."
    ),
    "de Bloom et al. (2009), Journal of Occupational Health 51(1).",
)
WORKLOAD = Suggestion(
    "workload",
    gettext_noop("Review the workload together"),
    gettext_noop(
        "Ask the team what work could be dropped, deferred or automated, and agree priorities with whoever "
        "sets them. Workload is the area of work life most closely tied to exhaustion."
    ),
    "Maslach and Leiter (2016), World Psychiatry 15(2); Beyer et al. (2016) ch. 5 “Eliminating Toil”.",
)
ONE_TO_ONES = Suggestion(
    "one_to_ones",
    gettext_noop("Hold a round of 1:1s"),
    gettext_noop(
        "Ask each person what makes work heavy right now and what would help. Do not ask what they answered "
        "in the check-in: the answers are anonymous, and asking undoes that."
    ),
    "WHO (2022), Guidelines on mental health at work, recommendation on manager training.",
)
SUPPORT = Suggestion(
    "support",
    gettext_noop("Point people to support"),
    gettext_noop(
        "Remind the team, to everyone at once, of the support the organisation offers (an employee "
        "assistance programme, occupational health) and how to reach it in confidence."
    ),
    "WHO (2022), Guidelines on mental health at work.",
)
SHOW_ACTION = Suggestion(
    "show_action",
    gettext_noop("Tell the team what came of the last results"),
    gettext_noop(
        "People stop answering when nothing visibly follows. Share the team's results and what you are doing "
        "about them, then ask again."
    ),
    "Kraut (2006), Getting Action from Organizational Surveys.",
)

_BURNOUT_AND_WORKLOAD = (ON_CALL, TIME_OFF, WORKLOAD, ONE_TO_ONES)
_WELLBEING = (ONE_TO_ONES, TIME_OFF, WORKLOAD, SUPPORT)
_RESPONSE_RATE = (SHOW_ACTION, ONE_TO_ONES)
_GENERAL = (ONE_TO_ONES, WORKLOAD, TIME_OFF)

#: Instruments of the default library by what they measure (``surveys.library``).
_BY_INSTRUMENT = {
    "burnout1": _BURNOUT_AND_WORKLOAD,
    "cbi_work": _BURNOUT_AND_WORKLOAD,
    "cbi_personal": _BURNOUT_AND_WORKLOAD,
    "copsoq_demands": _BURNOUT_AND_WORKLOAD,
    "workload1": _BURNOUT_AND_WORKLOAD,
    "who5": _WELLBEING,
}

ALL: tuple[Suggestion, ...] = (ON_CALL, TIME_OFF, WORKLOAD, ONE_TO_ONES, SUPPORT, SHOW_ACTION)
BY_KEY = {suggestion.key: suggestion for suggestion in ALL}


def suggestions_for(metric: str) -> tuple[Suggestion, ...]:
    """The suggestions for a flag on ``metric`` (a ``TeamAggregate.metric`` key), most relevant first."""
    parsed = Metric.parse(metric)
    if parsed is None:
        return _GENERAL
    if parsed.kind == "response_rate":
        return _RESPONSE_RATE
    return _BY_INSTRUMENT.get(parsed.instrument_key or "", _GENERAL)
