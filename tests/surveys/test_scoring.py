"""Scoring of the default library against the instruments' own manuals and papers. Pure: no database.

Sources (cited per test):
- WHO-5: Topp CW, Østergaard SD, Søndergaard S, Bech P (2015). The WHO-5 Well-Being Index: a systematic
  review of the literature. Psychother Psychosom 84:167–176. Raw 0–25 × 4 = 0–100; ≤ 50 poor wellbeing
  (raw < 13), ≤ 28 likely depression; all items required.
- CBI: Kristensen TS, Borritz M, Villadsen E, Christensen KB (2005). The Copenhagen Burnout Inventory.
  Work & Stress 19:192–207, Appendix: items scored 100/75/50/25/0, work-related item 7 reversed, scale =
  mean of the items; work-related < 4 answered and personal < 3 answered = non-responder.
- Single item: Rohland BM, Kruse GR, Rohrer JE (2004), Stress and Health 20:75–79; Dolan ED et al. (2015),
  J Gen Intern Med 30:582–587: options 1–5, a score of 3 or more = burnout.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys import library, scoring
from surveys.definitions import SUM, InstrumentDef, OptionDef, QuestionDef, ScaleDef, scale_resolution
from surveys.scoring import ScoringError, UnknownInstrumentError, UnknownQuestionError, ValueOffScaleError

WHO5_KEYS = [f"who5_{number}" for number in range(1, 6)]
CBI_WORK_KEYS = [f"cbi_work_{number}" for number in range(1, 8)]
CBI_PERSONAL_KEYS = [f"cbi_personal_{number}" for number in range(1, 7)]
COPSOQ_KEYS = [f"copsoq_demands_{number}" for number in range(1, 5)]
CBI_VALUES = [0, 25, 50, 75, 100]


def who5(*values: int | None) -> scoring.ScaleScore:
    return scoring.score("who5", dict(zip(WHO5_KEYS, values, strict=True)))["who5"]


def cbi_work(*values: int | None) -> scoring.ScaleScore:
    return scoring.score("cbi_work", dict(zip(CBI_WORK_KEYS, values, strict=True)))["cbi_work"]


def cbi_personal(*values: int | None) -> scoring.ScaleScore:
    return scoring.score("cbi_personal", dict(zip(CBI_PERSONAL_KEYS, values, strict=True)))["cbi_personal"]


# --- WHO-5 (Topp et al. 2015) ---------------------------------------------------------------------


def test_who5_score_is_raw_sum_times_four() -> None:
    """Topp et al. 2015: raw score 0–25, multiplied by 4 gives the percentage score 0–100."""
    assert who5(5, 5, 5, 5, 5).score == 100
    assert who5(0, 0, 0, 0, 0).score == 0
    assert who5(4, 3, 3, 2, 1).score == 13 * 4


@pytest.mark.parametrize(
    ("answers", "raw", "score", "band"),
    [
        # raw 12 → 48 ≤ 50: poor wellbeing; raw 13 → 52 > 50: not (Topp et al. 2015, raw < 13 rule).
        ((3, 3, 2, 2, 2), 12, 48, "poor_wellbeing"),
        ((3, 3, 3, 2, 2), 13, 52, None),
        # raw 7 → 28 ≤ 28: likely depression, the more severe band wins; raw 8 → 32: poor wellbeing only.
        ((2, 2, 1, 1, 1), 7, 28, "likely_depression"),
        ((2, 2, 2, 1, 1), 8, 32, "poor_wellbeing"),
        ((0, 0, 0, 0, 0), 0, 0, "likely_depression"),
        ((5, 5, 5, 5, 5), 25, 100, None),
    ],
)
def test_who5_cut_offs_are_exact(answers: tuple[int, ...], raw: int, score: int, band: str | None) -> None:
    """Topp et al. 2015: score ≤ 50 poor wellbeing, ≤ 28 likely depression, compared exactly."""
    assert sum(answers) == raw
    result = who5(*answers)
    assert result.score == score
    assert result.exact == Fraction(score)
    assert result.band == band


@pytest.mark.parametrize("missing", range(5))
def test_who5_needs_all_five_items(missing: int) -> None:
    """Topp et al. 2015 / the WHO-5 scoring: no prorating; any missing item means no score."""
    answers: list[int | None] = [5, 5, 5, 5, 5]
    answers[missing] = None
    result = who5(*answers)
    assert (result.score, result.band, result.exact, result.bucket) == (None, None, None, None)
    assert result.answered == 4


def test_who5_left_out_keys_count_as_skipped() -> None:
    result = scoring.score("who5", {"who5_1": 5, "who5_2": 5, "who5_3": 5, "who5_4": 5})["who5"]
    assert result.score is None
    assert result.answered == 4


# --- single-item burnout (Rohland et al. 2004; Dolan et al. 2015) ---------------------------------


@pytest.mark.parametrize(
    ("value", "band"), [(1, None), (2, None), (3, "burned_out"), (4, "burned_out"), (5, "burned_out")]
)
def test_burnout1_three_or_more_is_burned_out(value: int, band: str | None) -> None:
    """Rohland et al. 2004, Dolan et al. 2015: options 1–5, a score of 3 or higher indicates burnout."""
    result = scoring.score("burnout1", {"burnout1_1": value})["burnout1"]
    assert result.score == value
    assert result.band == band


def test_burnout1_skipped_has_no_score() -> None:
    result = scoring.score("burnout1", {"burnout1_1": None})["burnout1"]
    assert (result.score, result.band, result.answered) == (None, None, 0)


# --- CBI (Kristensen et al. 2005) -----------------------------------------------------------------


def test_cbi_work_item_seven_is_reversed() -> None:
    """Kristensen et al. 2005, Appendix: "Reversed score for the last question" of the work-related scale.

    Items 1–6 "Always"/"To a very high degree" (100) and item 7 "Always" (enough energy: 100 → 0) give
    600/7; the same with item 7 "Never/almost never" (0 → 100) gives the maximum 100.
    """
    assert cbi_work(100, 100, 100, 100, 100, 100, 100).exact == Fraction(600, 7)
    assert cbi_work(100, 100, 100, 100, 100, 100, 0).score == 100
    assert cbi_work(0, 0, 0, 0, 0, 0, 100).score == 0


def test_cbi_work_is_the_mean_of_answered_items() -> None:
    """Kristensen et al. 2005: the scale score is the average of the scores on the answered items."""
    # 25 × 6 + (100 − 100) = 150 over 7 items.
    result = cbi_work(25, 25, 25, 25, 25, 25, 100)
    assert result.exact == Fraction(150, 7)
    assert result.score == pytest.approx(21.4285714)
    assert result.band is None
    # Four answered (the minimum): 75, 50, 50 and item 7 "Seldom" (25 → 75): mean 62.5, high.
    result = cbi_work(75, None, 50, None, 50, None, 25)
    assert (result.score, result.band, result.answered) == (62.5, "high", 4)


def test_cbi_work_needs_four_answered_items() -> None:
    """Kristensen et al. 2005: fewer than four answered work-related items = non-responder (no score)."""
    result = cbi_work(100, 100, 100, None, None, None, None)
    assert (result.score, result.band, result.answered) == (None, None, 3)
    assert cbi_work(100, 100, 100, 100, None, None, None).score == 100


def test_cbi_high_band_starts_exactly_at_fifty() -> None:
    """The ≥ 50 "high" band is a convention (see the library note), compared exactly at the boundary."""
    assert cbi_work(50, 50, 50, 50, 50, 50, 50).band == "high"  # item 7: 100 − 50 = 50
    assert cbi_work(50, 50, 50, 50, 50, 50, 50).score == 50
    # 50 × 6 + (100 − 75) = 325 over 7 = 46.43: below the cut-off.
    assert cbi_work(50, 50, 50, 50, 50, 50, 75).band is None
    assert cbi_personal(50, 50, 50, None, None, None).band == "high"
    assert cbi_personal(50, 50, 25, None, None, None).band is None


def test_cbi_personal_has_no_reversed_item_and_needs_three_answers() -> None:
    """Kristensen et al. 2005: personal burnout, six items, none reversed; < 3 answered = non-responder."""
    assert cbi_personal(100, 100, 100, 100, 100, 100).score == 100
    assert cbi_personal(0, 25, 50, 75, 100, 0).exact == Fraction(250, 6)
    result = cbi_personal(100, 100, None, None, None, None)
    assert (result.score, result.band, result.answered) == (None, None, 2)
    assert cbi_personal(100, 75, 50, None, None, None).score == 75


# --- COPSOQ III and Pulse's own item --------------------------------------------------------------


def test_copsoq_demands_is_a_mean_without_bands() -> None:
    """Burr et al. 2019: items scored Always … Never/hardly ever = 100 … 0, scale = mean; no cut-off."""
    result = scoring.score("copsoq_demands", dict(zip(COPSOQ_KEYS, [100, 75, 50, 25], strict=True)))
    assert result["copsoq_demands"].score == 62.5
    assert result["copsoq_demands"].band is None
    assert scoring.score("copsoq_demands", dict.fromkeys(COPSOQ_KEYS, 100))["copsoq_demands"].band is None


def test_copsoq_demands_needs_half_of_the_items() -> None:
    """The COPSOQ convention: a scale value needs at least half of its items answered."""
    one = scoring.score("copsoq_demands", {"copsoq_demands_1": 100})["copsoq_demands"]
    two = scoring.score("copsoq_demands", {"copsoq_demands_1": 100, "copsoq_demands_3": 50})["copsoq_demands"]
    assert one.score is None
    assert two.score == 75


@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_workload1_is_the_value_itself(value: int) -> None:
    result = scoring.score("workload1", {"workload1_1": value})["workload1"]
    assert (result.score, result.band) == (value, None)


def test_comment_is_never_scored() -> None:
    assert scoring.score("comment", {"comment_1": "More focus time, please."}) == {}
    assert scoring.score("comment", {"comment_1": None}) == {}


# --- errors ---------------------------------------------------------------------------------------


def test_unknown_instrument_is_a_clear_error() -> None:
    with pytest.raises(UnknownInstrumentError, match="'uwes'"):
        scoring.score("uwes", {})


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(UnknownInstrumentError, match="'who5' has no version 7"):
        scoring.score("who5", {}, version=7)


def test_unknown_question_is_a_clear_error() -> None:
    with pytest.raises(UnknownQuestionError, match="'who5_6'"):
        scoring.score("who5", {"who5_6": 3})
    with pytest.raises(UnknownQuestionError, match="'cbi_work_1'"):
        scoring.score("who5", {"cbi_work_1": 50})


@pytest.mark.parametrize(
    ("instrument", "key", "value"),
    [
        ("who5", "who5_1", 6),
        ("who5", "who5_1", -1),
        ("cbi_work", "cbi_work_7", 60),
        ("burnout1", "burnout1_1", 0),
        ("workload1", "workload1_1", 3.0),
        ("who5", "who5_2", True),
        ("who5", "who5_2", "3"),
        ("comment", "comment_1", 3),
    ],
)
def test_value_off_the_scale_is_a_clear_error(instrument: str, key: str, value: object) -> None:
    with pytest.raises(ValueOffScaleError, match=key) as raised:
        scoring.score(instrument, {key: value})  # type: ignore[dict-item]
    assert repr(value) in str(raised.value)
    assert isinstance(raised.value, ScoringError)
    assert isinstance(raised.value, ValueError)


def test_version_one_is_the_newest_library_version() -> None:
    answers = dict(zip(WHO5_KEYS, [3, 3, 2, 2, 2], strict=True))
    assert scoring.score("who5", answers, version=1) == scoring.score("who5", answers)


# --- custom instruments, bands for team means, buckets --------------------------------------------


def test_score_with_a_custom_definition() -> None:
    definition = InstrumentDef(
        key="stress",
        version=3,
        name="Stress",
        citation="",
        licence="ours",
        recall_period_days=7,
        validated=False,
        questions=(
            QuestionDef(
                "stress_1",
                1,
                {"en": "Stressed?"},
                options=(OptionDef(0, {"en": "No"}), OptionDef(2, {"en": "Yes"})),
            ),
            QuestionDef(
                "stress_2",
                2,
                {"en": "Calm?"},
                options=(OptionDef(0, {"en": "No"}), OptionDef(2, {"en": "Yes"})),
                reversed=True,
            ),
        ),
        scales=(ScaleDef("stress", "Stress", ("stress_1", "stress_2"), method=SUM, factor=Fraction(5, 2)),),
    )
    # 2 + (0 + 2 − 0) = 4, × 2.5 = 10.
    result = scoring.score_with(definition, {"stress_1": 2, "stress_2": 0})["stress"]
    assert result.exact == 10
    assert result.bucket == 20  # resolution 2 (factor 5/2)
    with pytest.raises(UnknownQuestionError, match="'stress' version 3"):
        scoring.score_with(definition, {"who5_1": 2})


def test_band_for_a_team_mean_uses_the_same_exact_cut_offs() -> None:
    """Topp et al. 2015 cut-offs applied to a team mean: 50 is poor wellbeing, 50.4 is not."""
    scale = scoring.definition_for("who5").scale("who5")
    assert scale is not None
    assert scoring.band_for(scale, Fraction(50)) == "poor_wellbeing"
    assert scoring.band_for(scale, 50.4) is None
    assert scoring.band_for(scale, "28") == "likely_depression"
    assert scoring.bands(scoring.definition_for("who5"), "who5") == [
        ("likely_depression", "<=", Fraction(28)),
        ("poor_wellbeing", "<=", Fraction(50)),
    ]


def test_resolutions_of_the_library_scales() -> None:
    resolutions = {
        scale.key: scale_resolution(scale) for definition in library.LIBRARY for scale in definition.scales
    }
    # WHO-5: integer scores; CBI work: means of 4–7 items → lcm(4..7); personal lcm(3..6); COPSOQ lcm(2..4).
    assert resolutions == {
        "who5": 1,
        "burnout1": 1,
        "cbi_work": 420,
        "cbi_personal": 60,
        "copsoq_demands": 12,
        "workload1": 1,
    }


def test_team_mean_recomputed_exactly_from_bucket_counts() -> None:
    """The aggregation step keeps counts per bucket; the team mean comes back without rounding."""
    people = [
        (100, 75, 50, 25, 0, 50, 100),
        (25, 25, 25, 25, 25, 25, 100),
        (50, None, 50, None, 75, None, 0),
        (100, 100, 100, 100, 100, 100, 100),
    ]
    results = [cbi_work(*answers) for answers in people]
    exact_mean = sum((r.exact for r in results if r.exact is not None), Fraction(0)) / len(results)
    counts = Counter(r.bucket for r in results)
    scale = scoring.definition_for("cbi_work").scale("cbi_work")
    assert scale is not None
    from_counts = Fraction(
        sum(bucket * n for bucket, n in counts.items() if bucket is not None),
        scale_resolution(scale) * len(results),
    )
    assert from_counts == exact_mean
    assert all(scoring.bucket_score(scale, r.bucket) == r.exact for r in results if r.bucket is not None)


# --- properties (hypothesis) ----------------------------------------------------------------------

who5_answers = st.lists(st.integers(0, 5), min_size=5, max_size=5)
cbi_value = st.sampled_from(CBI_VALUES)
maybe_cbi_value = st.one_of(st.none(), cbi_value)


@settings(max_examples=200, deadline=None)
@given(who5_answers)
def test_who5_range_steps_and_band_consistency(answers: list[int]) -> None:
    result = who5(*answers)
    assert result.score is not None
    assert 0 <= result.score <= 100
    assert result.score % 4 == 0
    assert result.bucket == result.score
    expected = "likely_depression" if result.score <= 28 else "poor_wellbeing" if result.score <= 50 else None
    assert result.band == expected
    assert (result.band is not None) == (sum(answers) < 13)


@settings(max_examples=200, deadline=None)
@given(who5_answers, st.integers(0, 4))
def test_who5_is_monotone_in_every_item(answers: list[int], item: int) -> None:
    if answers[item] == 5:
        return
    higher = list(answers)
    higher[item] += 1
    assert who5(*higher).score == who5(*answers).score + 4  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(st.lists(maybe_cbi_value, min_size=7, max_size=7))
def test_cbi_work_range_missing_rule_and_bucket(answers: list[int | None]) -> None:
    result = cbi_work(*answers)
    answered = sum(value is not None for value in answers)
    assert result.answered == answered
    if answered < 4:
        assert (result.score, result.band, result.bucket) == (None, None, None)
        return
    assert result.exact is not None
    assert result.score is not None
    assert 0 <= result.exact <= 100
    assert result.band == ("high" if result.exact >= 50 else None)
    assert result.bucket is not None
    assert Fraction(result.bucket, 420) == result.exact
    reversed_values = [v if i < 6 else 100 - v for i, v in enumerate(answers) if v is not None]
    assert result.exact == Fraction(sum(reversed_values), answered)


@settings(max_examples=300, deadline=None)
@given(st.lists(cbi_value, min_size=7, max_size=7), st.integers(0, 6))
def test_cbi_work_monotone_up_in_items_one_to_six_and_down_in_item_seven(
    answers: list[int], item: int
) -> None:
    if answers[item] == 100:
        return
    higher = list(answers)
    higher[item] += 25
    before, after = cbi_work(*answers).exact, cbi_work(*higher).exact
    assert before is not None
    assert after is not None
    if item < 6:
        assert after > before
    else:
        assert after < before


@settings(max_examples=200, deadline=None)
@given(st.lists(maybe_cbi_value, min_size=6, max_size=6))
def test_cbi_personal_range_and_missing_rule(answers: list[int | None]) -> None:
    result = cbi_personal(*answers)
    answered = [value for value in answers if value is not None]
    if len(answered) < 3:
        assert result.score is None
        return
    assert result.exact == Fraction(sum(answered), len(answered))
    assert 0 <= result.exact <= 100
    assert result.bucket == result.exact * 60


@settings(max_examples=100, deadline=None)
@given(st.lists(maybe_cbi_value, min_size=4, max_size=4))
def test_copsoq_range(answers: list[int | None]) -> None:
    result = scoring.score("copsoq_demands", dict(zip(COPSOQ_KEYS, answers, strict=True)))["copsoq_demands"]
    answered = [value for value in answers if value is not None]
    if len(answered) < 2:
        assert result.score is None
    else:
        assert result.exact == Fraction(sum(answered), len(answered))
        assert result.band is None


def test_scoring_module_does_not_import_the_orm() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(scoring))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {name for name in imported if name and name.startswith(("django", "surveys.models"))}
