"""The check-in as a Slack modal (Block Kit): built from the round's questions, read back into the same
answers the web form posts. No ORM beyond what the caller loaded; nothing stored.

Slack's limits (docs.slack.dev, "Block Kit" and "Modals"): at most 100 blocks in a view, 10 options in a
radio group, 75 characters in an option's text, 24 in the title, 3,000 in ``private_metadata``. A round
that does not fit is refused cleanly (:class:`TooLargeForSlack`): the person gets a button to the web
check-in instead of a form with questions missing.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from surveys.models import Question, Round
from surveys.services.answering import COMMENT_MAX_CHARS, round_questions

MAX_BLOCKS = 100
MAX_OPTIONS = 10
MAX_OPTION_CHARS = 75
MAX_LABEL_CHARS = 2000
CALLBACK_ID = "pulse_checkin"
ANSWER_ACTION = "answer"


def anonymity_line(k: int) -> str:
    """The one line on anonymity, in the DM and atop the modal."""
    return gettext(
        "Your answers are anonymous: results are shown only for groups of %(k)s or more people."
    ) % {"k": k}


class TooLargeForSlack(Exception):
    """The round's questions do not fit one Slack modal."""


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _question_block(question: Question, locale: str) -> dict[str, Any]:
    label = _plain(question.text_in(locale), MAX_LABEL_CHARS)
    element: dict[str, Any]
    if question.kind == "text":
        element = {
            "type": "plain_text_input",
            "action_id": ANSWER_ACTION,
            "multiline": True,
            "max_length": COMMENT_MAX_CHARS,
        }
    else:
        options = question.options_in(locale)
        if len(options) > MAX_OPTIONS:
            raise TooLargeForSlack(question.key)
        element = {
            "type": "radio_buttons",
            "action_id": ANSWER_ACTION,
            "options": [
                {"text": _plain(str(option["label"]), MAX_OPTION_CHARS), "value": str(option["value"])}
                for option in options
            ],
        }
    return {
        "type": "input",
        "block_id": question.key,
        "optional": question.optional,
        "label": label,
        "element": element,
    }


def checkin_modal(round_: Round, *, token: str, locale: str, k: int) -> dict[str, Any]:
    """The modal of one person's check-in (texts in the active language; ``locale`` picks the instrument's
    own translations). ``private_metadata`` carries the link's token, as the web form's URL does."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": anonymity_line(k),
                }
            ],
        }
    ]
    instrument_id = None
    for question in round_questions(round_):
        if question.instrument_id != instrument_id:
            instrument_id = question.instrument_id
            stem = question.instrument.stem_in(locale)
            if stem:
                blocks.append({"type": "section", "text": _plain(stem, 3000)})
        blocks.append(_question_block(question, locale))
    if len(blocks) > MAX_BLOCKS:
        raise TooLargeForSlack(f"{len(blocks)} blocks")
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": token,
        "title": _plain(gettext("Check-in"), 24),
        "submit": _plain(gettext("Send"), 24),
        "close": _plain(gettext("Cancel"), 24),
        "blocks": blocks,
    }


def notice_modal(text: str, *, url: str = "") -> dict[str, Any]:
    """A modal that only says something (a refused link, a round too large for Slack), with a button to
    the web check-in when ``url`` is given."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _plain(text, 3000)}]
    if url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "pulse_checkin_link",
                        "text": _plain(gettext("Answer on the web"), 75),
                        "url": url,
                    }
                ],
            }
        )
    return {
        "type": "modal",
        "title": _plain(gettext("Check-in"), 24),
        "close": _plain(gettext("Close"), 24),
        "blocks": blocks,
    }


def answers_from_view(view: dict[str, Any]) -> dict[str, Any]:
    """The answers of a ``view_submission``, keyed by question key like the web form's fields: a radio
    group's chosen value, a text input's text; unanswered questions are left out."""
    answers: dict[str, Any] = {}
    values = (view.get("state") or {}).get("values") or {}
    for block_id, actions in values.items():
        action = (actions or {}).get(ANSWER_ACTION) or {}
        if action.get("type") == "radio_buttons":
            chosen = action.get("selected_option") or {}
            value = chosen.get("value")
        else:
            value = action.get("value")
        if value not in (None, ""):
            answers[str(block_id)] = value
    return answers
