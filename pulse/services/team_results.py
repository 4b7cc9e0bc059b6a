"""You said, we did: the leader's note on a round, the team's summaries and the no-action reminders.

* :func:`round_note_save`: a leader of the team (or of a team above it) writes or edits a short note to the
  team on a round's results; every saved text is kept (``RoundNoteRevision``). The rule for what a note may
  be is :func:`round_note_clean`, which the form uses too.
* :func:`team_summaries_queue_due` (a tick step): ``PULSE_TEAM_SUMMARY_DELAY_HOURS`` after a round's
  results are aggregated (time for the leader to write a note and plan actions), each member of each team
  of the round that has something shown gets one summary, in their language
  (``surveys.language.language_of``), on the channels they are asked to check in on (the check-ins' rule,
  ``surveys.services.checkin_channels``): an email, a Slack DM (``TeamSummarySlackMessage``, sent by
  ``pulse.services.team_summary_slack``) or both. Each team's summary is rendered once per language by
  ``pulse.selectors.team_results.team_summary`` from exactly what the team's page shows, email and Slack
  from the same parts: the same message for every member, whether or not they answered. Only the latest
  round of a schedule, and only within ``SUMMARY_WINDOW`` after it was due, so switching the feature on
  (or restoring a backup) never mails old rounds. The organisation's ``team_summaries`` switch turns it
  off.
* :func:`no_action_reminders_queue_due` (a tick step): a flag still open or only acknowledged, with no
  action, ``Organisation.no_action_reminder_days`` after it opened (counted, like escalation, from when the
  system really saw it open: its ``EscalationClock``), reminds the team's leaders once per opening.
* :func:`team_results_emails_send_due` (a tick step, and the task woken on commit): delivers the outbox
  (``TeamResultsEmail``) with ``surveys.services.delivery``'s claims and backoff, so two senders never send
  a row twice and a broker outage only delays.

Every queueing step claims its work by inserting a row with a unique key (``TeamSummaryRun`` per round,
``NoActionReminder`` per flag opening, each message's ``idempotency_key``) in the transaction that queues
the messages, so a second tick, or two at once, queue nothing more.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from pulse import dates, transports
from pulse.disclosure.release import TeamIndex
from pulse.models import (
    Action,
    Flag,
    NoActionReminder,
    RoundNote,
    RoundNoteRevision,
    TeamResultsEmail,
    TeamSummaryRun,
)
from pulse.models.team_results import TeamSummarySlackMessage
from pulse.selectors.team_results import TeamResultsBatch, TeamSummary, may_write_note, team_summary
from pulse.services.notifications import flag_leader_chain, flag_url, metric_label
from pulse.services.team_summary_slack import team_summary_slack_wake
from surveys.language import language_of
from surveys.models import CheckinChannel, Membership, Organisation, Person, Round, SlackWorkspace, Team
from surveys.services.checkin_channels import channels_of_people
from surveys.services.delivery import (
    DeliveryFailure,
    TemporaryFailure,
    due_rows_claim,
    retry_wait,
)

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------- the note

NOTE_MAX_CHARACTERS = 1500
NOTE_MAX_PARAGRAPHS = 5
# Control characters but the line feed (a paragraph break is a blank line): a note is shown as text.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]")


def round_note_clean(text: str) -> str:
    """A note as it is stored: line ends as ``\\n``, at most one blank line between paragraphs, trimmed.
    Raises ``ValidationError`` (on the field ``text``) when it is empty, longer than
    ``NOTE_MAX_CHARACTERS``, has more than ``NOTE_MAX_PARAGRAPHS`` paragraphs or a control character."""
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    errors = []
    if not cleaned:
        errors.append(gettext("Write a note to the team, or leave this page without saving."))
    if len(cleaned) > NOTE_MAX_CHARACTERS:
        errors.append(
            gettext("Keep the note to %(limit)d characters (it has %(count)d).")
            % {"limit": NOTE_MAX_CHARACTERS, "count": len(cleaned)}
        )
    paragraphs = [p for p in cleaned.split("\n\n") if p.strip()]
    if len(paragraphs) > NOTE_MAX_PARAGRAPHS:
        errors.append(
            ngettext(
                "Keep the note to %(limit)d paragraph.",
                "Keep the note to %(limit)d paragraphs (blank lines separate them).",
                NOTE_MAX_PARAGRAPHS,
            )
            % {"limit": NOTE_MAX_PARAGRAPHS}
        )
    if _CONTROL.search(cleaned):
        errors.append(gettext("The note cannot contain tabs or other control characters."))
    if errors:
        raise ValidationError({"text": errors})
    return cleaned


def round_note_save(
    *, round_id: int, team_id: int, by: Person, text: str, now: datetime | None = None
) -> RoundNote:
    """Write or replace the note to a team on a closed round's results; the text before is kept as a
    revision. Refused (``PermissionDenied``) for anyone but a leader of the team or above, and for a round
    that did not ask the team or is not closed and counted yet."""
    moment = now or timezone.now()
    cleaned = round_note_clean(text)
    team = Team.objects.filter(pk=team_id, organisation_id=by.organisation_id).first()
    if team is None or not may_write_note(person=by, team_id=team.pk):
        raise PermissionDenied("Only the team's leaders (or leaders above it) write its note.")
    round_ = (
        Round.objects.filter(
            pk=round_id,
            organisation_id=team.organisation_id,
            status=Round.Status.CLOSED,
            aggregated_at__isnull=False,
        )
        .select_related("team", "schedule")
        .first()
    )
    if round_ is None or not _round_covers(round_, team):
        raise PermissionDenied("A note is written on a closed round that asked the team.")
    with transaction.atomic():
        note, created = RoundNote.objects.select_for_update().get_or_create(
            round_id=round_.pk,
            team_id=team.pk,
            defaults={
                "organisation_id": team.organisation_id,
                "text": cleaned,
                "written_by": by,
                "created_at": moment,
                "updated_at": moment,
            },
        )
        if not created:
            if note.text == cleaned:
                return note
            note.text, note.written_by, note.updated_at = cleaned, by, moment
            note.save(update_fields=["text", "written_by", "updated_at"])
        RoundNoteRevision.objects.create(note=note, text=cleaned, written_by=by, written_at=moment)
    return note


def _round_covers(round_: Round, team: Team) -> bool:
    if round_.team_id == team.pk:
        return True
    return bool(
        round_.schedule and round_.schedule.include_subtree and team.path.startswith(round_.team.path)
    )


# ------------------------------------------------------------------------------------------ the summary

#: A round's summaries go out only this long after they were due: never a backlog of old rounds.
SUMMARY_WINDOW = timedelta(days=7)


def summary_delay() -> timedelta:
    return timedelta(hours=settings.PULSE_TEAM_SUMMARY_DELAY_HOURS)


def _summary_rounds_due(now: datetime) -> list[Round]:
    """The latest closed, aggregated round of each schedule whose summaries are due and not queued yet,
    in organisations that send them."""
    due_before = now - summary_delay()
    newer = Round.objects.filter(
        schedule=OuterRef("schedule"),
        status=Round.Status.CLOSED,
        aggregated_at__isnull=False,
        closes_at__gt=OuterRef("closes_at"),
    )
    return list(
        Round.objects.filter(
            status=Round.Status.CLOSED,
            aggregated_at__lte=due_before,
            aggregated_at__gte=due_before - SUMMARY_WINDOW,
            organisation__team_summaries=True,
        )
        .exclude(Exists(newer))
        .exclude(Exists(TeamSummaryRun.objects.filter(round=OuterRef("pk"))))
        .select_related("organisation", "team", "schedule")
        .order_by("aggregated_at", "pk")[:10]
    )


def team_summaries_skip_history(*, round_ids: list[int], now: datetime) -> int:
    """Mark rounds loaded as history (the demo's past) as summarised without sending anything: the past is
    not news, so a first start mails no team the results of rounds it never waited for. Returns how many
    rounds were marked; a round already queued is left as it is."""
    runs = [TeamSummaryRun(round_id=round_id, queued_at=now, messages=0) for round_id in round_ids]
    return len(TeamSummaryRun.objects.bulk_create(runs, ignore_conflicts=True))


def team_summaries_queue_due(*, now: datetime | None = None) -> int:
    """Tick step: queue the summaries of one due round (see the module docstring). Returns how many
    messages (emails and Slack DMs) were queued (0 when no round was due; a round with nothing to send
    still counts as done)."""
    moment = now or timezone.now()
    for round_ in _summary_rounds_due(moment):
        try:
            with transaction.atomic():
                run = TeamSummaryRun.objects.create(round=round_, queued_at=moment)
                emails, dms = _queue_round_summaries(round_, moment)
                run.messages = emails + dms
                run.save(update_fields=["messages"])
        except IntegrityError:
            continue  # another tick queued this round first
        if emails:
            transaction.on_commit(_wake_worker)
        if dms:
            transaction.on_commit(team_summary_slack_wake)
        return max(emails + dms, 1)
    return 0


def _queue_round_summaries(round_: Round, now: datetime) -> tuple[int, int]:
    """Queue the round's summaries; returns how many emails and how many Slack DMs."""
    teams = TeamIndex.of(round_.organisation_id)
    covered = teams.subtree(round_.team.path)
    if not (round_.schedule and round_.schedule.include_subtree):
        covered = [t for t in covered if t.pk == round_.team_id]
    members: dict[int, list[Person]] = {}
    for membership in (
        Membership.objects.current(now.date())
        .filter(team_id__in=[t.pk for t in covered], person__is_active=True)
        .exclude(person__email="")
        .select_related("person__organisation")
        .order_by("person_id")
    ):
        people = members.setdefault(membership.team_id, [])
        if membership.person not in people:
            people.append(membership.person)
    if not members:
        return 0, 0
    # Every team's results in one unit of work: its rounds listed and released once for all teams and
    # languages (a release is the same whoever reads it, and so is a member's page: any member will do).
    batch = TeamResultsBatch(reader=next(iter(members.values()))[0], teams=teams, team_ids=list(members))
    channels = channels_of_people(sorted({p.pk for people in members.values() for p in people}))
    workspace = SlackWorkspace.objects.filter(organisation_id=round_.organisation_id)
    workspace_id = workspace.values_list("pk", flat=True).first()
    rows: list[TeamResultsEmail] = []
    dms: list[TeamSummarySlackMessage] = []
    for team in covered:
        people = members.get(team.pk, [])
        if not people:
            continue
        rendered: dict[str, TeamSummary | None] = {}
        for person in people:
            language = language_of(person)
            if language not in rendered:
                with translation.override(language):
                    results = batch.results(team.pk)
                    latest = results.round
                    # The team's latest round is another schedule's: that round sends its own summary.
                    fresh = latest is not None and latest.pk == round_.pk
                    rendered[language] = team_summary(results) if fresh else None
            summary = rendered[language]
            if summary is None:
                continue
            asked_on = channels.get(person.pk, frozenset({CheckinChannel.EMAIL}))
            if CheckinChannel.SLACK in asked_on and workspace_id is not None:
                dms.append(
                    TeamSummarySlackMessage(
                        organisation_id=round_.organisation_id,
                        workspace_id=workspace_id,
                        recipient=person,
                        team_id=team.pk,
                        round=round_,
                        idempotency_key=f"summary-slack:round-{round_.pk}:team-{team.pk}:person-{person.pk}",
                        text=summary.slack.text,
                        blocks=summary.slack.blocks,
                        due_at=now,
                        created_at=now,
                    )
                )
            if CheckinChannel.EMAIL not in asked_on:
                continue
            rows.append(
                TeamResultsEmail(
                    organisation_id=round_.organisation_id,
                    kind=TeamResultsEmail.Kind.SUMMARY,
                    recipient=person,
                    team_id=team.pk,
                    round=round_,
                    idempotency_key=f"summary:round-{round_.pk}:team-{team.pk}:person-{person.pk}",
                    subject=summary.subject[:300],
                    body=summary.text,
                    html=summary.html,
                    due_at=now,
                    created_at=now,
                )
            )
    TeamResultsEmail.objects.bulk_create(rows, ignore_conflicts=True)
    TeamSummarySlackMessage.objects.bulk_create(dms, ignore_conflicts=True)
    return len(rows), len(dms)


# ------------------------------------------------------------------------------------ the reminder


def no_action_reminders_queue_due(*, now: datetime | None = None, batch: int = 100) -> int:
    """Tick step: remind the leaders of flags with no action N days after they opened, once per opening
    (see the module docstring). Returns how many flags were reminded about."""
    moment = now or timezone.now()
    reminded = 0
    for organisation in Organisation.objects.only("pk", "no_action_reminder_days"):
        cutoff = moment - timedelta(days=organisation.no_action_reminder_days)
        already = NoActionReminder.objects.filter(flag=OuterRef("pk"), opened_at=OuterRef("opened_at"))
        flags = list(
            Flag.objects.filter(
                organisation_id=organisation.pk,
                state__in=[Flag.State.OPEN, Flag.State.ACKNOWLEDGED],
                opened_at__lte=cutoff,
                escalation_clock__opened_at=F("opened_at"),
                escalation_clock__started_at__lte=cutoff,
            )
            .exclude(Exists(Action.objects.filter(flag=OuterRef("pk"))))
            .exclude(Exists(already))
            .select_related("team", "organisation")
            .order_by("opened_at", "pk")[: batch - reminded]
        )
        for flag in flags:
            if _remind(flag, moment):
                reminded += 1
        if reminded >= batch:
            break
    if reminded:
        transaction.on_commit(_wake_worker)
    return reminded


def _remind(flag: Flag, now: datetime) -> bool:
    assert flag.opened_at is not None
    chain = flag_leader_chain(flag=flag)
    leaders = chain[0][1] if chain else []
    try:
        with transaction.atomic():
            NoActionReminder.objects.create(flag=flag, opened_at=flag.opened_at, reminded_at=now)
            rendered: dict[str, tuple[str, str, str]] = {}
            rows = []
            for person in leaders:
                if not person.email:
                    continue
                language = language_of(person)
                if language not in rendered:
                    rendered[language] = _reminder_in(language, flag)
                subject, body, html = rendered[language]
                rows.append(
                    TeamResultsEmail(
                        organisation_id=flag.organisation_id,
                        kind=TeamResultsEmail.Kind.NO_ACTION_REMINDER,
                        recipient=person,
                        team_id=flag.team_id,
                        flag=flag,
                        idempotency_key=(
                            f"no-action:flag-{flag.pk}:opened-{int(flag.opened_at.timestamp())}:"
                            f"person-{person.pk}"
                        ),
                        subject=subject[:300],
                        body=body,
                        html=html,
                        due_at=now,
                        created_at=now,
                    )
                )
            TeamResultsEmail.objects.bulk_create(rows, ignore_conflicts=True)
    except IntegrityError:
        return False  # another tick reminded about this opening first
    return True


def _reminder_in(language: str, flag: Flag) -> tuple[str, str, str]:
    assert flag.opened_at is not None
    with translation.override(language):
        context = {
            "team": flag.team.name,
            "metric": metric_label(flag.metric),
            "opened": dates.day_text(flag.opened_at, flag.organisation.time_zone),
            "days": flag.organisation.no_action_reminder_days,
            "url": flag_url(flag),
        }
        subject = gettext("[Pulse] No action recorded yet: %(team)s — %(metric)s") % context
        body = render_to_string("pulse/email/no_action_reminder.txt", context).rstrip("\n")
        html = render_to_string("pulse/email/no_action_reminder.html", context)
    return subject, body, html


# ------------------------------------------------------------------------------------------- delivery

SEND_BATCH = 50
CLAIM_FOR = timedelta(minutes=15)  # a batch of 50 at the transport's 10 s time-out fits
MAX_ATTEMPTS = 8


def _wake_worker() -> None:
    # By name: a service enqueues a task without importing the task layer above it.
    try:
        current_app.send_task("pulse.tasks.send_team_results_emails", retry=False)
    except Exception as error:  # the broker is down: the minute tick sends them instead
        logger.warning(
            "team results emails: cannot wake a worker (%s); the tick will send", type(error).__name__
        )


def team_results_emails_claim(
    *, now: datetime, batch: int = SEND_BATCH
) -> tuple[uuid.UUID, list[TeamResultsEmail]]:
    """Claim up to ``batch`` due rows by conditional UPDATE (``surveys.services.delivery.due_rows_claim``)."""
    return due_rows_claim(TeamResultsEmail, now=now, batch=batch, claim_for=CLAIM_FOR, related=("recipient",))


def team_results_emails_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Tick step (and the woken worker's task): send one batch. Returns how many emails went out."""
    moment = now or timezone.now()
    claim, rows = team_results_emails_claim(now=moment, batch=batch)
    sent = 0
    email = transports.EmailTransport()
    try:
        for row in rows:
            try:
                email.send(to=row.recipient.email, subject=row.subject, body=row.body, html=row.html)
            except DeliveryFailure as failure:
                _record_failure(row, failure, moment)
                continue
            except Exception as error:  # a poisoned row must not wedge the batch
                logger.exception("team results email %s: unexpected error", row.pk)
                _record_failure(row, TemporaryFailure(type(error).__name__), moment)
                continue
            TeamResultsEmail.objects.filter(pk=row.pk, claim=claim).update(
                status=TeamResultsEmail.Status.SENT,
                sent_at=moment,
                claim=None,
                claimed_until=None,
                last_error="",
            )
            sent += 1
    finally:
        email.close()
    return sent


def _record_failure(row: TeamResultsEmail, failure: DeliveryFailure, moment: datetime) -> None:
    attempts = row.attempts + 1
    reason = str(failure)[:500]
    wait = retry_wait(failure, attempts, max_attempts=MAX_ATTEMPTS)
    rows = TeamResultsEmail.objects.filter(pk=row.pk)
    if wait is None:
        rows.update(
            status=TeamResultsEmail.Status.FAILED,
            attempts=attempts,
            claim=None,
            claimed_until=None,
            last_error=reason,
        )
        logger.warning("team results email %s failed permanently: %s", row.pk, reason)
        return
    rows.update(attempts=attempts, due_at=moment + wait, claim=None, claimed_until=None, last_error=reason)
