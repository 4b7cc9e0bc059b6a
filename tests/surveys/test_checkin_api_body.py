"""The check-in API's quick acceptance of a well-formed body agrees with its serializer.

``surveys.api.well_formed`` lets a body that is plainly right skip the DRF serializer. It may send more
bodies to the serializer than necessary, never fewer: whatever it accepts, the serializer accepts too and
hands back unchanged, so answers and error messages stay the serializer's.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.api import CheckinSubmitApi, well_formed

TOKEN = "k3Jv0yTq4d8Zr2HcW1nXa9LmPbE7sUoQfG5iA6tYwRc"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False)  # includes ±inf: what json.loads makes of 1e400
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
tokens = (
    st.sampled_from([TOKEN, "", " ", f" {TOKEN}", f"{TOKEN}\n", "a" * 100, "a" * 101, "a\x00b", "\ud800x"])
    | st.text(max_size=110)
    | json_scalars
)
answer_maps = st.dictionaries(st.text(max_size=12), json_values, max_size=5) | json_values
bodies = st.fixed_dictionaries({"token": tokens, "answers": answer_maps}) | st.dictionaries(
    st.sampled_from(["token", "answers", "person"]), tokens | answer_maps, max_size=3
)


def serializer_result(data: Any) -> tuple[str, dict[str, Any]] | None:
    serializer = CheckinSubmitApi.InputSerializer(data=data)
    if not serializer.is_valid():
        return None
    return serializer.validated_data["token"], serializer.validated_data["answers"]


@settings(max_examples=400, deadline=None)
@given(body=bodies)
def test_what_the_quick_check_accepts_the_serializer_accepts_unchanged(body: dict[str, Any]) -> None:
    quick = well_formed(body)
    if quick is not None:
        assert serializer_result(body) == quick


@given(body=bodies)
def test_what_the_quick_check_accepts_reads_the_same_after_a_json_round_trip(body: dict[str, Any]) -> None:
    """It accepts only what JSON carries exactly (no infinities), so what is validated is what was sent."""
    quick = well_formed(body)
    if quick is not None:
        assert all(not isinstance(value, float) or math.isfinite(value) for value in quick[1].values())
        assert json.loads(json.dumps(body)) == body


def test_an_ordinary_submission_takes_the_quick_path() -> None:
    answers = {"who5_1": 3, "who5_2": "4", "workload1_1": 2, "comment_1": "ok", "mood": True, "x": 2.5}
    assert well_formed({"token": TOKEN, "answers": answers}) == (TOKEN, answers)
    assert well_formed({"token": TOKEN, "answers": {}}) == (TOKEN, {})


def test_anything_the_serializer_would_word_or_convert_goes_to_it() -> None:
    for body in (
        {"token": TOKEN},
        {"token": TOKEN, "answers": {}, "person": 3},
        {"token": f" {TOKEN} ", "answers": {}},  # the serializer strips it: its result, not ours
        {"token": 12345, "answers": {}},  # the serializer makes it "12345"
        {"token": "a" * 101, "answers": {}},
        {"token": "a\x00b", "answers": {}},
        {"token": TOKEN, "answers": {"comment_1": None}},
        {"token": TOKEN, "answers": {"who5_1": math.inf}},
        {"token": TOKEN, "answers": {"who5_1": [1]}},
        {"token": TOKEN, "answers": [1, 2]},
        [TOKEN],
    ):
        assert well_formed(body) is None, body
