"""Pulse's server-rendered web app: sign-in pages and the admin pages for configuring an organisation.

Views are thin: a form validates the input, one service (``surveys.services.organisation``,
``surveys.services.schedules``, ``pulse.services.people``…) does the work, and every read starts from
``pulse.permissions``.
"""
