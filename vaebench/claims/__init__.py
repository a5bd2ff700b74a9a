"""What a claim module works with: its record (:mod:`.record`), the health of its models
(:mod:`.health`), the run's session (:mod:`.session`), and the computations several claims
share, gathered here as ``from vaebench import claims``: evaluations of trained models
(:mod:`.evaluate`), figure-panel data (:mod:`.panels`) and what a claim records about its
setting and runs (:mod:`.bookkeeping`), the per-run statistics of a claim author's toolkit
(:mod:`.toolkit`: excess loss over the entropy floor, latent codes, radius peak, health),
the architecture check (:func:`vaebench.models.check.check_architecture`) and the claim
simulator (:mod:`.simulate`).

Layer 8: imports store, train, models, latent, stats, data, config and the foundation."""
from __future__ import annotations

from vaebench.claims import simulate  # noqa: F401 - the claim simulator, as claims.simulate
from vaebench.claims.bookkeeping import *  # noqa: F401,F403
from vaebench.claims.bookkeeping import __all__ as _bookkeeping_all
from vaebench.claims.evaluate import *  # noqa: F401,F403
from vaebench.claims.evaluate import __all__ as _evaluate_all
from vaebench.claims.panels import *  # noqa: F401,F403
from vaebench.claims.panels import __all__ as _panels_all
from vaebench.claims.toolkit import *  # noqa: F401,F403
from vaebench.claims.toolkit import __all__ as _toolkit_all
from vaebench.models.check import check_architecture  # noqa: F401

__all__ = [*_evaluate_all, *_panels_all, *_bookkeeping_all, *_toolkit_all, "check_architecture", "simulate"]

