"""The default instrument library as frozen, pure data (docs/science.md §1).

Item texts, option labels and scoring rules are reproduced verbatim from the sources cited on each
instrument (docs/science.md §1.1 lists them). German texts are included only where an official
German version exists and its wording could be checked (WHO-5); every other validated item has no German
text and falls back to English, visibly to admins, because a validated item is never machine-translated.
The German of ``workload1`` and ``comment`` is ours: they are our own, non-validated questions.
docs/languages.md §7 cites the German versions found for the CBI and COPSOQ and says why their items are
still shown in English (marked ``lang="en"`` on a German page).

A released version is immutable. Migration ``0003_default_library`` loads the versions it names from here,
and ``tests/surveys/test_library.py`` pins a fingerprint of each: to change wording, options or scoring,
add a new version (a new ``InstrumentDef`` with ``version + 1``) and a migration that loads it.
"""

from __future__ import annotations

from fractions import Fraction

from surveys.definitions import (
    CONVENTION,
    HIGHER_IS_BETTER,
    HIGHER_IS_WORSE,
    MEAN,
    SUM,
    TEXT,
    BandDef,
    InstrumentDef,
    OptionDef,
    QuestionDef,
    ScaleDef,
)

# --- shared option sets ---------------------------------------------------------------------------

# WHO-5 options: English from the WHO-5 (1998); German from the official German version (Psychiatric Research
# Unit, WHO Collaborating Centre in Mental Health, Frederiksborg General Hospital, 1998).
WHO5_OPTIONS = (
    OptionDef(5, {"en": "All of the time", "de": "Die ganze Zeit"}),
    OptionDef(4, {"en": "Most of the time", "de": "Meistens"}),
    OptionDef(3, {"en": "More than half of the time", "de": "Etwas mehr als die Hälfte der Zeit"}),
    OptionDef(2, {"en": "Less than half of the time", "de": "Etwas weniger als die Hälfte der Zeit"}),
    OptionDef(1, {"en": "Some of the time", "de": "Ab und zu"}),
    OptionDef(0, {"en": "At no time", "de": "Zu keinem Zeitpunkt"}),
)

# CBI response scales and scoring: Kristensen et al. 2005, Appendix (100/75/50/25/0 as printed).
CBI_DEGREE = (
    OptionDef(100, {"en": "To a very high degree"}),
    OptionDef(75, {"en": "To a high degree"}),
    OptionDef(50, {"en": "Somewhat"}),
    OptionDef(25, {"en": "To a low degree"}),
    OptionDef(0, {"en": "To a very low degree"}),
)
CBI_FREQUENCY = (
    OptionDef(100, {"en": "Always"}),
    OptionDef(75, {"en": "Often"}),
    OptionDef(50, {"en": "Sometimes"}),
    OptionDef(25, {"en": "Seldom"}),
    OptionDef(0, {"en": "Never or almost never"}),
)

# COPSOQ III frequency scale (Burr et al. 2019): Always … Never/hardly ever = 100 … 0.
COPSOQ_FREQUENCY = (
    OptionDef(100, {"en": "Always"}),
    OptionDef(75, {"en": "Often"}),
    OptionDef(50, {"en": "Sometimes"}),
    OptionDef(25, {"en": "Seldom"}),
    OptionDef(0, {"en": "Never/hardly ever"}),
)


def _items(
    key: str,
    texts: list[dict[str, str]],
    options: tuple[OptionDef, ...],
    reversed_items: frozenset[int] = frozenset(),
) -> tuple[QuestionDef, ...]:
    return tuple(
        QuestionDef(
            key=f"{key}_{number}", order=number, text=text, options=options, reversed=number in reversed_items
        )
        for number, text in enumerate(texts, start=1)
    )


# --- WHO-5 ----------------------------------------------------------------------------------------

