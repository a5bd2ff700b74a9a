"""Render results: the claim page (:mod:`.claim_page`), the regression page
(:mod:`.compare_page`), figures (:mod:`.figures`) and shared HTML pieces (:mod:`.html`).
Renders only; never computes.

Layer 9: imports claims (figure data helpers), config and the foundation."""
