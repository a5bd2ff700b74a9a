"""Compare runs and keep their history: :mod:`.runio` (reading runs), :mod:`.rules` (what
counts as a regression: timing rules, Holm, judging benchmarks), :mod:`.comparison`
(:func:`~.comparison.compare_runs`), :mod:`.trends` (series over a history),
:mod:`.command` (``vaebench compare``) and :mod:`.history` (a history folder on a git branch).

Layer 10: imports report, stats and the foundation."""
