"""How the on-call load reasons are worded: the load entries of ``pulse.analysis.sentences``' registries.

A load flag's data (``said``, built by ``pulse.analysis.load``) holds numbers only: the measure's key, its
first and latest weekly values, the trend's slope and interval, the CUSUM, the Google SRE breaches and the
busiest person's share, ISO dates. These functions word it for one reader with a
``pulse.analysis.sentences.Words`` (the reader's catalogue and formats), like the survey reasons. Each
message is a whole clause with named placeholders, called as ``w.gettext(...)`` / ``w.ngettext(...)`` /
``w.pgettext(...)`` with a literal so that ``makemessages`` extracts it.

It imports nothing of ``pulse.analysis.sentences`` at run time (that module imports this one to register
the entries; the joint headline imports it when called), only its types; the headline's movement is the
survey headline's own (``pulse.analysis.headline_words``). Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pulse.analysis.headline_words import MovementWords, movement_headline

if TYPE_CHECKING:
    from pulse.analysis.sentences import Said, Words

#: How a measure's values are written: decimals, and whether it is a percentage.
_FORMAT = {
    "sleep_interruptions": (0, False),
    "interruptions": (0, False),
    "max_on_call_share": (0, True),
    "incidents_per_shift": (1, False),
    "rotation_size": (0, False),
    "concentration": (0, True),
}


def measure_name(w: Words, key: str) -> str:
    """The measure's name at the start of a sentence."""
    if key == "sleep_interruptions":
        return w.pgettext("an on-call measure", "The number of sleep-hour interruptions")
    if key == "interruptions":
        return w.pgettext("an on-call measure", "The number of interruptions")
    if key == "max_on_call_share":
        return w.pgettext("an on-call measure", "The most time anyone spent on call")
    if key == "incidents_per_shift":
        return w.pgettext("an on-call measure", "The rate of incidents per 12-hour shift")
    if key == "rotation_size":
        return w.pgettext("an on-call measure", "The rotation")
    return w.pgettext("an on-call measure", "The busiest person's share of the pages")


def measure_inside(w: Words, key: str) -> str:
    """The measure's name inside a sentence ("… while sleep-hour interruptions rose …")."""
    if key == "sleep_interruptions":
        return w.pgettext("an on-call measure, inside a sentence", "the number of sleep-hour interruptions")
    if key == "interruptions":
        return w.pgettext("an on-call measure, inside a sentence", "the number of interruptions")
    if key == "max_on_call_share":
        return w.pgettext("an on-call measure, inside a sentence", "the most time anyone spent on call")
    return w.pgettext("an on-call measure, inside a sentence", "the rate of incidents per 12-hour shift")


def quantity(w: Words, key: str, value: float) -> str:
    """ "11 a week", "40%", "2.5", "6 people": a load value with its unit."""
    decimals, percent = _FORMAT.get(key, (0, False))
    number = w.number(value, decimals)
    if percent:
        return w.fill(w.pgettext("a percentage", "%(number)s%%"), {"number": number})
    if key in ("sleep_interruptions", "interruptions"):
        return w.fill(w.pgettext("interruptions", "%(number)s a week"), {"number": number})
    if key == "rotation_size":
        return w.fill(w.ngettext("%(number)s person", "%(number)s people", round(value)), {"number": number})
    return number


def _percent(w: Words, fraction: float) -> str:
    return w.fill(w.pgettext("a percentage", "%(number)s%%"), {"number": w.number(100 * fraction, 0)})


def _signed(w: Words, value: float, decimals: int) -> str:
    rounded = round(value, decimals)
    if rounded == 0:
        return w.number(0.0, decimals)
    return ("+" if rounded > 0 else "−") + w.number(abs(rounded), decimals)


def weeks_span(w: Words, said: Said) -> str:
    window, usable = int(said["window"]), int(said["usable"])
    if window == usable:
        return w.fill(
            w.ngettext("the last %(count)d week", "the last %(count)d weeks", usable), {"count": usable}
        )
    return w.fill(
        w.ngettext(
            "the last %(window)d week (%(usable)d with a value)",
            "the last %(window)d weeks (%(usable)d with a value)",
            window,
        ),
        {"window": window, "usable": usable},
    )


