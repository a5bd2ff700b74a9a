"""What a claim module works with: its record (:mod:`.record`), the health of its models
(:mod:`.health`), shared evaluations of trained models (:mod:`.evaluate`) and the run's
session (:mod:`.session`).

Layer 8: imports store, train, models, latent, stats, data, config and the foundation."""
