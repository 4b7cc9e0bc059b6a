"""Models of the surveys app, one module per part of the domain (imported here so Django finds them)."""

from surveys.models.instruments import Instrument, Question, Scale
from surveys.models.organisation import Membership, Organisation, Person, Team

__all__ = ["Instrument", "Membership", "Organisation", "Person", "Question", "Scale", "Team"]
