"""Pulse's REST API under /api/v1/ (DRF): one view class per action, each with a nested InputSerializer
and OutputSerializer; the view validates, calls one service or selector, and shapes the answer.

Every query starts from ``pulse.permissions`` (scoped to the caller's organisation and role). Errors have one
format (``pulse.api.errors``); lists are cursor-paginated (``pulse.api.pagination``); the OpenAPI schema is
served at /api/schema/ and documented at /api/docs/.
"""
