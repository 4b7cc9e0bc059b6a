"""A custom instrument's scale is read from its own definition (direction, label, display scale), so it is
reported, charted and evaluated like a shipped one; before, reports looked scales up in a table of the
shipped ones and skipped every other. A scale without a direction is counted and never reported."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from django.test import Client

from pulse.analysis.metrics import HIGHER_IS_BETTER
from pulse.services.trends import trend_run, trend_series_load
from surveys.definitions import HIGHER_IS_BETTER as SCALE_HIGHER_IS_BETTER
from surveys.definitions import MEAN, BandDef, ScaleDef
from surveys.models import Instrument, Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value
from tests.surveys.factories_instruments import create_custom_instrument

pytestmark = pytest.mark.django_db

FOCUS = "scale:focus.focus@1"
# Team A's focus falls round by round, far beyond chance and the practical change (n = 8, SD 0.5).
FALLING = (4.4, 4.2, 4.1, 3.8, 3.6, 3.3, 3.1, 2.9)


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _focus_scale(**fields: Any) -> ScaleDef:
    defaults: dict[str, Any] = {
        "key": "focus",
        "name": "Focus at work (1–5)",
        "items": ("mood_1", "mood_2"),
        "method": MEAN,
        "min_answered": 1,
        "bands": (BandDef("low", "<", Fraction(3)),),
        "direction": SCALE_HIGHER_IS_BETTER,
        "label": "Focus",
    }
    defaults.update(fields)
    return ScaleDef(**defaults)


def _org_asking(scale: ScaleDef) -> ReportOrg:
    """Eight closed rounds of a team tree that asked the single-item burnout and the custom scale."""
    org = ReportOrg(k=5, instruments=("burnout1", "comment"))
    custom = create_custom_instrument(
        organisation=org.organisation, key="focus", scales=(scale,), short_name="Focus check"
    )
    org.instrument["focus"] = custom
    org.schedule.instruments.add(custom)
    for mean in FALLING:
        org.round(
            {
                "Root": {FOCUS: Value(16, mean), BURNOUT: Value(16, 2.0), RATE: (18, 16)},
                "A": {FOCUS: Value(8, mean), BURNOUT: Value(8, 2.0), RATE: (9, 8)},
                "B": {FOCUS: Value(8, mean), BURNOUT: Value(8, 2.0), RATE: (9, 8)},
            }
        )
    return org


def test_a_custom_scale_with_a_direction_shows_on_the_team_page_in_the_api_and_on_the_heatmap() -> None:
    org = _org_asking(_focus_scale())
    leader = _client(org.person("Lena", leads="Root"))

    page = leader.get(f"/teams/{org.team['A'].pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Focus" in text
    assert "2.9" in text  # the latest published mean, on its 1–5 display scale

    report = leader.get(f"/api/v1/reports/teams/{org.team['A'].pk}/").json()
    focus = next(m for m in report["metrics"] if m["metric"] == FOCUS)
    assert focus["label"] == "Focus"
    latest = focus["points"][-1]["cell"]
    assert latest["status"] == "published"
    assert latest["text"] == "2.9"
    assert latest["band"] == "low"

    home = leader.get("/api/v1/reports/home/").json()
    rows = {row["team"]["name"]: row for row in home["teams"]}
    assert rows["A"]["cells"]["focus.focus"]["text"] == "2.9"
    assert "Focus" in [column["label"] for column in home["columns"]]
    html = leader.get("/").content.decode()
    assert '<th scope="col" lang="en">Focus</th>' in html  # labels come from the instrument's data


def test_a_custom_scale_with_a_direction_is_evaluated_like_a_shipped_one() -> None:
    org = _org_asking(_focus_scale())
    series = {s.key: s for s in trend_series_load(organisation=org.organisation, window=12)}
    focus = series[(org.team["A"].pk, FOCUS)]
    assert focus.info.label == "Focus"
    assert focus.info.direction == HIGHER_IS_BETTER
    assert focus.info.scale == "1-5"
    assert focus.info.instrument == "Focus check"
    assert [band.name for band in focus.bands] == ["low"]

    result = trend_run(organisation_id=org.organisation.pk, now=org.rounds[-1].closes_at)
    (verdict,) = [v for v in result.verdicts if v.key == (org.team["A"].pk, FOCUS)]
    assert verdict.evaluable
    assert any(verdict.hits.values())  # a falling "higher is better" score is a worsening
    assert verdict.severity is not None


def test_a_custom_scale_without_a_direction_is_counted_but_not_reported() -> None:
    org = _org_asking(_focus_scale(direction=""))
    leader = _client(org.person("Lena", leads="Root"))
    report = leader.get(f"/api/v1/reports/teams/{org.team['A'].pk}/").json()
    assert FOCUS not in [m["metric"] for m in report["metrics"]]
    assert BURNOUT in [m["metric"] for m in report["metrics"]]
    assert (org.team["A"].pk, FOCUS) not in {
        s.key for s in trend_series_load(organisation=org.organisation, window=12)
    }


# --- validation: a bad reading is refused field by field, and nothing is stored ----------------------------


def _api_instrument(**scale: Any) -> dict[str, Any]:
    options = [{"value": value, "label": {"en": f"Option {value}"}} for value in range(1, 6)]
    return {
        "key": "pace",
        "name": "Pace",
        "licence": "ours",
        "short_name": "Pace",
        "questions": [
            {"key": "pace_1", "order": 1, "text": {"en": "The pace is sustainable."}, "options": options},
            {"key": "pace_2", "order": 2, "text": {"en": "I can finish my work."}, "options": options},
        ],
        "scales": [{"key": "pace", "name": "Pace", "items": ["pace_1", "pace_2"], "method": "mean", **scale}],
    }


def test_the_api_stores_a_scale_with_its_reading() -> None:
    org = ReportOrg()
    admin = _client(org.person("Ada", admin=True))
    response = admin.post(
        "/api/v1/instruments/",
        _api_instrument(direction="higher_is_worse", label="Pace (ours)", practical_change="0.1"),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    scale = response.json()["scales"][0]
    assert scale["direction"] == "higher_is_worse"
    assert scale["label"] == "Pace (ours)"
    assert scale["practical_change"] == "0.1"
    assert scale["cutoff_word"] == "cut-off"
    assert scale["display_scale"] == "1-5"
    assert response.json()["short_name"] == "Pace"


@pytest.mark.parametrize(
    ("scale", "field", "says"),
    [
        ({"direction": "sideways"}, "direction", "sideways"),
        ({"direction": "higher_is_better", "label": "Pace\nand more"}, "label", "one line"),
        ({"direction": "higher_is_better", "label": "x" * 81}, "label", "80 characters"),
        ({"direction": "higher_is_better", "cutoff_word": "rule of thumb"}, "cutoff_word", "rule of thumb"),
        ({"direction": "higher_is_better", "practical_change": "0"}, "practical_change", "positive"),
        # A sum of two 1–5 items × 30 runs 60–300: no display scale holds it, so it cannot be reported.
        ({"direction": "higher_is_better", "method": "sum", "factor": "30"}, "direction", "from 60 to 300"),
    ],
)
def test_the_api_refuses_a_bad_reading_field_by_field(scale: dict[str, Any], field: str, says: str) -> None:
    org = ReportOrg()
    admin = _client(org.person("Ada", admin=True))
    before = Instrument.objects.count()
    response = admin.post("/api/v1/instruments/", _api_instrument(**scale), content_type="application/json")
    assert response.status_code == 400
    errors = response.json()
    flat = str(errors)
    assert field in flat, errors
    assert says in flat, errors
    assert Instrument.objects.count() == before


def test_the_admin_refuses_a_bad_direction_and_a_scale_it_cannot_show() -> None:
    org = ReportOrg()
    staff = org.person("Sam", admin=True)
    assert staff.user is not None
    staff.user.is_staff = True
    staff.user.is_superuser = True
    staff.user.save()
    client = _client(staff)
    options = "\n".join(f"{value} | Option {value}" for value in range(1, 6))

    def post(**scale: str) -> str:
        data = {
            "key": "pace",
            "name": "Pace",
            "citation": "",
            "licence": "ours",
            "recall_period_days": "7",
            "organisation": "",
            "short_name": "",
            "stem_en": "",
            "stem_de": "",
            "translation_sources_en": "",
            "translation_sources_de": "",
            "notes": "",
            "questions-TOTAL_FORMS": "2",
            "questions-INITIAL_FORMS": "0",
            "questions-MIN_NUM_FORMS": "0",
            "questions-MAX_NUM_FORMS": "1000",
            "scales-TOTAL_FORMS": "1",
            "scales-INITIAL_FORMS": "0",
            "scales-MIN_NUM_FORMS": "0",
            "scales-MAX_NUM_FORMS": "1000",
        }
        for index in range(2):
            data |= {
                f"questions-{index}-key": f"pace_{index + 1}",
                f"questions-{index}-order": str(index + 1),
                f"questions-{index}-kind": "choice",
                f"questions-{index}-text_en": f"Item {index + 1}",
                f"questions-{index}-text_de": "",
                f"questions-{index}-options": options,
            }
        data |= {
            "scales-0-key": "pace",
            "scales-0-name": "Pace",
            "scales-0-items": "pace_1, pace_2",
            "scales-0-method": "mean",
            "scales-0-factor": "1",
            "scales-0-bands": "",
            "scales-0-note": "",
            "scales-0-label": "",
            "scales-0-practical_change": "",
            "scales-0-cutoff_word": "cut-off",
            **{f"scales-0-{name}": value for name, value in scale.items()},
        }
        response = client.post("/admin/surveys/instrument/add/", data)
        return (
            response.content.decode() if response.status_code == 200 else f"redirect {response.status_code}"
        )

    before = Instrument.objects.count()
    assert "is not one of the available choices" in post(direction="sideways")
    assert "a report shows scores within 1–5, 0–5 or 0–100 only" in post(
        direction="higher_is_better", method="sum", factor="30"
    )
    assert Instrument.objects.count() == before
    assert post(direction="higher_is_better").startswith("redirect 302")
    stored = Instrument.objects.get(key="pace").scales.get()
    assert stored.direction == "higher_is_better"
