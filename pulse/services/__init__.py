"""Pulse's services: writes named ``<entity>_<action>`` (aggregation of closed rounds, retention)."""
