"""The science, as pure functions over plain data (no ORM, no Django): trend statistics (``stats``), the
flag rules (``rules``) and their sentences (``sentences``), what a metric is (``metrics``), how precisely a
published number may be shown (``coarsening``) and how numbers are written (``formatting``).

Everything else in ``pulse`` may import this package; it imports nothing of ``pulse`` outside it.
docs/science.md cites the sources each module reproduces.
"""
