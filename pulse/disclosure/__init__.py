"""Disclosure control: the gate every number leaving Pulse goes through.

``rules``: which cells of a team tree may be published (thresholds, complementary suppression, the roster
clause, roll-up), pure. ``release``: the release of stored aggregates through those rules, for the whole
scope tree of each round, metric kind by metric kind. Every report, API answer, export, email and flag reads
its numbers through ``release``. How precisely a published number is shown is
``pulse.analysis.coarsening``.
"""