def _q(w: Words, q: float) -> str:
    if q < 0.01:
        return w.fill(w.gettext("q < %(limit)s"), {"limit": w.number(0.01, 2)})
    return w.fill(w.gettext("q = %(q)s"), {"q": w.number(q, 2)})


# ------------------------------------------------------------------------------------------ the reasons


def load_trend_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    key = str(said["measure"])
    decimals, percent = _FORMAT.get(key, (0, False))
    trend = said["trend"]
    slope_decimals = decimals + 1
    values = {
        "measure": measure_name(w, key),
        "first": quantity(w, key, float(said["first"])),
        "last": quantity(w, key, float(said["last"])),
        "span": weeks_span(w, said),
        "slope": _signed(w, float(trend["slope"]), slope_decimals),
        "low": _signed(w, float(trend["low"]), slope_decimals),
        "high": _signed(w, float(trend["high"]), slope_decimals),
        "q": _q(w, float(trend["q"])),
        "confidence": w.fill(
            w.pgettext("a percentage", "%(number)s%%"), {"number": w.number(trend["confidence"], 0)}
        ),
    }
    if percent:
        template = (
            w.gettext(
                "%(measure)s rose from %(first)s to %(last)s over %(span)s (%(slope)s points per week, "
                "%(confidence)s CI %(low)s to %(high)s; %(q)s; Mann–Kendall test with Sen's slope)."
            )
            if reason["rising"]
            else w.gettext(
                "%(measure)s fell from %(first)s to %(last)s over %(span)s (%(slope)s points per week, "
                "%(confidence)s CI %(low)s to %(high)s; %(q)s; Mann–Kendall test with Sen's slope)."
            )
        )
    else:
        template = (
            w.gettext(
                "%(measure)s rose from %(first)s to %(last)s over %(span)s (%(slope)s per week, "
                "%(confidence)s CI %(low)s to %(high)s; %(q)s; Mann–Kendall test with Sen's slope)."
            )
            if reason["rising"]
            else w.gettext(
                "%(measure)s fell from %(first)s to %(last)s over %(span)s (%(slope)s per week, "
                "%(confidence)s CI %(low)s to %(high)s; %(q)s; Mann–Kendall test with Sen's slope)."
            )
        )
    return w.fill(template, values)


def load_shift_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    key = str(said["measure"])
    count = int(reason["baseline_weeks"])
    limit = float(reason["limit"])
    values = {
        "measure": measure_name(w, key),
        "baseline": quantity(w, key, float(reason["baseline"])),
        "count": count,
        "last": quantity(w, key, float(said["last"])),
        "date": w.day(str(said["latest"])),
        "cusum": w.number(float(reason["cusum"]), 1),
        "limit": w.number(limit, 0 if limit == int(limit) else 1),
    }
    template = (
        w.ngettext(
            "%(measure)s shifted up from a baseline of %(baseline)s (its first %(count)d week here) to "
            "%(last)s in the week of %(date)s; the CUSUM stands at %(cusum)s standard deviations between "
            "weeks, past its limit of %(limit)s.",
            "%(measure)s shifted up from a baseline of %(baseline)s (its first %(count)d weeks here) to "
            "%(last)s in the week of %(date)s; the CUSUM stands at %(cusum)s standard deviations between "
            "weeks, past its limit of %(limit)s.",
            count,
        )
        if reason["up"]
        else w.ngettext(
            "%(measure)s shifted down from a baseline of %(baseline)s (its first %(count)d week here) to "
            "%(last)s in the week of %(date)s; the CUSUM stands at %(cusum)s standard deviations between "
            "weeks, past its limit of %(limit)s.",
            "%(measure)s shifted down from a baseline of %(baseline)s (its first %(count)d weeks here) to "
            "%(last)s in the week of %(date)s; the CUSUM stands at %(cusum)s standard deviations between "
            "weeks, past its limit of %(limit)s.",
            count,
        )
    )
    return w.fill(template, values)


