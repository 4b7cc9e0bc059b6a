"""Email from the environment: which backend sends, and django-anymail's settings for a provider's API.

``PULSE_EMAIL_PROVIDER`` picks the way out by name (``smtp``, ``console``, or one of anymail's providers:
``mailgun``, ``postmark``, ``amazon_ses``…); ``EMAIL_BACKEND`` names any backend class instead, and setting
both is an error. Every ``ANYMAIL_<SETTING>`` variable becomes ``ANYMAIL["<SETTING>"]``, the dictionary
anymail reads (``ANYMAIL_MAILGUN_API_KEY`` → ``ANYMAIL["MAILGUN_API_KEY"]``), and like every variable it can
be given as a file (``ANYMAIL_MAILGUN_API_KEY_FILE``, ``config/env.py``). Kept free of Django settings so
``config/settings.py`` can call it.
"""

from __future__ import annotations

import json
import pkgutil

import anymail.backends
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_names, env_str

ANYMAIL_PREFIX = "ANYMAIL_"
DJANGO_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}
# anymail's modules that are not a provider (its own console and test backends are for its test suite;
# Django's console backend is the development default).
_NOT_PROVIDERS = {"base", "base_requests", "console", "test"}
# anymail's settings that are switches or numbers rather than text (anymail's "Installation" page lists
# them); a value that starts with { or [ is JSON (SEND_DEFAULTS, AMAZON_SES_CLIENT_PARAMS…).
_BOOLEAN_SETTINGS = ("IGNORE_UNSUPPORTED_FEATURES", "IGNORE_RECIPIENT_STATUS", "DEBUG_API_REQUESTS")
_NUMBER_SETTINGS = ("REQUESTS_TIMEOUT",)


def anymail_providers() -> list[str]:
    """The providers the installed anymail has a backend for."""
    names = (module.name for module in pkgutil.iter_modules(anymail.backends.__path__))
    return sorted(name for name in names if name not in _NOT_PROVIDERS)


def email_backend(default: str) -> str:
    """The backend class path: from ``PULSE_EMAIL_PROVIDER`` or ``EMAIL_BACKEND``, else ``default``
    (a name of ``DJANGO_BACKENDS``)."""
    provider = env_str("PULSE_EMAIL_PROVIDER").strip()
    backend = env_str("EMAIL_BACKEND").strip()
    if provider and backend:
        raise ImproperlyConfigured(
            "EMAIL_BACKEND and PULSE_EMAIL_PROVIDER are both set: set only one of them"
        )
    if backend:
        return backend
    if not provider:
        return DJANGO_BACKENDS[default]
    if provider in DJANGO_BACKENDS:
        return DJANGO_BACKENDS[provider]
    providers = anymail_providers()
    if provider not in providers:
        known = ", ".join([*DJANGO_BACKENDS, *providers])
        raise ImproperlyConfigured(f"PULSE_EMAIL_PROVIDER must be one of {known}, got {provider!r}")
    return f"anymail.backends.{provider}.EmailBackend"


def anymail_settings() -> dict[str, object]:
    """anymail's ``ANYMAIL`` dictionary from every ``ANYMAIL_*`` variable (or its ``_FILE``)."""
    found: dict[str, object] = {}
    for name in env_names(ANYMAIL_PREFIX):
        setting = name.removeprefix(ANYMAIL_PREFIX)
        if not setting:
            continue
        if setting.endswith(_BOOLEAN_SETTINGS):
            found[setting] = env_bool(name, False)
            continue
        raw = env_str(name)
        if setting.endswith(_NUMBER_SETTINGS):
            try:
                found[setting] = float(raw)
            except ValueError:
                raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}") from None
            continue
        if raw.lstrip().startswith(("{", "[")):
            try:
                found[setting] = json.loads(raw)
            except ValueError as error:
                raise ImproperlyConfigured(f"{name} looks like JSON but is not: {error}") from None
            continue
        found[setting] = raw
    return found
