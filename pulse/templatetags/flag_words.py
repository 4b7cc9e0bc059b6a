"""A flag's severity, state and history entries in the page's language: ``{{ flag.severity|severity_word }}``,
``{{ flag.state|state_word }}``, ``{{ event.kind|event_word }}``; and the language of a flag's metric label,
``<span{% with lang=flag.metric|label_lang %}{% if lang %} lang="{{ lang }}"{% endif %}{% endwith %}>``.

The models' choice labels stay untranslated English on purpose: the notification outbox writes them into
messages inside whatever request raised the event (a German leader resolving a flag must not put German
into an English colleague's email), and the API and admin show them as they are. The pages translate them
here instead, from the same values (docs/languages.md §1).
"""

from __future__ import annotations

from django import template
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from pulse.models import Flag, FlagEvent
from pulse.selectors import flag_words

register = template.Library()

SEVERITY: dict[str, Promise] = {
    Flag.Severity.WATCH: pgettext_lazy("flag severity", "Watch"),
    Flag.Severity.WARNING: pgettext_lazy("flag severity", "Warning"),
    Flag.Severity.ALERT: pgettext_lazy("flag severity", "Alert"),
}

STATE: dict[str, Promise] = {
    Flag.State.PENDING: pgettext_lazy("flag state", "Pending (seen once; waits for a second evaluation)"),
    Flag.State.OPEN: pgettext_lazy("flag state", "Open"),
    Flag.State.ACKNOWLEDGED: pgettext_lazy("flag state", "Acknowledged"),
    Flag.State.ACTION_PLANNED: pgettext_lazy("flag state", "Action planned"),
    Flag.State.RESOLVED: pgettext_lazy("flag state", "Resolved"),
    Flag.State.LAPSED: pgettext_lazy("flag state", "Lapsed (did not hold for a second evaluation)"),
}

# A history entry's kind as the selectors give it (the model's English label).
EVENT: dict[str, Promise] = {
    FlagEvent.Kind.DETECTED.label: pgettext_lazy("flag event", "Detected (pending)"),
    FlagEvent.Kind.OPENED.label: pgettext_lazy("flag event", "Opened"),
    FlagEvent.Kind.UPDATED.label: pgettext_lazy("flag event", "Updated by a trend run"),
    FlagEvent.Kind.REASON_ADDED.label: pgettext_lazy("flag event", "New evidence"),
    FlagEvent.Kind.LAPSED.label: pgettext_lazy("flag event", "Did not hold"),
    FlagEvent.Kind.RETURNING.label: pgettext_lazy("flag event", "Decline seen again (pending)"),
    FlagEvent.Kind.REOPENED.label: pgettext_lazy("flag event", "Reopened"),
    FlagEvent.Kind.ACKNOWLEDGED.label: pgettext_lazy("flag event", "Acknowledged"),
    FlagEvent.Kind.ACTION_PLANNED.label: pgettext_lazy("flag event", "Action planned"),
    FlagEvent.Kind.RESOLVED.label: pgettext_lazy("flag event", "Resolved by hand"),
    FlagEvent.Kind.REOPENED_BY_HAND.label: pgettext_lazy("flag event", "Reopened by a leader"),
    FlagEvent.Kind.RECOVERED.label: pgettext_lazy("flag event", "Recovered"),
    FlagEvent.Kind.ESCALATED.label: pgettext_lazy("flag event", "Escalated"),
}


@register.filter
def severity_word(value: str) -> str:
    return str(SEVERITY.get(value, value))


@register.filter
def state_word(value: str) -> str:
    return str(STATE.get(value, value))


@register.filter
def event_word(label: str) -> str:
    return str(EVENT.get(label, label))


# Who a history entry names: a person's name as it was, or the trend run ("system", pulse.services.flags).
SYSTEM = pgettext_lazy("who did it: the trend run", "system")


@register.filter
def actor_word(label: str) -> str:
    return str(SYSTEM) if label == "system" else label


@register.filter
def label_lang(metric: str) -> str:
    """The language to mark a flag's label with: "en" for an instrument's (English data), "" for an on-call
    load measure's, which is shown in the page's language (``pulse.selectors.flag_words.label_lang``)."""
    return flag_words.label_lang(metric)
