"""Marks English text of the pure modules for the translation catalogue, without translating it.

``pulse.analysis`` must not import Django (lint-imports), so it cannot call ``gettext``. Its fixed texts
(the glossary's terms, the suggestions, the reasons' names) are wrapped in :func:`gettext_noop`, the name
Django's ``makemessages`` extracts, and stay English here; whoever shows one translates it then, with
``gettext(text)`` in the reader's language (``pulse.selectors.flags``, ``pulse.web.leader``). Sentences
with numbers are worded through ``pulse.analysis.sentences.Words`` instead (docs/languages.md §8).
"""

from __future__ import annotations


def gettext_noop(message: str) -> str:
    """``message`` as it is; ``makemessages`` puts it in the catalogue (Django's own gettext_noop)."""
    return message