WHO5 = InstrumentDef(
    key="who5",
    version=1,
    name="WHO-5 Well-Being Index",
    short_name="WHO-5",
    citation=(
        "Psychiatric Research Unit, WHO Collaborating Centre in Mental Health, Frederiksborg General "
        "Hospital (1998): WHO (Five) Well-Being Index. Scoring and cut-offs: Topp CW, Østergaard SD, "
        "Søndergaard S, Bech P (2015). The WHO-5 Well-Being Index: a systematic review of the literature. "
        "Psychotherapy and Psychosomatics 84(3):167–176."
    ),
    licence="Free to use without permission. Altered wording must be marked as altered.",
    recall_period_days=14,
    validated=True,
    stem={
        "en": (
            "Please indicate for each of the five statements which is closest to how you have been feeling "
            "over the last two weeks."
        ),
        # The official German form puts "In den letzten zwei Wochen …" above the items, which continue it.
        "de": (
            "Die folgenden Aussagen betreffen Ihr Wohlbefinden in den letzten zwei Wochen. Bitte markieren "
            "Sie bei jeder Aussage die Rubrik, die Ihrer Meinung nach am besten beschreibt, wie Sie sich in "
            "den letzten zwei Wochen gefühlt haben.\n\nIn den letzten zwei Wochen …"
        ),
    },
    questions=_items(
        "who5",
        [
            {"en": "I have felt cheerful and in good spirits.", "de": "… war ich froh und guter Laune"},
            {"en": "I have felt calm and relaxed.", "de": "… habe ich mich ruhig und entspannt gefühlt"},
            {"en": "I have felt active and vigorous.", "de": "… habe ich mich energisch und aktiv gefühlt"},
            {
                "en": "I woke up feeling fresh and rested.",
                "de": "… habe ich mich beim Aufwachen frisch und ausgeruht gefühlt",
            },
            {
                "en": "My daily life has been filled with things that interest me.",
                "de": "… war mein Alltag voller Dinge, die mich interessieren",
            },
        ],
        WHO5_OPTIONS,
    ),
    scales=(
        ScaleDef(
            key="who5",
            name="WHO-5 well-being score (0–100, higher is better)",
            label="Well-being (WHO-5)",
            direction=HIGHER_IS_BETTER,
            practical_change=Fraction("2"),
            items=("who5_1", "who5_2", "who5_3", "who5_4", "who5_5"),
            method=SUM,
            factor=Fraction(4),
            min_answered=None,
            # Most severe first: a score of 28 or less is "likely depression", not just "poor wellbeing".
            bands=(
                BandDef("likely_depression", "<=", Fraction(28)),
                BandDef("poor_wellbeing", "<=", Fraction(50)),
            ),
            note=(
                "Raw score = sum of the five items (0–25), score = raw × 4 (0–100); all five items are "
                "required, no prorating. Score ≤ 50 (raw < 13): poor wellbeing, an indication to screen for "
                "depression; score ≤ 28: likely depression (Topp et al. 2015)."
            ),
        ),
    ),
    translation_sources={
        "de": (
            "Official German version, WHO-5 Fragebogen zum Wohlbefinden (Psychiatric Research Unit, WHO "
            "Collaborating Centre in Mental Health, Frederiksborg General Hospital, 1998; distributed by the "
            "WHO-5 website of the Psychiatric Centre North Zealand, file WHO-5_German.pdf). Checked against "
            "the reproductions of the Arbeitsgemeinschaft Diabetes und Psychologie der DDG "
            "(diabetes-psychologie.de) and depressions-sprechstunde.de, which cite that file."
        )
    },
    notes="Show a person's own result only to that person, with support resources (docs/science.md §1.10).",
)

# --- single-item burnout --------------------------------------------------------------------------

BURNOUT1 = InstrumentDef(
    key="burnout1",
    version=1,
    name="Single-item burnout measure",
    short_name="single-item burnout",
    citation=(
        "Rohland BM, Kruse GR, Rohrer JE (2004). Validation of a single-item measure of burnout against the "
        "Maslach Burnout Inventory among physicians. Stress and Health 20(2):75–79. Dolan ED, Mohr D, "
        "Lempa M, et al. (2015). Using a single item to measure burnout in primary care staff: a "
        "psychometric evaluation. Journal of General Internal Medicine 30(5):582–587. The same item is used "
        "in the Mini-Z survey."
    ),
    licence="Non-proprietary.",
    recall_period_days=7,
    validated=True,
    questions=(
        QuestionDef(
            key="burnout1_1",
            order=1,
            text={"en": "Using your own definition of burnout, select an answer."},
            options=(
                OptionDef(1, {"en": "I enjoy my work. I have no symptoms of burnout."}),
                OptionDef(
                    2,
                    {
                        "en": (
                            "Occasionally I am under stress, and I don't always have as much energy as I "
                            "once did, but I don't feel burned out."
                        )
                    },
                ),
                OptionDef(
                    3,
                    {
                        "en": (
                            "I am definitely burning out and have one or more symptoms of burnout, such as "
                            "physical and emotional exhaustion."
                        )
                    },
                ),
                OptionDef(
                    4,
                    {
                        "en": (
                            "The symptoms of burnout that I'm experiencing won't go away. I think about "
                            "frustration at work a lot."
                        )
                    },
                ),
                OptionDef(
                    5,
                    {
                        "en": (
                            "I feel completely burned out and often wonder if I can go on. I am at the point "
                            "where I may need some changes or may need to seek some sort of help."
                        )
                    },
                ),
            ),
        ),
    ),
    scales=(
        ScaleDef(
            key="burnout1",
            name="Single-item burnout (1–5)",
            label="Burnout (single item)",
            direction=HIGHER_IS_WORSE,
            practical_change=Fraction("0.05"),
            items=("burnout1_1",),
            method=SUM,
            bands=(BandDef("burned_out", ">=", Fraction(3)),),
            note="The chosen option 1–5; 3 or more = burned out (Rohland et al. 2004; Dolan et al. 2015).",
        ),
    ),
)

