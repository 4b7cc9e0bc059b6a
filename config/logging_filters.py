"""Keep secrets that travel in URLs out of every log line.

Check-in and sign-in links carry a single-use token in their path. Whoever reads the logs must not be
able to replay it, nor tie a token (and so an invitation, and so a person) to a request's timing.
"""

from __future__ import annotations

import logging
import re

# /checkin/<token>/, /login/link/<token>/, /account/email/<token>/ (confirm a new address) and
# /emails/pause/<token>/ (pause check-in emails): the token is replaced, the rest of the line is kept.
TOKEN_IN_PATH = re.compile(r"(/(?:checkin|login/link|account/email|emails/pause)/)[A-Za-z0-9_\-]{8,}")
# The single sign-on callback (/login/sso/callback/?code=...&state=...): the provider's one-time code and
# the state that goes with it are credentials until spent.
CODE_IN_QUERY = re.compile(r"([?&](?:code|state)=)[^&\s\"']+")


def redact(text: str) -> str:
    return CODE_IN_QUERY.sub(r"\1[redacted]", TOKEN_IN_PATH.sub(r"\1[redacted]", text))


class RedactTokens(logging.Filter):
    """Redact tokens from the message; drop an attached request whose path holds one (Django attaches the
    request to django.request records, and handlers such as mail_admins print it whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        request = getattr(record, "request", None)
        if request is not None:
            full_path = request.get_full_path() if hasattr(request, "get_full_path") else ""
            path = full_path or getattr(request, "path", "")
            if redact(path) != path:
                record.request = None
        return True
