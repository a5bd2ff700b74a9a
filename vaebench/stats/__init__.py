"""The statistics namespace claim modules use: ``from vaebench import stats``.

It gathers three modules split by job:

* :mod:`vaebench.stats.estimate` — :class:`Estimate` (a value with its confidence interval),
  :func:`bootstrap`, :func:`percentile_estimate`, :func:`mean_ci`, :func:`quantile_ci`;
* :mod:`vaebench.stats.inference` — equivalence (TOST), distances against seed-to-seed noise,
  rare-event rates, linear fits, and the run-level intervals and tests (training runs
  as the unit of replication);
* :mod:`vaebench.stats.equilibrium` — has a check's statistic settled: its predicted final value;
* :mod:`vaebench.stats.outliers` — runs in two groups apart from each other (at another minimum);
* :mod:`vaebench.stats.verdict` — checks, sub-claims and the pre-registered verdict of a claim.

Compute modules never render; nothing here imports matplotlib.
"""
from __future__ import annotations

from vaebench.stats.equilibrium import *  # noqa: F401,F403
from vaebench.stats.equilibrium import __all__ as _equilibrium_all
from vaebench.stats.estimate import *  # noqa: F401,F403
from vaebench.stats.estimate import __all__ as _estimate_all
from vaebench.stats.estimate import _as_1d  # noqa: F401  (shared input check)
from vaebench.stats.inference import *  # noqa: F401,F403
from vaebench.stats.inference import __all__ as _inference_all
from vaebench.stats.outliers import *  # noqa: F401,F403
from vaebench.stats.outliers import __all__ as _outliers_all
from vaebench.stats.verdict import *  # noqa: F401,F403
from vaebench.stats.verdict import __all__ as _verdict_all

__all__ = [*_equilibrium_all, *_estimate_all, *_inference_all, *_outliers_all, *_verdict_all]