def _breach_sentence(w: Words, breach: Mapping[str, Any], date: str) -> str:
    code = breach["code"]
    measured, threshold = float(breach["measured"]), float(breach["threshold"])
    values: dict[str, object] = {"date": date, "source": w.term(str(breach["source"]))}
    if code == "time_on_call":
        # Over the rotation's cycle (docs/oncall.md §2.3); a breach stored without its weeks was one week's.
        weeks = int(breach.get("weeks") or 1)
        values.update(measured=_percent(w, measured), limit=_percent(w, threshold), weeks=weeks)
        return w.fill(
            w.ngettext(
                "In the week of %(date)s someone on the rota was on call %(measured)s of the week, above the "
                "limit of %(limit)s of an engineer's time (%(source)s).",
                "Over the %(weeks)d weeks to the week of %(date)s someone on the rota was on call "
                "%(measured)s of the time, above the limit of %(limit)s of an engineer's time (%(source)s).",
                weeks,
            ),
            values,
        )
    if code == "incidents_per_shift":
        values.update(measured=w.number(measured, 1), limit=w.number(threshold, 0))
        return w.fill(
            w.gettext(
                "In the week of %(date)s there were %(measured)s incidents per 12-hour shift, above the "
                "limit of %(limit)s per shift (%(source)s)."
            ),
            values,
        )
    sites = int(breach.get("sites") or 1)
    values.update(measured=w.number(measured, 0), limit=w.number(threshold, 0), sites=sites)
    if sites <= 1:
        return w.fill(
            w.gettext(
                "In the week of %(date)s the rotation had %(measured)s people at one site; a one-site "
                "rotation needs at least %(limit)s (%(source)s)."
            ),
            values,
        )
    return w.fill(
        w.gettext(
            "In the week of %(date)s the smallest of the rotation's %(sites)d sites had %(measured)s people; "
            "each site needs at least %(limit)s (%(source)s)."
        ),
        values,
    )


def threshold_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    date = w.day(str(said["latest"]))
    return w.join(" ", [_breach_sentence(w, breach, date) for breach in reason["breaches"]])


def busiest_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    return w.fill(
        w.gettext(
            "Over the rotation's last four weeks up to the week of %(date)s, one person carried %(share)s "
            "of the team's interruptions, more than half. Pulse does not say who; the team's own on-call "
            "tool can."
        ),
        {"date": w.day(str(said["latest"])), "share": _percent(w, float(reason["share"]))},
    )


def joint_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    """On a survey flag: the same team's load rose over the same weeks (``said`` is the survey's)."""
    from pulse.analysis.sentences import value_text  # run time: that module imports this one

    key = str(reason["measure"])
    template = (
        w.gettext(
            "Between %(since)s and %(until)s, %(load)s rose from %(load_first)s to %(load_last)s while "
            "%(survey)s rose from %(survey_first)s to %(survey_last)s. Both happened in this team over the "
            "same weeks: a co-occurrence, not proof that one caused the other; Pulse never links the pager "
            "to anyone's answers."
        )
        if reason["survey_rising"]
        else w.gettext(
            "Between %(since)s and %(until)s, %(load)s rose from %(load_first)s to %(load_last)s while "
            "%(survey)s fell from %(survey_first)s to %(survey_last)s. Both happened in this team over the "
            "same weeks: a co-occurrence, not proof that one caused the other; Pulse never links the pager "
            "to anyone's answers."
        )
    )
    return w.fill(
        template,
        {
            "since": w.day(str(reason["since"])),
            "until": w.day(str(reason["until"])),
            "load": measure_inside(w, key),
            "load_first": quantity(w, key, float(reason["load_first"])),
            "load_last": quantity(w, key, float(reason["load_last"])),
            "survey": metric,
            "survey_first": value_text(w, said, float(said["first"])),
            "survey_last": value_text(w, said, float(said["last"])),
        },
    )


# ----------------------------------------------------------------------------------------- the headline


