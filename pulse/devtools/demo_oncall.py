"""On-call load and time off for the demo's two SRE teams, loaded through the CSV import like anyone's.

``demo_oncall_create()`` writes ``shifts.csv``, ``pages.csv`` and a time-off CSV as text and hands them to
``pulse.services.oncall.oncall_csv_import`` and ``oncall_time_off_import``, the same services the admin page
and ``manage.py pulse_oncall_import`` call. The data lines up with the survey history of
``pulse.devtools.demo_history`` (twelve weekly rounds before today) and starts four weeks earlier:

* **SRE Americas** (New York): a thin rota, four of its eight people, all at one site, covering two
  12-hour shifts a day, so each is on call a quarter of the time over the rotation's four weeks (some
  weeks more, some less): at the SRE book's limit, not beyond it, while the rotation is half its minimum.
  Its sleep-hour pages start rising four weeks *before* the survey history begins and keep rising, while
  its burnout rises week after week in the check-ins; in the last weeks its incidents per 12-hour shift
  pass the SRE book's limit of 2. Two of its people had a week off early on; by the end only one of its
  eight has had one in the last 90 days.
* **SRE Europe** (Berlin): eight people at one site share the same shifts, a steady handful of pages with
  a night page now and then; six of its eight take a week off about every ten weeks.

Responders are opaque tool ids (``PAM…``, ``PEU…``), as an on-call tool exports them; Pulse hashes them.
Deterministic (one seed). Idempotent: a team that already has shifts gets nothing more, and the imports
would store nothing twice anyway.
"""

from __future__ import annotations

import logging
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from pulse.models import OncallShift
from pulse.services.oncall import oncall_csv_import, oncall_time_off_import
from surveys.models import Membership, Organisation, Team

logger = logging.getLogger(__name__)

SEED = 20
HISTORY_WEEKS = 12
LEAD_WEEKS = 4  # the load rises before the check-ins show it
SHIFT_HOURS = 12


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _sleep_pages(slug: str, week: int) -> int:
    """Night pages in week ``week`` (0 = the first survey week; negative: before the history)."""
    if slug == "sre-americas":
        return 1 + max(0, week + LEAD_WEEKS - 1) * 2
    return 1 if week % 3 == 0 else 0


def _day_pages(slug: str, week: int) -> int:
    if slug == "sre-americas":
        return 5 + max(0, week) // 2
    return 4


def _rota(slug: str) -> list[str]:
    return (
        [f"PAM{n:04d}" for n in range(1, 5)]
        if slug == "sre-americas"
        else [f"PEU{n:04d}" for n in range(1, 9)]
    )


def _site(slug: str) -> str:
    return "new-york" if slug == "sre-americas" else "berlin"


def _week_rows(
    slug: str, zone: str, monday: date, week: int, rng: random.Random, now: datetime
) -> tuple[list[str], list[str]]:
    """One week's shift and page lines: two 12-hour primary shifts a day (08:00 and 20:00 local), the rota
    taking turns, and each incident paging the person on call by push and, 20 s later, by phone."""
    tz = ZoneInfo(zone)
    rota = _rota(slug)
    shifts: list[tuple[datetime, datetime, str]] = []
    for index in range(14):
        day = monday + timedelta(days=index // 2)
        start = datetime(day.year, day.month, day.day, 8 if index % 2 == 0 else 20, tzinfo=tz)
        end = (start.astimezone(ZoneInfo("UTC")) + timedelta(hours=SHIFT_HOURS)).astimezone(tz)
        if end > now:
            break
        # Week by week the turns move on by one, so everyone gets nights and weekends.
        shifts.append((start, end, rota[(index + week * 14) % len(rota)]))
    shift_lines = [f"{slug},{who},{a.isoformat()},{b.isoformat()},1,{_site(slug)}" for a, b, who in shifts]

    def on_call(moment: datetime) -> str | None:
        return next((who for a, b, who in shifts if a <= moment < b), None)

    page_lines: list[str] = []
    wanted = [("sleep", _sleep_pages(slug, week)), ("day", _day_pages(slug, week))]
    for kind, count in wanted:
        for number in range(count):
            day = monday + timedelta(days=rng.randrange(7))
            hour = rng.choice((23, 0, 1, 2, 3, 4, 5)) if kind == "sleep" else rng.randrange(9, 21)
            moment = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=tz)
            who = on_call(moment)
            if who is None:
                continue
            incident = f"{slug[:6].upper()}-{monday.isoformat()}-{kind}-{number}"
            for channel, delay in (("push", 0), ("phone", 20)):
                at = (moment + timedelta(seconds=delay)).isoformat()
                page_lines.append(f"{slug},{who},{zone},{at},{incident},high,{channel}")
    return shift_lines, page_lines


