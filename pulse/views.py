"""The start page is the leader home of ``pulse.web.leader``: leaders and admins get their teams' heatmap,
everyone else a pointer to their check-ins."""

from __future__ import annotations

from pulse.web.leader import home

__all__ = ["home"]
