"""The statistics namespace claim modules use: ``from vaebench import stats``.

It gathers three modules split by job:

* :mod:`vaebench.estimate` — :class:`Estimate` (a value with its confidence interval),
  :func:`bootstrap`, :func:`mean_ci`, :func:`quantile_ci`;
* :mod:`vaebench.inference` — equivalence (TOST), distances against seed-to-seed noise,
  rare-event rates, linear fits, and the run-level intervals and tests (training runs
  as the unit of replication);
* :mod:`vaebench.verdict` — checks, sub-claims and the pre-registered verdict of a claim.

Compute modules never render; nothing here imports matplotlib.
"""
from __future__ import annotations

from .estimate import *  # noqa: F401,F403
from .estimate import __all__ as _estimate_all
from .estimate import _as_1d  # noqa: F401  (shared input check)
from .inference import *  # noqa: F401,F403
from .inference import __all__ as _inference_all
from .verdict import *  # noqa: F401,F403
from .verdict import __all__ as _verdict_all

__all__ = [*_estimate_all, *_inference_all, *_verdict_all]