def _time_off_lines(team: Team, today: date, breaks: dict[int, tuple[int, ...]]) -> list[str]:
    """Weeks off (Monday to Friday) for the members named in ``breaks`` (position -> weeks ago), and for
    everyone single days here and there, which do not count as a break."""
    emails = sorted(
        Membership.objects.current()
        .filter(team=team, role=Membership.Role.MEMBER)
        .values_list("person__email", flat=True)
        .distinct()
    )
    this_monday = _monday(today)
    lines = []
    for position, email in enumerate(emails):
        for weeks_ago in breaks.get(position, ()):
            monday = this_monday - timedelta(weeks=weeks_ago)
            lines.append(f"{email},{monday.isoformat()},{(monday + timedelta(days=4)).isoformat()}")
        wednesday = this_monday - timedelta(weeks=1 + position, days=-2)
        lines.append(f"{email},{wednesday.isoformat()},{wednesday.isoformat()}")
    return lines


# SRE Americas: two people had a week off early in the history, which drops out of the 90 days; only one
# more has had one since. SRE Europe: six of eight take a week off about every ten weeks.
BREAKS: dict[str, dict[int, tuple[int, ...]]] = {
    "sre-americas": {0: (15,), 1: (13,), 2: (3,)},
    "sre-europe": {position: (2 + position, 12 + position) for position in range(6)},
}


def demo_oncall_create(*, organisation: Organisation, now: datetime | None = None) -> bool:
    """Load the SRE teams' on-call load and time off (module docstring). False when already loaded."""
    moment = now or timezone.now()
    teams = {
        team.slug: team for team in Team.objects.filter(organisation=organisation, slug__startswith="sre-")
    }
    if not teams or OncallShift.objects.filter(team__in=teams.values()).exists():
        return False
    rng = random.Random(SEED)
    shift_lines = ["team,responder,start,end,level,site"]
    page_lines = ["team,responder,responder_time_zone,occurred_at,incident,urgency,channel"]
    time_off_lines = ["email,first_day,last_day"]
    for slug, team in sorted(teams.items()):
        zone = team.effective_time_zone
        this_monday = _monday(moment.astimezone(ZoneInfo(zone)).date())
        first_survey_monday = this_monday - timedelta(weeks=HISTORY_WEEKS)
        for week in range(-LEAD_WEEKS, HISTORY_WEEKS):
            monday = first_survey_monday + timedelta(weeks=week)
            shifts, pages = _week_rows(slug, zone, monday, week, rng, moment)
            shift_lines += shifts
            page_lines += pages
        time_off_lines += _time_off_lines(team, moment.date(), BREAKS.get(slug, {}))
    # Time off first: the load's import then computes each week's time-off share with it.
    time_off = oncall_time_off_import(
        organisation_id=organisation.pk, csv_text="\n".join(time_off_lines) + "\n", dry_run=False
    )
    if not time_off.applied:
        raise RuntimeError(f"the demo's time-off CSV was refused: {list(time_off.errors)}")
    report = oncall_csv_import(
        organisation_id=organisation.pk,
        shifts_text="\n".join(shift_lines) + "\n",
        pages_text="\n".join(page_lines) + "\n",
        dry_run=False,
    )
    if not report.applied:
        raise RuntimeError(
            f"the demo's on-call CSV was refused: {[*report.shift_errors, *report.page_errors]}"
        )
    logger.info(
        "demo on-call: %s shifts, %s pages, %s absences",
        report.total.shifts_new,
        report.total.pages_new,
        time_off.absences_new,
    )
    return True
