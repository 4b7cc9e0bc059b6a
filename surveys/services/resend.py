"""Send a person's open check-in links again ("I lost my check-in link"), without saying whether they exist.

The invitation row is the email outbox (``surveys.services.emails``): its next message is sent when
``email_due_at`` has passed. Resending is therefore one UPDATE that brings the next message of each of
the person's open, unanswered invitations forward to now; the next tick's sender sends it with the link
it already carries (the sealed token, as reminders do), and the row moves on as usual. Nothing is sent in
the request, and the statement is the same whether the address is anyone's or not.

Limits, on purpose: a message being sent right now (claimed) is left to its sender; an invitation whose
messages are all used (the invitation and two reminders) gets no more, so however often someone types a
person's address, that person receives at most three emails per round. Bringing a reminder forward means
it is not sent again at its planned time. Once all are used, the person can still sign in by email link
and open the check-in from "My check-ins".
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from surveys.models import Invitation, Participation, Round
from surveys.services.delivery import unclaimed


def checkin_links_resend(*, email: str, now: datetime | None = None) -> int:
    """Bring forward the next email of every open invitation of the active person(s) with this address.

    Returns how many invitations will be sent again. Callers must not show it.
    """
    moment = now or timezone.now()
    answered = Participation.objects.filter(round_id=OuterRef("round_id"), person_id=OuterRef("person_id"))
    return (
        Invitation.objects.filter(
            person__email__iexact=email.strip(),
            person__is_active=True,
            round__status=Round.Status.OPEN,
            spent=False,
            expires_at__gt=moment,
            sealed_token__isnull=False,
            emails_handled__lt=len(Invitation.EMAIL_DUE_FIELDS),
        )
        .filter(unclaimed(moment, until_field="email_claimed_until"))
        .filter(~Exists(answered))
        .update(email_due_at=moment)
    )