# --- Copenhagen Burnout Inventory -----------------------------------------------------------------

CBI_CITATION = (
    "Kristensen TS, Borritz M, Villadsen E, Christensen KB (2005). The Copenhagen Burnout Inventory: a new "
    "tool for the assessment of burnout. Work & Stress 19(3):192–207."
)
CBI_LICENCE = (
    "Free to use, from the National Research Centre for the Working Environment (NFA), Copenhagen. "
    "Attribute the source; do not alter the items."
)
CBI_HIGH_NOTE = (
    "'high' at a mean of 50 or more is a convention used in CBI studies, not a cut-off defined by "
    "Kristensen et al. 2005."
)

CBI_WORK = InstrumentDef(
    key="cbi_work",
    version=1,
    name="Copenhagen Burnout Inventory: work-related burnout",
    short_name="CBI",
    citation=CBI_CITATION,
    licence=CBI_LICENCE,
    recall_period_days=28,
    validated=True,
    questions=(
        *_items(
            "cbi_work",
            [
                {"en": "Is your work emotionally exhausting?"},
                {"en": "Do you feel burnt out because of your work?"},
                {"en": "Does your work frustrate you?"},
            ],
            CBI_DEGREE,
        ),
        *(
            QuestionDef(key=f"cbi_work_{number}", order=number, text={"en": text}, options=CBI_FREQUENCY)
            for number, text in (
                (4, "Do you feel worn out at the end of the working day?"),
                (5, "Are you exhausted in the morning at the thought of another day at work?"),
                (6, "Do you feel that every working hour is tiring for you?"),
            )
        ),
        QuestionDef(
            key="cbi_work_7",
            order=7,
            text={"en": "Do you have enough energy for family and friends during leisure time?"},
            options=CBI_FREQUENCY,
            reversed=True,
        ),
    ),
    scales=(
        ScaleDef(
            key="cbi_work",
            name="Work-related burnout (0–100, higher is worse)",
            label="Work-related burnout (CBI)",
            direction=HIGHER_IS_WORSE,
            practical_change=Fraction("2"),
            cutoff_word=CONVENTION,
            items=tuple(f"cbi_work_{number}" for number in range(1, 8)),
            method=MEAN,
            min_answered=4,
            bands=(BandDef("high", ">=", Fraction(50)),),
            note=(
                "Mean of the answered items, item 7 reversed (100 − x); fewer than 4 answered: no score "
                "(Kristensen et al. 2005). " + CBI_HIGH_NOTE
            ),
        ),
    ),
)

CBI_PERSONAL = InstrumentDef(
    key="cbi_personal",
    version=1,
    name="Copenhagen Burnout Inventory: personal burnout",
    short_name="CBI",
    citation=CBI_CITATION,
    licence=CBI_LICENCE,
    recall_period_days=28,
    validated=True,
    questions=_items(
        "cbi_personal",
        [
            {"en": "How often do you feel tired?"},
            {"en": "How often are you physically exhausted?"},
            {"en": "How often are you emotionally exhausted?"},
            {"en": 'How often do you think: "I can\'t take it anymore"?'},
            {"en": "How often do you feel worn out?"},
            {"en": "How often do you feel weak and susceptible to illness?"},
        ],
        CBI_FREQUENCY,
    ),
    scales=(
        ScaleDef(
            key="cbi_personal",
            name="Personal burnout (0–100, higher is worse)",
            label="Personal burnout (CBI)",
            direction=HIGHER_IS_WORSE,
            practical_change=Fraction("2"),
            cutoff_word=CONVENTION,
            items=tuple(f"cbi_personal_{number}" for number in range(1, 7)),
            method=MEAN,
            min_answered=3,
            bands=(BandDef("high", ">=", Fraction(50)),),
            note=(
                "Mean of the answered items, none reversed; fewer than 3 answered: no score "
                "(Kristensen et al. 2005). " + CBI_HIGH_NOTE
            ),
        ),
    ),
)

# --- COPSOQ III -----------------------------------------------------------------------------------

