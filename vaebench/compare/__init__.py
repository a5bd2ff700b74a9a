"""Compare runs and keep their history: :mod:`.runs` (loading, rules, trends) and
:mod:`.history` (a history folder on a git branch).

Layer 10: imports report, stats and the foundation."""
