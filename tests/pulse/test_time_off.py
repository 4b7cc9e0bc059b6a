"""The time-off rule (pulse.analysis.time_off): five consecutive working days in the last 90, weekends
neither counting nor breaking a run, and the team's share without such a break only at k people."""

from __future__ import annotations

from datetime import date

import pytest

from pulse.analysis.oncall_csv import parse_absences
from pulse.analysis.time_off import Absence, had_break, longest_working_day_run, share_without_break, window

SUNDAY = date(2026, 1, 18)


def test_the_window_is_the_90_days_ending_with_the_day() -> None:
    assert window(SUNDAY) == (date(2025, 10, 21), SUNDAY)


def test_a_monday_to_friday_week_is_five_working_days() -> None:
    assert longest_working_day_run([(date(2026, 1, 5), date(2026, 1, 9))], *window(SUNDAY)) == 5


def test_a_weekend_inside_an_absence_neither_counts_nor_breaks_the_run() -> None:
    # Thursday 8 to Wednesday 14 January: Thu, Fri, Mon, Tue, Wed.
    assert longest_working_day_run([(date(2026, 1, 8), date(2026, 1, 14))], *window(SUNDAY)) == 5
    # Thursday to Tuesday is four, and a whole weekend alone is none.
    assert longest_working_day_run([(date(2026, 1, 8), date(2026, 1, 13))], *window(SUNDAY)) == 4
    assert longest_working_day_run([(date(2026, 1, 10), date(2026, 1, 11))], *window(SUNDAY)) == 0


def test_absences_written_apart_join_when_only_a_weekend_or_nothing_lies_between() -> None:
    back_to_back = [(date(2026, 1, 5), date(2026, 1, 7)), (date(2026, 1, 8), date(2026, 1, 9))]
    assert had_break(back_to_back, SUNDAY)
    over_a_weekend = [(date(2026, 1, 8), date(2026, 1, 9)), (date(2026, 1, 12), date(2026, 1, 14))]
    assert had_break(over_a_weekend, SUNDAY)
    a_working_day_between = [(date(2026, 1, 5), date(2026, 1, 7)), (date(2026, 1, 9), date(2026, 1, 13))]
    assert longest_working_day_run(a_working_day_between, *window(SUNDAY)) == 3


def test_only_the_days_inside_the_window_count() -> None:
    # 20 to 24 October 2025, Monday to Friday; the window of Sunday 18 January starts on the 21st.
    assert not had_break([(date(2025, 10, 20), date(2025, 10, 24))], SUNDAY)
    assert had_break([(date(2025, 10, 21), date(2025, 10, 27))], SUNDAY)  # Tue–Fri and Mon: five


def test_the_share_without_a_break_is_per_team_and_only_at_k_people() -> None:
    absences = [
        Absence("a", date(2026, 1, 5), date(2026, 1, 9)),
        Absence("b", date(2025, 12, 18), date(2025, 12, 23)),
        Absence("outsider", date(2026, 1, 5), date(2026, 1, 9)),  # not in the team: ignored
    ]
    assert share_without_break({"a", "b", "c"}, absences, SUNDAY, k=3) == pytest.approx(2 / 3)
    assert share_without_break({"a", "b", "c"}, absences, SUNDAY, k=4) is None
    assert share_without_break(set(), absences, SUNDAY, k=1) is None
    with pytest.raises(ValueError, match="k must"):
        share_without_break({"a"}, absences, SUNDAY, k=0)


def test_an_absence_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before"):
        Absence("a", date(2026, 1, 9), date(2026, 1, 5))


def test_the_time_off_csv_is_read_field_by_field() -> None:
    parsed = parse_absences(
        "\ufeffEmail,First_Day,Last_Day\n"
        "Ann@Example.org,2026-07-27,2026-07-31\n"
        "not-an-email,2026-07-27,2026-07-31\n"  # row 3
        "ann@example.org,31.07.2026,2026-07-31\n"  # row 4: not ISO
        "bo@example.org,2026-08-02,2026-08-01\n"  # row 5: last before first
        "ann@example.org,2026-07-27,2026-07-31\n"  # row 6: repeats row 2
        "bo@example.org,2026-08-01,2026-08-01\n"  # row 7: one day is fine
    )
    assert [(e.row, e.column) for e in parsed.errors] == [
        (3, "email"),
        (4, "first_day"),
        (5, "last_day"),
        (6, "(row)"),
    ]
    assert parsed.rows == (
        Absence("ann@example.org", date(2026, 7, 27), date(2026, 7, 31)),
        Absence("bo@example.org", date(2026, 8, 1), date(2026, 8, 1)),
    )
    assert parsed.row_numbers == (2, 7)
