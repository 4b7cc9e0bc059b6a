"""Django admin for the surveys app, one module per part of the domain."""

from surveys.admin import instruments, organisation, schedules  # noqa: F401