COPSOQ_DEMANDS = InstrumentDef(
    key="copsoq_demands",
    version=1,
    name="COPSOQ III: quantitative demands and work pace (core items)",
    short_name="COPSOQ",
    citation=(
        "Burr H, Berthelsen H, Moncada S, et al. (2019). The third version of the Copenhagen Psychosocial "
        "Questionnaire. Safety and Health at Work 10(4):482–503. Items: quantitative demands and work pace."
    ),
    licence=(
        "CC BY-NC-ND 4.0, with the COPSOQ International Network's explicit grant of free commercial use; "
        "no modification."
    ),
    recall_period_days=7,
    validated=True,
    questions=_items(
        "copsoq_demands",
        [
            {"en": "How often do you not have time to complete all your work tasks?"},
            {"en": "Do you get behind with your work?"},
            {"en": "Do you have to work very fast?"},
            {"en": "Do you work at a high pace throughout the day?"},
        ],
        COPSOQ_FREQUENCY,
    ),
    scales=(
        ScaleDef(
            key="copsoq_demands",
            name="Quantitative demands and work pace (0–100, higher is more demanding)",
            label="Quantitative demands (COPSOQ)",
            direction=HIGHER_IS_WORSE,
            practical_change=Fraction("2"),
            items=tuple(f"copsoq_demands_{number}" for number in range(1, 5)),
            method=MEAN,
            # The COPSOQ convention: a scale value needs at least half of its items answered (stated e.g. in
            # BMC Public Health 2021, doi:10.1186/s12889-021-12240-3, "the standard procedure for COPSOQ").
            min_answered=2,
            note=(
                "Mean of the answered items (100/75/50/25/0); at least half of the items answered. "
                "No cut-off: read as trends and percentiles."
            ),
        ),
    ),
)

# --- Pulse's own items ----------------------------------------------------------------------------

WORKLOAD1 = InstrumentDef(
    key="workload1",
    version=1,
    name="Workload this week (Pulse's own item, not validated)",
    citation="Pulse's own operational item; not a validated instrument.",
    licence="Ours (Pulse).",
    recall_period_days=7,
    validated=False,
    questions=(
        QuestionDef(
            key="workload1_1",
            order=1,
            text={"en": "This week my workload was", "de": "Diese Woche war meine Arbeitsmenge"},
            options=(
                OptionDef(1, {"en": "Much too low", "de": "Viel zu gering"}),
                OptionDef(2, {"en": "Too low", "de": "Zu gering"}),
                OptionDef(3, {"en": "About right", "de": "Ungefähr richtig"}),
                OptionDef(4, {"en": "Too high", "de": "Zu hoch"}),
                OptionDef(5, {"en": "Much too high", "de": "Viel zu hoch"}),
            ),
        ),
    ),
    scales=(
        ScaleDef(
            key="workload1",
            name="Workload (1–5, 3 = about right)",
            label="Workload",
            direction=HIGHER_IS_WORSE,
            practical_change=Fraction("0.05"),
            items=("workload1_1",),
            method=SUM,
            note="The chosen option 1–5; no cut-off.",
        ),
    ),
    translation_sources={"de": "Pulse's own translation (the item is ours and not validated)."},
)

COMMENT = InstrumentDef(
    key="comment",
    version=1,
    name="Optional comment",
    citation="Pulse's own optional free-text question.",
    licence="Ours (Pulse).",
    recall_period_days=0,
    validated=False,
    questions=(
        QuestionDef(
            key="comment_1",
            order=1,
            kind=TEXT,
            optional=True,
            text={
                "en": (
                    "Anything else you want to tell us? Please leave out names and details that identify "
                    "anyone."
                ),
                "de": (
                    "Möchten Sie uns noch etwas mitteilen? Bitte lassen Sie Namen und Einzelheiten weg, an "
                    "denen man jemanden erkennen kann."
                ),
            },
        ),
    ),
    translation_sources={"de": "Pulse's own translation (the question is ours)."},
)

LIBRARY: tuple[InstrumentDef, ...] = (
    WHO5,
    BURNOUT1,
    CBI_WORK,
    CBI_PERSONAL,
    COPSOQ_DEMANDS,
    WORKLOAD1,
    COMMENT,
)

DEFAULT_KEYS: tuple[str, ...] = tuple(dict.fromkeys(definition.key for definition in LIBRARY))


def get(key: str, version: int | None = None) -> InstrumentDef | None:
    """The library definition of ``key`` at ``version`` (None: the newest), or None if there is none."""
    candidates = [definition for definition in LIBRARY if definition.key == key]
    if version is not None:
        candidates = [definition for definition in candidates if definition.version == version]
    return max(candidates, key=lambda definition: definition.version, default=None)
