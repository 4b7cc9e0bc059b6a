"""Models of the surveys app, one module per part of the domain (imported here so Django finds them)."""

from surveys.models.instruments import Instrument, Question, Scale
from surveys.models.organisation import Membership, Organisation, Person, Team
from surveys.models.rounds import (
    ANSWER_BEARING_MODELS,
    AnswerCount,
    Comment,
    Invitation,
    Participation,
    RespondentCount,
    Round,
    Schedule,
    SchedulePause,
    ScoreCount,
    SealedBallot,
)
from surveys.models.slack import CheckinChannel, SlackMessage, SlackUser, SlackWorkspace
from surveys.models.tick import DeliveryCount, StepTiming, TickHeartbeat

__all__ = [
    "ANSWER_BEARING_MODELS",
    "AnswerCount",
    "CheckinChannel",
    "Comment",
    "DeliveryCount",
    "Instrument",
    "Invitation",
    "Membership",
    "Organisation",
    "Participation",
    "Person",
    "Question",
    "RespondentCount",
    "Round",
    "Scale",
    "Schedule",
    "SchedulePause",
    "ScoreCount",
    "SealedBallot",
    "SlackMessage",
    "SlackUser",
    "SlackWorkspace",
    "StepTiming",
    "Team",
    "TickHeartbeat",
]
