"""Benchmarks run by ``python manage.py pulse_bench NAME``.

Each benchmark is a module here with a ``run(options) -> BenchResult`` function. It measures Pulse's own
code and a baseline *in the same run*, prints whatever detail helps, and returns the figures; the command
prints the closing RESULT line that CI logs and closing notes quote.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchResult:
    name: str
    ours: float
    baseline: float
    unit: str
    target: str

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    def line(self) -> str:
        return (
            f"RESULT name={self.name} ours={self.ours:.6g} baseline={self.baseline:.6g} unit={self.unit} "
            f"ratio={self.ratio:.4g} target={self.target}"
        )