def _breach_clause(w: Words, breach: Mapping[str, Any]) -> str:
    code = breach["code"]
    if code == "time_on_call":
        weeks = int(breach.get("weeks") or 1)  # over the rotation's cycle; stored without: one week
        return w.fill(
            w.ngettext(
                "someone on the rota was on call %(measured)s of the week, above the SRE book's limit of "
                "%(limit)s",
                "someone on the rota was on call %(measured)s of the last %(weeks)d weeks, above the SRE "
                "book's limit of %(limit)s",
                weeks,
            ),
            {
                "measured": _percent(w, float(breach["measured"])),
                "limit": _percent(w, float(breach["threshold"])),
                "weeks": weeks,
            },
        )
    if code == "incidents_per_shift":
        return w.fill(
            w.gettext(
                "incidents per 12-hour shift were %(measured)s, above the SRE book's limit of %(limit)s"
            ),
            {
                "measured": w.number(float(breach["measured"]), 1),
                "limit": w.number(float(breach["threshold"]), 0),
            },
        )
    if code == "rotation_size":
        return w.fill(
            w.gettext("the rotation has %(measured)s people, below the SRE book's minimum of %(limit)s"),
            {
                "measured": w.number(float(breach["measured"]), 0),
                "limit": w.number(float(breach["threshold"]), 0),
            },
        )
    return w.fill(
        w.gettext("one person carried %(share)s of the team's interruptions"),
        {"share": _percent(w, float(breach["measured"]))},
    )


def load_headline(headline: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    """What happened, in a leader's words: the movement, then the first breach, or the breach alone. The
    movement is worded by ``pulse.analysis.headline_words``, as the survey headline's is, in weeks."""
    key = str(said["measure"])
    values = {
        "measure": measure_name(w, key),
        "first": quantity(w, key, float(said["first"])),
        "last": quantity(w, key, float(said["last"])),
        "date": w.day(str(said["latest"])),
    }
    weeks = MovementWords(
        risen=w.gettext("%(measure)s has risen over %(span)s, from %(first)s to %(last)s"),
        fallen=w.gettext("%(measure)s has fallen over %(span)s, from %(first)s to %(last)s"),
        jump=w.gettext(", with a sudden jump in the week of %(date)s"),
        drop=w.gettext(", with a sudden drop in the week of %(date)s"),
        jumped=w.gettext(
            "%(measure)s jumped to %(last)s in the week of %(date)s, away from the team's usual level "
            "of %(baseline)s"
        ),
        dropped=w.gettext(
            "%(measure)s dropped to %(last)s in the week of %(date)s, away from the team's usual level "
            "of %(baseline)s"
        ),
    )

    def breach(lead: str) -> str | None:
        found = headline.get("breach")
        if not found:
            return None
        clause = _breach_clause(w, found)
        if lead:
            return w.fill(w.gettext("%(lead)s, and %(breach)s."), {"lead": lead, "breach": clause})
        return w.fill(
            w.gettext("In the week of %(date)s, %(breach)s."), {"date": values["date"], "breach": clause}
        )

    return movement_headline(
        headline,
        w,
        values,
        weeks,
        span=lambda: weeks_span(w, said),
        baseline=lambda: quantity(w, key, float(headline["baseline"])),
        ending=breach,
    )


def survey_joint_headline(headline: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    """A survey headline, then what the team's load did over the same weeks."""
    from pulse.analysis.sentences import survey_headline  # run time: that module imports this one

    joint = headline["joint"]
    key = str(joint["measure"])
    after = w.fill(
        w.gettext("Over the same weeks, %(load)s rose from %(load_first)s to %(load_last)s."),
        {
            "load": measure_inside(w, key),
            "load_first": quantity(w, key, float(joint["load_first"])),
            "load_last": quantity(w, key, float(joint["load_last"])),
        },
    )
    return w.join(" ", [survey_headline(headline, said, w, metric), after])


def load_status(said: Said, w: Words, metric: str) -> str:
    """Where a load series stands, flagged or not."""
    key = str(said["measure"])
    return w.fill(
        w.gettext("%(measure)s was %(last)s in the week of %(date)s."),
        {
            "measure": measure_name(w, key),
            "last": quantity(w, key, float(said["last"])),
            "date": w.day(str(said["latest"])),
        },
    )


Worded = Callable[[Mapping[str, Any], "Said", "Words", str], str]

#: Entries of ``pulse.analysis.sentences.REASON_WORDS``, by the code a reason stores.
REASON_WORDS: dict[str, Worded] = {
    "load_trend": load_trend_words,
    "load_shift": load_shift_words,
    "threshold": threshold_words,
    "busiest": busiest_words,
    "joint": joint_words,
}

#: Entries of ``pulse.analysis.sentences.HEADLINE_WORDS``.
HEADLINE_WORDS: dict[str, Worded] = {"load": load_headline, "survey_joint": survey_joint_headline}
