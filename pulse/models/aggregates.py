"""What Pulse learns from closed rounds: team aggregates (the input of trends, flags and reports) and the
roster changes that disclosure control withholds on."""

from __future__ import annotations

from django.db import models

from pulse.analysis.stats import variance_from_sums


class TeamAggregate(models.Model):
    """One metric of one team in one closed round: n, sum, sum of squares and histogram.

    Computed from the round's counters (``surveys.AnswerCount``, ``ScoreCount``, ``RespondentCount``),
    which already hold each respondent once per team of their closure, so a parent's aggregate is exact
    (never a mean of means) and a person in two child teams counts once in the parent. Nothing here is
    disclosure-controlled yet: every number goes through ``pulse.disclosure`` before it leaves the server.

    ``metric`` names what is measured and the instrument version it came from, so trends never mix
    versions: ``question:<question key>@<version>``, ``scale:<instrument key>.<scale key>@<version>``,
    ``share:<instrument key>.<scale key>.<band>@<version>`` (share of respondents in a band or worse),
    ``response_rate``.
    """

    class Kind(models.TextChoices):
        QUESTION = "question", "Question"
        SCALE = "scale", "Scale score"
        SHARE = "share", "Share at or beyond a cut-off"
        RESPONSE_RATE = "response_rate", "Response rate"

    # Index and constraint choices are measured (pulse_bench aggregate): one closed round writes a row per
    # team × metric, and every index and deferred foreign-key check costs on that write. ``round`` is
    # covered by the unique constraint's leading column, ``organisation`` by the series index; the copies of
    # ``organisation`` and ``instrument`` are denormalised from the round, so they carry no constraint.
    round = models.ForeignKey(
        "surveys.Round", on_delete=models.CASCADE, related_name="aggregates", db_index=False
    )
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="aggregates")
    organisation = models.ForeignKey(
        "surveys.Organisation",
        on_delete=models.PROTECT,
        related_name="aggregates",
        db_index=False,
        db_constraint=False,
    )
    metric = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    instrument = models.ForeignKey(
        "surveys.Instrument",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="aggregates",
        db_constraint=False,
    )
    # When the round closed: the time axis of trends (rounds of one schedule are spaced in real time).
    closes_at = models.DateTimeField()
    respondents = models.PositiveIntegerField(help_text="Respondents of the round counted for this team.")
    n = models.PositiveIntegerField(help_text="How many values the mean is over (answers, scores, invitees).")
    total = models.FloatField(help_text="Sum of the values (for a share: how many are in the band).")
    total_squares = models.FloatField()
    histogram = models.JSONField(default=dict, blank=True, help_text="value -> count (questions and scales).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "team", "metric"], name="team_aggregate_unique"),
        ]
        indexes = [
            models.Index(fields=["organisation", "metric", "team", "closes_at"], name="aggregate_series"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of team {self.team_id} in round {self.round_id}"

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance of the individual values (n − 1 denominator), from the sums."""
        return variance_from_sums(self.n, self.total, self.total_squares)


class TeamRosterChange(models.Model):
    """How a team's roster changed since its baseline round, for the roster clause of disclosure control.

    ``pulse.disclosure.roster_change_guard``: a team's numbers are withheld when ``0 < joined + left < t``
    (one newcomer in a team of 6 isolates the newcomer's answers by differencing two rounds). Written by
    ``pulse.services.aggregation.round_aggregate`` in the aggregates' transaction, for each team with
    counters in the round and a baseline, per ``threshold`` (k, and the larger threshold of distributions,
    shares and comments; one row when they coincide). A team's roster in a round is the round's invitations
    whose counting chain includes it (``surveys.tree.counting_closure``). ``since_round`` is the baseline:
    the latest earlier round of the same schedule in which the team had counters and was not withheld by
    this clause at ``threshold``, so a withheld round does not move it. No baseline (never published
    before), no row: nothing to difference, exactly as joined = left = 0. Counts of people only, never who.
    """

    round = models.ForeignKey(
        "surveys.Round", on_delete=models.CASCADE, related_name="roster_changes", db_index=False
    )
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="roster_changes")
    threshold = models.PositiveSmallIntegerField(
        help_text="The threshold the baseline was chosen at (pulse.disclosure.threshold_for)."
    )
    # Null only if the baseline round was deleted since: the counts, which decide, stay.
    since_round = models.ForeignKey(
        "surveys.Round", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    joined = models.PositiveIntegerField(help_text="People on this round's roster and not the baseline's.")
    left = models.PositiveIntegerField(help_text="People on the baseline's roster and not this round's.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "team", "threshold"], name="team_roster_change_unique"),
        ]

    def __str__(self) -> str:
        return f"roster of team {self.team_id} in round {self.round_id}: +{self.joined} −{self.left}"
