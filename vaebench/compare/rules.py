"""The rules of a comparison: what counts as a regression, and the statistics that decide it.

What counts as a regression (exit status 1 of ``vaebench compare``):

* a claim's verdict flipped (any direction: with the same code and seeds a verdict does
  not change, so a flip means the code, the data or the environment did), or a claim of the
  old run is missing from the new one;
* a check (a statistic held to a tolerance) flipped its verdict ("moved out of its
  tolerance"), or *moved away* from the last run: the new point estimate lies outside the
  old CI **and** the old point outside the new CI, and — unless both are exact — by at
  least ``min_change`` relative to the old value. Claims are compared only between runs at
  the same scale; on any machine (a statistic is judged by its own interval).
* a benchmark got slower. The rule, per benchmark present in both runs with the same
  configuration (``CONFIG_FIELDS``):

  1. *What is compared* (:attr:`TimingRule.mode`). ``ratio`` (the default): each round
     divided by the median round of a *reference* benchmark of its own run (``REFERENCE``,
     the AE's training step, when both runs hold it, else the first key both hold), so a
     machine that is faster, slower or busier in one run than in the other cancels out and
     only the relative cost of the benchmarks is compared; the reference itself, and a
     slowdown shared by every benchmark, are not seen. (Not the median over all
     benchmarks: step and epoch benchmarks move apart between runs of the same code, so a
     median of both kinds flags unchanged steps; a step benchmark divides steps well.)
     ``seconds``: the per-round seconds,
     for a dedicated runner, and only between runs of the same machine (never absolute
     seconds across CPU models). Machines are told apart by each benchmark JSON's
     ``machine_info`` (CPU brand and count, OS, architecture).
  2. A one-sided exact Mann–Whitney U test of those rounds, new slower than old, gives a
     p-value per benchmark; the p-values of all benchmarks compared are corrected with
     Holm's step-down method at a **family** level ``family_alpha`` (default 0.05: the
     chance that a run of unchanged code flags any benchmark at all is at most 5 %, if
     rounds are independent). A benchmark whose rounds are too few for any p-value to
     reach ``family_alpha`` (3 + 3 rounds: 1/20) is "undecidable" and not in the family.
  3. *and* the ratio of medians is at least ``1 + min_change`` (default 10 %) on the same
     machine, ``1 + cross_machine_min_change`` (default 25 %) across machines, where CPU
     models differ in the relative speed of their operations.

  The same rule with "faster" is reported, not a regression. Memory figures are compared
  on the same machine only: an accelerator's allocator peak or a model's state (weights
  and optimizer) that grows by ``min_change`` is a regression (both are reproducible), a
  CPU's RSS is reported only.

Timings are only as quiet as the machine: ratios cancel a load that slows a whole run
alike, not one that comes and goes within a run (rounds of one benchmark are then not
independent, and no test on them is exact). Compare timings from a dedicated runner.

"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from vaebench.compare.runio import CompareError, Run
from vaebench.errors import require
from vaebench.stats.estimate import Estimate

#: extra_info fields that must agree for two benchmarks to be compared
CONFIG_FIELDS = ("backend", "device", "dtype", "image_size", "batch_size", "model", "scale")
MIN_CHANGE = 0.10
#: the smallest slowdown that counts when the two runs' machines differ (timing ratios)
CROSS_MACHINE_MIN_CHANGE = 0.25
#: Holm's family level over all benchmarks of a comparison
FAMILY_ALPHA = 0.05
#: the benchmark other timings are divided by when the machines differ (``ratio`` mode)
REFERENCE = "benchmarks/test_step.py::test_train_step[AE]"
TIMING_MODES = ("ratio", "seconds")


@dataclass(frozen=True)
class TimingRule:
    """How the benchmarks of a comparison were judged (the module docstring has the rule)."""

    mode: str  # seconds | ratio | none (nothing timed on both sides)
    same_machine: bool
    old_machine: dict
    new_machine: dict
    reference: str | None  # ratio mode: the benchmark every timing was divided by
    family_alpha: float
    min_change: float  # the smallest slowdown that counts under this rule
    family_size: int = 0  # benchmarks in Holm's family
    timing_asked: str = "ratio"  # the mode asked for (``mode`` is ``none`` where it could not apply)

    def to_dict(self) -> dict:
        return asdict(self)


def _as_estimate(x: Estimate | tuple[float, float, float]) -> Estimate:
    return x if isinstance(x, Estimate) else Estimate(*x)


def moved(
    old: Estimate | tuple[float, float, float], new: Estimate | tuple[float, float, float], min_change: float
) -> bool:
    """New point outside the old CI and old point outside the new CI (and, unless both are
    exact, a change of at least ``min_change`` relative to the old value). ``old`` and ``new``:
    :class:`~vaebench.stats.Estimate` or ``(value, low, high)``."""
    old, new = _as_estimate(old), _as_estimate(new)
    ov, nv = old.value, new.value
    if any(math.isnan(x) for x in (ov, nv)):
        return math.isnan(ov) != math.isnan(nv)
    outside = not old.contains(nv) and not new.contains(ov)
    if not outside:
        return False
    if old.low == ov == old.high and new.low == nv == new.high:
        return True
    return abs(nv - ov) >= min_change * abs(ov) if ov != 0 else True


def min_exact_p(n_old: int, n_new: int) -> float:
    """The smallest one-sided p-value an exact Mann–Whitney U test can give: 1 / C(n_old + n_new, n_old)."""
    return 1.0 / math.comb(n_old + n_new, n_old)


def holm_adjust(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (reject hypothesis i at family level α iff its
    adjusted p-value is <= α): the i-th smallest p times (m − i), made monotone, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def benchmark_stats(old: list[float], new: list[float]) -> dict:
    """``new`` rounds against ``old``: ratio of medians and one-sided exact Mann–Whitney
    p-values (``scipy.stats.mannwhitneyu``), before any multiplicity correction."""
    from scipy.stats import mannwhitneyu

    o, n = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    require(
        o.size >= 2 and n.size >= 2,
        f"a benchmark comparison needs >= 2 rounds on each side (got {o.size} "
        f"and {n.size}); run the benchmark with more rounds",
        CompareError,
    )
    return {
        "ratio": float(np.median(n) / np.median(o)),
        "p_slower": float(mannwhitneyu(n, o, alternative="greater").pvalue),
        "p_faster": float(mannwhitneyu(n, o, alternative="less").pvalue),
        "min_p": min_exact_p(o.size, n.size),
        "n_old": int(o.size),
        "n_new": int(n.size),
        "median_old": float(np.median(o)),
        "median_new": float(np.median(n)),
    }


def judge_benchmarks(
    pairs: dict[str, tuple[list[float], list[float]]],
    family_alpha: float = FAMILY_ALPHA,
    min_change: float = MIN_CHANGE,
) -> dict[str, dict]:
    """Each benchmark's :func:`benchmark_stats` plus Holm-adjusted p-values over the family
    (the benchmarks whose rounds can reach ``family_alpha`` at all) and a verdict: ``slower``
    / ``faster`` (adjusted p <= family_alpha and the ratio of medians beyond 1 ± min_change),
    ``same``, or ``undecidable`` (too few rounds)."""
    require(0 < family_alpha < 1, f"family_alpha={family_alpha} must lie strictly between 0 and 1", CompareError)
    require(min_change >= 0, f"min_change={min_change} must be >= 0 (0.10 = 10 %)", CompareError)
    out = {k: benchmark_stats(o, n) for k, (o, n) in pairs.items()}
    family = [k for k, s in out.items() if s["min_p"] <= family_alpha + 1e-12]
    for side in ("slower", "faster"):
        for k, adj in zip(family, holm_adjust([out[k][f"p_{side}"] for k in family])):
            out[k][f"holm_{side}"] = adj
    for k, s in out.items():
        s.update(family_size=len(family), family_alpha=family_alpha, min_change=min_change)
        if k not in family:
            s["verdict"] = "undecidable"
        elif s["holm_slower"] <= family_alpha and s["ratio"] >= 1 + min_change:
            s["verdict"] = "slower"
        elif s["holm_faster"] <= family_alpha and s["ratio"] <= 1 / (1 + min_change):
            s["verdict"] = "faster"
        else:
            s["verdict"] = "same"
    return out


def benchmark_change(
    old: list[float], new: list[float], family_alpha: float = FAMILY_ALPHA, min_change: float = MIN_CHANGE
) -> dict:
    """:func:`judge_benchmarks` of one benchmark (a family of one)."""
    return judge_benchmarks({"benchmark": (old, new)}, family_alpha, min_change)["benchmark"]


def _comparable(old: Run, new: Run) -> list[str]:
    """Benchmarks timed (>= 2 rounds) in both runs with the same configuration."""
    keys = []
    for k in sorted(set(old.benchmarks) & set(new.benchmarks)):
        ob, nb = old.benchmarks[k], new.benchmarks[k]
        same_config = all(
            ob["extra_info"].get(f) == nb["extra_info"].get(f)
            for f in CONFIG_FIELDS
            if f in ob["extra_info"] and f in nb["extra_info"]
        )
        if same_config and len(ob["timings"] or []) >= 2 and len(nb["timings"] or []) >= 2:
            keys.append(k)
    return keys


def timing_rule(
    old: Run,
    new: Run,
    timing: str = "ratio",
    reference: str | None = None,
    family_alpha: float = FAMILY_ALPHA,
    min_change: float = MIN_CHANGE,
    cross_machine_min_change: float = CROSS_MACHINE_MIN_CHANGE,
) -> TimingRule:
    """The rule the benchmarks of ``old`` and ``new`` are judged by: ``ratio`` (to a reference
    benchmark of each run) on any machines, ``seconds`` on the same machine only (mode
    ``none`` on different ones); the smallest change is ``min_change`` on the same machine,
    ``cross_machine_min_change`` across machines."""
    require(timing in TIMING_MODES, f"timing={timing!r} is not a timing rule; use one of {TIMING_MODES}", CompareError)
    same = old.machine == new.machine
    common = _comparable(old, new)
    mode, ref = timing, None
    if mode == "ratio":
        if reference is not None:
            require(
                reference in common,
                f"reference={reference!r} is not a benchmark timed in both runs with the "
                f"same configuration; use one of {common}",
                CompareError,
            )
            ref = reference
        else:
            ref = REFERENCE if REFERENCE in common else (common[0] if common else None)
        if ref is None or len(common) < 2:
            mode, ref = "none", None
    elif not common or not same:
        mode = "none"
    return TimingRule(
        mode,
        same,
        old.machine,
        new.machine,
        ref,
        family_alpha,
        min_change if same else cross_machine_min_change,
        timing_asked=timing,
    )
