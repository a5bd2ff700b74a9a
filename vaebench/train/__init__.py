"""Training: seeded packs of models on one optimizer, their feeds and per-epoch records
(:mod:`.trainer`).

Layer 6: imports models, latent (the probe radius), data, config and the foundation."""
