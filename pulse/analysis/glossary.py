"""The words a flag's details use, each said plainly once, with its source (docs/science.md §3.11).

The glossary page shows every term; a flag's details link each statistic to its entry, so a leader is one
click from what "q" or "CUSUM" means and never needs it to understand the headline. Names and meanings
are marked for the catalogue (``pulse.analysis.catalogue``) and translated where they are shown; the
sources are cited as published. Pure, no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulse.analysis.catalogue import gettext_noop
from pulse.analysis.rules import FlagKind


@dataclass(frozen=True)
class Term:
    slug: str  # the anchor on the glossary page: /help/glossary/#<slug>
    name: str
    meaning: str
    source: str


TERMS: tuple[Term, ...] = (
    Term(
        "trend",
        gettext_noop("Worsening trend (Mann–Kendall test)"),
        gettext_noop(
            "Pulse compares every pair of rounds in the window: is the later one worse or better? When many "
            "more pairs worsen than chance would give, and the change per round is large enough to matter, "
            "the series has a worsening trend. The test assumes nothing about the shape of the change or how "
            "answers are spread."
        ),
        "Mann (1945); Kendall (1975); docs/science.md §3.2 and §3.5.",
    ),
    Term(
        "slope",
        gettext_noop("Change per round (Sen's slope) and its interval"),
        gettext_noop(
            # xgettext:no-python-format
            "The typical change from one round to the next: the median of the slopes between every pair of "
            "rounds, so one unusual round barely moves it. The 95% interval beside it is the range the true "
            "change per round lies in, 19 times out of 20."
        ),
        "Sen (1968); Gilbert (1987) §16.5; docs/science.md §3.3.",
    ),
    Term(
        "q",
        gettext_noop("q (false discovery rate)"),
        gettext_noop(
            "Pulse tests every team and metric at once, so a few series would look like trends by chance "
            "alone. q is the test's p-value adjusted for how many series were tested: a flag needs q ≤ 0.10, "
            "which means that of all the trends flagged together, at most about one in ten is expected to be "
            "chance."
        ),
        "Benjamini and Hochberg (1995); docs/science.md §3.4.",
    ),
    Term(
        "shift",
        gettext_noop("Sudden shift (CUSUM)"),
        gettext_noop(
            "A running total of how far each round is from the team's usual level, in standard errors, less "
            "a small allowance for noise. It stays near zero while nothing changes and grows fast after a "
            "sudden change; Pulse calls it a shift when the total passes 5 and the latest round is itself "
            "clearly worse."
        ),
        "Page (1954); NIST/SEMATECH e-Handbook §6.3.2.3; docs/science.md §3.6.",
    ),
    Term(
        "baseline",
        gettext_noop("The team's usual level (baseline)"),
        gettext_noop(
            "The mean of the earlier half of the rounds Pulse looks at (at least four): what the team's "
            "results were before any change, against which a sudden shift is measured."
        ),
        "docs/science.md §3.6.",
    ),
    Term(
        "cutoff",
        gettext_noop("Cut-off"),
        gettext_noop(
            "The level at which an instrument's authors count a result as high burnout or poor wellbeing: 50 "
            "on the Copenhagen Burnout Inventory (a convention of its authors, not a diagnosis), 50 or below "
            "on the WHO-5, 3 or more on the single-item burnout measure. A team mean beyond it is a reason "
            "on its own, even without a trend."
        ),
        "Kristensen et al. (2005); Topp et al. (2015); Rohland et al. (2004); docs/science.md §3.7.",
    ),
    Term(
        "severity",
        gettext_noop("Alert, warning, watch"),
        gettext_noop(
            "Alert: worsening and beyond the instrument's cut-off. Warning: worsening, not beyond the "
            "cut-off. Watch: beyond the cut-off without signs of worsening, or a falling response rate."
        ),
        "docs/science.md §3.8.",
    ),
    Term(
        "two-evaluations",
        gettext_noop("Two evaluations"),
        gettext_noop(
            "A reason must hold after two rounds in a row before anyone is told, and a flag recovers on its "
            "own only after two rounds back within bounds: one round alone is too noisy to act on."
        ),
        "docs/science.md §3.9.",
    ),
    Term(
        "noise",
        gettext_noop("Within the noise (minimum detectable change)"),
        gettext_noop(
            # xgettext:no-python-format
            "The smallest difference between two rounds that chance alone exceeds only 5% of the time, given "
            "how many people answered and how much their answers vary. The shaded band on a chart is this "
            "wide; a change inside it may be chance."
        ),
        "docs/science.md §3.10.",
    ),
    Term(
        "withheld",
        gettext_noop("Withheld"),
        gettext_noop(
            "A result from fewer people than the organisation's minimum group size is never shown, and "
            "neither is one that would let someone work out a smaller group's result by subtraction. A "
            "withheld round is a gap in the chart; it is never filled in."
        ),
        "Hundepool et al. (2012) ch. 4–5; docs/science.md §4.1 and §4.3.",
    ),
    Term(
        "left-out",
        gettext_noop("Left out (response rate collapsed)"),
        gettext_noop(
            "A round in which the team's response rate fell below half its usual rate is left out of the "
            "trend: the few who answered may not speak for the team."
        ),
        "docs/science.md §3.1.",
    ),
)

TERMS = (
    *TERMS,
    Term(
        "sre-threshold",
        gettext_noop("On-call limits (Google SRE book)"),
        gettext_noop(
            # xgettext:no-python-format
            "Google's Site Reliability Engineering book sets limits for a healthy on-call rotation: no one "
            "on call more than 25% of their time, at most 2 incidents in a 12-hour shift, and at least 8 "
            "people in a one-site rotation (6 per site across two sites). Pulse holds each week of the "
            "team's load against them."
        ),
        "Beyer, Jones, Petoff and Murphy (eds.), Site Reliability Engineering, O'Reilly 2016, ch. 11; "
        "docs/oncall.md §3.",
    ),
    Term(
        "concentration",
        gettext_noop("Concentration of pages"),
        gettext_noop(
            "The share of a week's interruptions carried by the person with the most of them. Pulse shows "
            "it only when the rotation has at least the organisation's minimum group size, and never says "
            "who it is."
        ),
        "docs/oncall.md §2.6; docs/science.md §3.14.",
    ),
    Term(
        "joint",
        gettext_noop("On-call load and wellbeing together"),
        gettext_noop(
            "A wellbeing or burnout flag also says when the same team's on-call load rose over the same "
            "weeks, with both numbers. It is a co-occurrence, not a cause, and load is never compared with "
            "anyone's answers."
        ),
        "docs/science.md §3.14.",
    ),
)

TERMS_BY_SLUG = {term.slug: term for term in TERMS}

#: The glossary entry that says what each reason of a flag means.
REASON_TERM = {
    FlagKind.TREND: "trend",
    FlagKind.SHIFT: "shift",
    FlagKind.CUTOFF: "cutoff",
    FlagKind.THRESHOLD: "sre-threshold",
    FlagKind.CONCENTRATION: "concentration",
    FlagKind.JOINT: "joint",
}
REASON_NAME = {
    FlagKind.TREND: gettext_noop("Worsening trend"),
    FlagKind.SHIFT: gettext_noop("Sudden shift"),
    FlagKind.CUTOFF: gettext_noop("Beyond the instrument's cut-off"),
    FlagKind.THRESHOLD: gettext_noop("Beyond the SRE book's on-call limit"),
    FlagKind.CONCENTRATION: gettext_noop("One person carries most of the pages"),
    FlagKind.JOINT: gettext_noop("On-call load rose at the same time"),
}
