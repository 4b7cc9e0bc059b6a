"""The on-call CSV formats (pulse.analysis.oncall_csv): rows read, and every error named by row and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pulse.analysis.oncall_csv import CellError, parse_pages, parse_shifts

SHIFTS_HEADER = "team,responder,start,end,level,site\n"
PAGES_HEADER = "team,responder,responder_time_zone,occurred_at,incident,urgency,channel\n"


def where(errors: tuple[CellError, ...]) -> list[tuple[int, str]]:
    return [(error.row, error.column) for error in errors]


def test_a_valid_shifts_file_is_read_with_its_offsets() -> None:
    parsed = parse_shifts(
        "\ufeff"  # a spreadsheet's byte order mark
        + SHIFTS_HEADER
        + "sre,ref-a,2026-03-27T08:00:00+01:00,2026-03-29T08:00:00+02:00,1,dublin\n"
        + "\n"  # blank lines are skipped, and so are a spreadsheet's empty rows
        + ",,,,,\n"
        + "sre,ref-b,2026-03-27T07:00:00Z,2026-03-28T07:00:00Z,2,\n"
    )
    assert parsed.ok
    first, second = parsed.rows
    assert (first.team, first.responder, first.level, first.site) == ("sre", "ref-a", 1, "dublin")
    assert first.start == datetime(2026, 3, 27, 8, tzinfo=timezone(timedelta(hours=1)))
    assert first.end - first.start == timedelta(hours=47)  # across Berlin's spring change
    assert (second.level, second.site, second.start) == (2, "", datetime(2026, 3, 27, 7, tzinfo=UTC))


def test_columns_may_come_in_any_order_and_site_may_be_left_out() -> None:
    parsed = parse_shifts("level,end,start,responder,team\n1,2026-01-02T00:00Z,2026-01-01T00:00Z,r,sre\n")
    assert parsed.ok
    assert parsed.rows[0].site == ""


def test_every_bad_field_of_a_shift_is_named_by_row_and_column() -> None:
    parsed = parse_shifts(
        SHIFTS_HEADER
        + "sre,ref-a,2026-01-01T00:00:00,2026-01-02T00:00:00+00:00,1,\n"  # row 2: start without offset
        + ",ref-a,yesterday,2026-01-02,3,\n"  # row 3: team empty, start not a time, end no time, level 3
        + "sre,ref-a,2026-01-02T00:00Z,2026-01-01T00:00Z,1,\n"  # row 4: ends before it starts
        + "sre,,2026-01-01T00:00Z,2026-01-02T00:00Z,2,x\n"  # row 5: no responder
        + "sre,ref-a,2026-01-01T00:00Z,2026-01-02T00:00Z\n"  # row 6: too few fields
        + "sre,ref-c,2026-01-01T00:00Z,2026-01-02T00:00Z,1,\n"  # row 7: fine
        + "sre,ref-d,2026-01-01T00:00Z,2026-01-01T01:00+01:00,1,\n"  # row 8: ends the instant it starts
    )
    assert where(parsed.errors) == [
        (2, "start"),
        (3, "team"),
        (3, "start"),
        (3, "end"),
        (3, "level"),
        (4, "end"),
        (5, "responder"),
        (6, "(row)"),
        (8, "end"),
    ]
    messages = [str(error) for error in parsed.errors]
    assert (
        messages[0]
        == "row 2, column start: '2026-01-01T00:00:00' has no UTC offset (add one, such as +01:00 or Z)"
    )
    assert messages[4] == "row 3, column level: '3' is not one of 1, 2"
    assert messages[5] == "row 4, column end: is not after start"
    assert messages[7] == "row 6, column (row): has 4 fields; the header has 6"
    assert not parsed.ok
    assert [row.responder for row in parsed.rows] == ["ref-c"]


def test_header_errors_stop_the_file_before_any_row() -> None:
    parsed = parse_shifts("team,responder,start,finish,level\nsre,r,2026-01-01T00:00Z,2026-01-02T00:00Z,1\n")
    assert where(parsed.errors) == [(1, "end"), (1, "finish")]
    assert parsed.rows == ()
    assert where(parse_shifts("").errors) == [(1, "(header)")]
    repeated = parse_shifts("team,team,responder,start,end,level\n")
    assert [str(error) for error in repeated.errors] == [
        "row 1, column team: appears more than once in the header"
    ]


def test_a_repeated_row_is_refused_even_with_another_offset_for_the_same_instant() -> None:
    parsed = parse_shifts(
        SHIFTS_HEADER
        + "sre,r,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,1,\n"
        + "sre,r,2026-01-01T01:00:00+01:00,2026-01-02T01:00:00+01:00,1,\n"
    )
    assert [str(error) for error in parsed.errors] == ["row 3, column (row): repeats row 2"]
    assert len(parsed.rows) == 1


def test_a_valid_pages_file_reads_channels_and_urgencies_case_insensitively() -> None:
    parsed = parse_pages(
        PAGES_HEADER
        + "sre,ref-a,America/New_York,2026-03-09T12:30:00Z,INC-1,HIGH,SMS\n"
        + 'sre,ref-b,Europe/Berlin,2026-03-09T13:30:00+01:00,"INC-2, db",low,email\n'
    )
    assert parsed.ok
    first, second = parsed.rows
    assert (first.responder_zone, first.urgency, first.channel) == ("America/New_York", "high", "sms")
    assert (second.incident, second.urgency, second.channel) == ("INC-2, db", "low", "email")


def test_every_bad_field_of_a_page_is_named_by_row_and_column() -> None:
    parsed = parse_pages(
        PAGES_HEADER
        + "sre,ref-a,Mars/Olympus,2026-03-09T12:30:00Z,INC-1,high,push\n"  # row 2: zone
        + "sre,ref-a,Europe/Berlin,2026-03-09,INC-1,urgent,pigeon\n"  # row 3: time, urgency, channel
        + "sre,ref-a,Europe/Berlin,2026-03-09T12:30:00Z,,high,phone\n"  # row 4: incident
        + "sre,ref-a,+01:00,2026-03-09T12:30:00Z,INC-1,high,phone\n"  # row 5: an offset is not a zone
        + "sre,ref\x07a,Europe/Berlin,2026-03-09T12:30:00Z,INC-1,high,phone\n"  # row 6: control character
        + f"sre,{'x' * 201},Europe/Berlin,2026-03-09T12:30:00Z,INC-1,high,phone\n"  # row 7: too long
    )
    assert where(parsed.errors) == [
        (2, "responder_time_zone"),
        (3, "occurred_at"),
        (3, "urgency"),
        (3, "channel"),
        (4, "incident"),
        (5, "responder_time_zone"),
        (6, "responder"),
        (7, "responder"),
    ]
    assert str(parsed.errors[0]) == (
        "row 2, column responder_time_zone: 'Mars/Olympus' is not an IANA time zone such as Europe/Berlin"
    )
    assert str(parsed.errors[3]) == "row 3, column channel: 'pigeon' is not one of push, phone, sms, email"
    assert str(parsed.errors[7]) == "row 7, column responder: is 201 characters long; at most 200"
    assert parsed.rows == ()


def test_a_quoted_field_across_lines_keeps_the_record_numbering() -> None:
    parsed = parse_pages(
        PAGES_HEADER
        + 'sre,ref-a,Europe/Berlin,2026-03-09T12:30:00Z,"INC-1\nsecond line",high,push\n'
        + "sre,ref-a,Europe/Berlin,nope,INC-2,high,push\n"
    )
    # The first record's incident holds a newline (a control character): row 2; the next record is row 3.
    assert where(parsed.errors) == [(2, "incident"), (3, "occurred_at")]
