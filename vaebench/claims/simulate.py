"""The claim simulator: error rates of a claim's decision over simulated runs.

A claim module's decision (its ``decide(..., level)``) is a pure function of per-run
statistics; these helpers load a claim module without running it (:func:`load_claim`),
decide a claim on planted checks (:func:`result`) and count the verdicts its decision gives
over seeded simulated studies whose truth is known (:func:`verdict_rates`,
:func:`edge_rates`), with the Monte-Carlo allowance of such a rate (:func:`mc_slack`) and
per-run values beyond the normal model (:func:`at_another_minimum`, :func:`skewed`,
:func:`quantised`). The built-in claims' tests (``tests/test_claim_*.py``) use it; so can a
claim of your own::

    from vaebench.claims import simulate
    mine = simulate.load_claim("my_claims/test_x1_mlp_autoencoder.py")
    rates = simulate.verdict_rates(mine.CLAIM, lambda rng: simulate.at(mine.decide, rng.normal(0.9, 0.05, 3),
                                                                      rng.normal(1.0, 0.05, 3)))
    assert rates["refuted"] <= 0.05 + simulate.mc_slack(0.05, 500)
"""
from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from vaebench.stats.verdict import ClaimResult, both_levels, decide

__all__ = ["load_claim", "checks_of", "at", "result", "verdict_rates", "edge_rates", "mc_slack",
           "at_another_minimum", "skewed", "quantised"]

#: the built-in claim modules (a source checkout's ``hypotheses/``)
HYPOTHESES = Path(__file__).resolve().parents[2] / "hypotheses"


def load_claim(stem: str | Path):
    """A claim module imported without running it, under a private name so pytest does not
    collect it twice: ``stem`` is the name of a built-in one in ``hypotheses/`` (e.g.
    ``test_c1_tiny_kl_vae_behaves_like_ae``) or the path of a ``.py`` file of your own."""
    path = Path(stem)
    if path.suffix != ".py":
        path = HYPOTHESES / f"{stem}.py"
    from vaebench.errors import SpecError, require

    require(path.is_file(), f"claim module {str(stem)!r}: no file {path}; pass the path of a claim module "
                            "(a .py file) or the name of one in hypotheses/", SpecError)
    name = f"_vaebench_claim_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def checks_of(claim, checks) -> list:
    """``checks`` as a list; a callable ``at(level)`` (a claim module's ``decide`` at one
    level over fixed data) is run at the design's two levels (:func:`both_levels`)."""
    return both_levels(claim.design, checks) if callable(checks) else list(checks)


def at(decide_fn: Callable, *before, after: tuple = (), **kw) -> Callable[[float], list]:
    """``level -> decide_fn(*before, level, *after, **kw)``: a claim module's decision over
    fixed data as a function of the level (evaluate the data once, outside)."""
    return lambda level: decide_fn(*before, level, *after, **kw)


def result(claim, checks, covered=None) -> ClaimResult:
    """The pre-registered decision of ``claim`` (a :class:`vaebench.claims.record.Claim`) on
    ``checks`` (a list, or ``at(level)``: see :func:`checks_of`)."""
    return decide(claim.id, claim.design, checks_of(claim, checks), covered)


def verdict_rates(claim, simulate: Callable[[np.random.Generator], list], n_rep: int = 500, seed: int = 0,
                  covered=None, subclaim: str | None = None) -> dict[str, float]:
    """Frequencies of the claim's verdict (or of one ``subclaim``'s) over ``n_rep`` replicates;
    ``simulate(rng)`` returns the checks of one simulated study (or ``at(level)`` over its
    data, see :func:`checks_of`)."""
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    for _ in range(n_rep):
        res = result(claim, simulate(rng), covered)
        if subclaim is None:
            counts[res.verdict.value] += 1
        else:
            counts[next(s.verdict.value for s in res.subclaims if s.subclaim.id == subclaim)] += 1
    return {v: counts[v] / n_rep for v in ("supported", "refuted", "inconclusive")}


def edge_rates(claim, simulate: Callable[[np.random.Generator], list], n_rep: int = 500, seed: int = 0
               ) -> tuple[dict[str, float], dict[str, float]]:
    """Over ``n_rep`` simulated studies: the claim's verdict frequencies, and each sub-claim's
    frequency of 'supported' (``simulate(rng)`` returns the checks of one study)."""
    rng = np.random.default_rng(seed)
    verdicts: Counter = Counter()
    supported: Counter = Counter()
    for _ in range(n_rep):
        res = result(claim, simulate(rng))
        verdicts[res.verdict.value] += 1
        supported.update(s.subclaim.id for s in res.subclaims if s.verdict.value == "supported")
    return ({v: verdicts[v] / n_rep for v in ("supported", "refuted", "inconclusive")},
            {s.id: supported[s.id] / n_rep for s in claim.subclaims})


def mc_slack(alpha: float, n_rep: int) -> float:
    """Three Monte-Carlo standard errors of a rate near ``alpha`` over ``n_rep`` replicates,
    the allowance of an error-rate assertion on simulated replicates."""
    return 3.0 * float(np.sqrt(alpha * (1 - alpha) / n_rep))


# --------------------------------------------------------------------------- per-run values beyond the normal model

def at_another_minimum(rng: np.random.Generator, values: np.ndarray, share: float = 0.25,
                       shift: float = 1.21) -> np.ndarray:
    """``values`` with each run, independently with probability ``share``, at "another minimum":
    multiplied by ``shift`` (post XIII: one run of four with its radius +21 %)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(rng.random(values.shape) < share, values * shift, values)


def skewed(rng: np.random.Generator, median: float, cv: float, n: int) -> np.ndarray:
    """``n`` log-normal per-run values with median ``median`` and coefficient of variation ``cv``."""
    return median * np.exp(rng.normal(0.0, math.sqrt(math.log1p(cv ** 2)), n))


def quantised(values: np.ndarray, step: float) -> np.ndarray:
    """``values`` rounded to multiples of ``step`` (a statistic read off histogram bins)."""
    return np.round(np.asarray(values, dtype=np.float64) / step) * step
