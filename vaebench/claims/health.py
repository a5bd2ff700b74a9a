"""Model health: is a trained model what a claim is about?

Pre-declared diagnostics of one trained model, from its per-epoch training history and
(for a VAE) its latent codes. A check whose models fail its precondition is
inconclusive with the reason, never refuted (see :mod:`vaebench.stats.verdict`).

Convergence (from the history; E = epochs run, window = the last ``max(3, ⌈E/3⌉)``
epochs): the drift of a quantity is the OLS slope over the window, per epoch, divided by
the quantity's mean magnitude over the window (:func:`drift`).

- ``loss``: |drift| ≤ :data:`LOSS_DRIFT_MAX` = 1 % per epoch. Why: C1's loss margin is a
  fraction of the loss above the entropy floor; a loss still falling by more than 1 % of
  the whole loss per epoch moves by more than that margin within the window.
- ``probe_radius_mean`` (mean ‖z‖ of a fixed probe batch, the smooth companion of the
  radius peak, which is quantised to 0.5-wide bins): |drift| ≤ :data:`RADIUS_DRIFT_MAX` =
  2 % per epoch. Why: the radius checks (C1, C3, C4, C7) have ±10 % margins; at 2 % per
  epoch the radius moves less than 10 % over 5 more epochs.
- ``probe_logvar_mean`` (VAE): |slope| ≤ :data:`LOGVAR_SLOPE_MAX` = 0.25 nat per epoch
  (an absolute slope: logvar passes through 0). Why: C2b fits about one nat of mean
  logvar per unit of ln(fact); at 0.25 nat per epoch the drift over a 3-epoch window
  stays below that one nat.

Preconditions a claim chooses: :data:`LOSS_SETTLED`, :data:`RADIUS_SETTLED` and
:data:`LOGVAR_SETTLED` each ask one of the three rates above (a reconstruction claim needs
no settled radius); :data:`CONVERGED` asks all three. A quantity the history does not
record (an AE has no logvar) passes its condition.

Posterior collapse (VAE, from mu and logvar of the analysed images): an axis is *active*
when the variance of its posterior mean over images exceeds 0.01 (Burda, Grosse &
Salakhutdinov 2016, "Importance weighted autoencoders", the usual definition); the
per-axis KL is ``E_x[KL(q(z_j|x) || N(0, 1))]``. A VAE is collapsed when fewer than
:func:`min_active_units` (z_dim) = min(:data:`MIN_ACTIVE_UNITS`, ⌈z_dim / 2⌉) axes are
active: faces vary in at least pose, colours, hair, expression and light (the synthetic
faces have 16 independent factors, CelebA 40 annotated attributes), which fewer than five
axes cannot carry; a latent of fewer than 10 axes cannot hold five, and a model that uses
fewer than half of a small latent has collapsed onto a smaller code (a 2-d VAE with 2
active axes is healthy).

The default precondition (:func:`default_precondition`): the health of every model a test
loaded — finite, converged, not collapsed — holds for every primary check on trained
models (unit 'runs' or 'pairs of runs') unless the claim waives it for a sub-claim with a
recorded reason (C4: a runaway is the event counted, not a failed model).

Non-finite runs: a run that stopped on a non-finite loss is neither converged nor
analysable; claims about runaways (C4) use it, all others say so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from vaebench.errors import StatsError, require
from vaebench.stats.verdict import PRIMARY, Check

__all__ = [
    "LOSS_DRIFT_MAX",
    "RADIUS_DRIFT_MAX",
    "LOGVAR_SLOPE_MAX",
    "MIN_ACTIVE_UNITS",
    "ACTIVE_VARIANCE",
    "drift",
    "excess_loss_drift",
    "joined",
    "Health",
    "health",
    "active_units",
    "kl_per_axis",
    "precondition",
    "min_active_units",
    "default_precondition",
    "with_default_precondition",
    "CONVERGED",
    "LOSS_SETTLED",
    "RADIUS_SETTLED",
    "LOGVAR_SETTLED",
    "NOT_COLLAPSED",
    "FINITE",
]

LOSS_DRIFT_MAX = 0.01
RADIUS_DRIFT_MAX = 0.02
LOGVAR_SLOPE_MAX = 0.25
MIN_ACTIVE_UNITS = 5
ACTIVE_VARIANCE = 0.01

#: the preconditions a check can ask of its models
FINITE, CONVERGED, NOT_COLLAPSED = "finite", "converged", "not collapsed"
LOSS_SETTLED, RADIUS_SETTLED, LOGVAR_SETTLED = "loss settled", "radius settled", "logvar settled"
#: the rates CONVERGED asks, in the order they are reported
SETTLED = (LOSS_SETTLED, RADIUS_SETTLED, LOGVAR_SETTLED)
CONDITIONS = (FINITE, CONVERGED, NOT_COLLAPSED, *SETTLED)


def min_active_units(z_dim: int) -> int:
    """The fewest active axes of a VAE that has not collapsed (module docstring)."""
    return max(1, min(MIN_ACTIVE_UNITS, math.ceil(z_dim / 2)))


def window(epochs: int) -> int:
    """How many of the last epochs the convergence diagnostics look at."""
    return max(3, math.ceil(epochs / 3))


def drift(series: Sequence[float], relative: bool = True) -> float:
    """OLS slope per epoch over the last :func:`window` epochs of ``series``; divided by the
    mean magnitude over that window when ``relative``. NaN with fewer than 3 epochs or
    non-finite values in the window."""
    y = np.asarray(series, dtype=np.float64)
    w = window(len(y))
    if len(y) < 3:
        return float("nan")
    y = y[-w:]
    if not np.all(np.isfinite(y)):
        return float("nan")
    x = np.arange(len(y), dtype=np.float64)
    slope = float(np.polyfit(x, y, 1)[0])
    if not relative:
        return slope
    scale = float(np.mean(np.abs(y)))
    return slope / scale if scale > 0 else (0.0 if slope == 0 else math.inf)


def kl_per_axis(mu: Any, logvar: Any) -> np.ndarray:
    """``E_x[KL(N(mu_j, exp(logvar_j)) || N(0, 1))]`` per latent axis j (nats)."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    require(
        mu.shape == logvar.shape and mu.ndim == 2, f"mu {mu.shape} and logvar {logvar.shape} must be (n, d)", StatsError
    )
    return (0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)


def active_units(mu: Any, threshold: float = ACTIVE_VARIANCE) -> int:
    """Axes whose posterior mean varies over images by more than ``threshold`` (variance)."""
    mu = np.asarray(mu, np.float64)
    require(mu.ndim == 2 and mu.shape[0] >= 2, f"mu has shape {mu.shape}; pass (n >= 2, d)", StatsError)
    return int(np.sum(mu.var(axis=0) > threshold))


@dataclass
class Health:
    """The diagnostics of one trained model and which preconditions it passes."""

    label: str
    finite: bool
    converged: bool | None
    collapsed: bool | None
    reasons: dict[str, str] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)
    settled: dict[str, bool | None] = field(default_factory=dict)

    def fails(self, condition: str) -> str | None:
        """Why this model fails ``condition`` (one of :data:`CONDITIONS`), or None when it passes."""
        require(condition in CONDITIONS, f"condition={condition!r} is not a precondition; use one of {CONDITIONS}",
                StatsError)
        if not self.finite:
            return f"{self.label}: {self.reasons.get(FINITE, 'non-finite')}"
        if condition in SETTLED:
            ok = self.settled.get(condition, self.converged if self.converged is None else True)
            if ok is None:
                return f"{self.label}: convergence unknown: {self.reasons[CONVERGED]}"
            return None if ok else f"{self.label}: not converged: {self.reasons[condition]}"
        if condition == CONVERGED and self.converged is False:
            return f"{self.label}: not converged: {self.reasons[CONVERGED]}"
        if condition == CONVERGED and self.converged is None:  # unknown is not passed
            return f"{self.label}: convergence unknown: {self.reasons[CONVERGED]}"
        if condition == NOT_COLLAPSED and self.collapsed:
            return f"{self.label}: posterior collapse: {self.reasons[NOT_COLLAPSED]}"
        return None

    @property
    def flags(self) -> list[str]:
        out = []
        if not self.finite:
            out.append("non-finite")
        if self.converged is False:
            out.append("not converged")
        elif self.converged is None and self.finite:
            out.append("convergence unknown")
        if self.collapsed:
            out.append("collapsed")
        return out

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "finite": self.finite,
            "converged": self.converged,
            "collapsed": self.collapsed,
            "flags": self.flags,
            "reasons": dict(self.reasons),
            "settled": dict(self.settled),
            "diagnostics": {k: (v if math.isfinite(v) else str(v)) for k, v in self.diagnostics.items()},
        }


def health(label: str, history: dict, stopped: str | None = None, codes: dict | None = None) -> Health:
    """The :class:`Health` of a model from its ``history`` (per-epoch lists), its stop
    reason and, for a VAE, its latent ``codes`` (``mu``, ``logvar``)."""
    loss = [float(v) for v in history.get("loss", [])]
    finite = stopped is None and bool(loss) and all(math.isfinite(v) for v in loss)
    reasons: dict[str, str] = {}
    diag: dict[str, float] = {"epochs": float(len(loss))}
    if not finite:
        reasons[FINITE] = f"training stopped: {stopped}" if stopped else "non-finite loss in its history"
        return Health(label, False, None, None, reasons, diag)

    converged, settled = _convergence(history, loss, reasons, diag)
    collapsed = None
    if codes is not None and "mu" in codes and "logvar" in codes:
        mu = np.asarray(codes["mu"])
        rows = np.all(np.isfinite(mu), axis=1) & np.all(np.isfinite(codes["logvar"]), axis=1)
        if rows.sum() >= 2:
            au = active_units(mu[rows])
            kl = kl_per_axis(mu[rows], np.asarray(codes["logvar"])[rows])
            diag.update(
                active_units=float(au),
                z_dim=float(mu.shape[1]),
                kl_nats=float(kl.sum()),
                kl_top_axis_share=float(kl.max() / kl.sum()) if kl.sum() > 0 else float("nan"),
            )
            need = min_active_units(mu.shape[1])
            collapsed = au < need
            if collapsed:
                reasons[NOT_COLLAPSED] = (
                    f"{au} of {mu.shape[1]} active units (at least {need} needed); KL {kl.sum():.3g} nats per image"
                )
    return Health(label, True, converged, collapsed, reasons, diag, settled)


def _rates(history: dict, loss: list[float], diag: dict) -> dict[str, str | None]:
    """Per condition of :data:`SETTLED`, why its quantity still moves (None: settled or not recorded)."""
    d_loss = drift(loss)
    diag["loss_drift_per_epoch"] = d_loss
    out: dict[str, str | None] = {LOSS_SETTLED: None, RADIUS_SETTLED: None, LOGVAR_SETTLED: None}
    if not abs(d_loss) <= LOSS_DRIFT_MAX:
        out[LOSS_SETTLED] = f"loss changing {d_loss:+.1%} per epoch (limit ±{LOSS_DRIFT_MAX:.0%})"
    if history.get("probe_radius_mean"):
        d_r = drift(history["probe_radius_mean"])
        diag["radius_drift_per_epoch"] = d_r
        if not abs(d_r) <= RADIUS_DRIFT_MAX:
            out[RADIUS_SETTLED] = (f"probe radius {'rising' if d_r > 0 else 'falling'} {abs(d_r):.1%} per epoch "
                                   f"(limit {RADIUS_DRIFT_MAX:.0%})")
    if history.get("probe_logvar_mean"):
        s_lv = drift(history["probe_logvar_mean"], relative=False)
        diag["logvar_slope_per_epoch"] = s_lv
        if not abs(s_lv) <= LOGVAR_SLOPE_MAX:
            out[LOGVAR_SETTLED] = (f"mean logvar {'rising' if s_lv > 0 else 'falling'} {abs(s_lv):.2f} nat per epoch "
                                   f"(limit {LOGVAR_SLOPE_MAX:g})")
    return out


def _convergence(history: dict, loss: list[float], reasons: dict, diag: dict
                 ) -> tuple[bool | None, dict[str, bool | None]]:
    """CONVERGED and each condition of :data:`SETTLED`, with the reasons of those that fail."""
    if len(loss) < 3:
        reasons[CONVERGED] = f"only {len(loss)} epochs: too few to judge convergence"
        return None, {c: None for c in SETTLED}
    moving = _rates(history, loss, diag)
    window_text = f" over the last {window(len(loss))} epochs"
    for c, why in moving.items():
        if why:
            reasons[c] = why + window_text
    slow = [why for why in moving.values() if why]
    if slow:
        reasons[CONVERGED] = "; ".join(slow) + window_text
    return not slow, {c: why is None for c, why in moving.items()}


def precondition(models: Iterable[Health], *conditions: str, min_ok: int | None = None) -> str | None:
    """Why a check's models fail ``conditions`` (None when they pass).

    Every model must pass, unless ``min_ok`` is given: then at least ``min_ok`` models
    must pass (for checks that drop failed runs and need enough runs left).
    """
    models = list(models)
    failures = [
        (m, why) for m in models for why in [next((f for f in (m.fails(c) for c in conditions) if f), None)] if why
    ]
    if min_ok is None:
        return "; ".join(why for _, why in failures) or None
    ok = len(models) - len({id(m) for m, _ in failures})
    if ok < min_ok:
        return f"{ok} of {len(models)} runs pass ({', '.join(conditions)}), {min_ok} needed: " + "; ".join(
            why for _, why in failures
        )
    return None


#: the units of a check on trained models, which the default precondition covers
TRAINED_UNITS = ("runs", "pairs of runs")


def default_precondition(models: Iterable[Health | dict]) -> str | None:
    """Why the models a test loaded are not healthy (non-finite, not converged, convergence
    unknown, collapsed), or None: the default precondition of every primary check on trained
    models (module docstring). ``models``: :class:`Health` or its ``to_dict()``."""
    why = []
    for m in models:
        d = m.to_dict() if isinstance(m, Health) else m
        flags = list(d.get("flags") or [])
        if flags:
            reasons = d.get("reasons") or {}
            detail = "; ".join(str(v) for k, v in reasons.items() if k in (FINITE, CONVERGED, NOT_COLLAPSED))
            why.append(f"{d.get('label', '?')}: {', '.join(flags)}" + (f" ({detail})" if detail else ""))
    return "; ".join(why) or None


def with_default_precondition(checks: Sequence[Check], models: Iterable[Health | dict],
                              waivers: dict[str, str] | None = None) -> list[Check]:
    """``checks`` with :func:`default_precondition` of ``models`` joined to the precondition of
    every primary check on trained models (:data:`TRAINED_UNITS`) whose sub-claim is not in
    ``waivers`` (sub-claim id → the recorded reason the claim waives it)."""
    why = default_precondition(models)
    waivers = waivers or {}
    if why is None:
        return list(checks)
    return [replace(c, precondition=joined(c.precondition, f"the models this test loaded: {why}"))
            if c.role == PRIMARY and c.unit in TRAINED_UNITS and c.subclaim not in waivers else c for c in checks]


def excess_loss_drift(label: str, history: dict, floor: float, limit: float) -> str | None:
    """Why a run's reconstruction loss above ``floor`` (the entropy floor: the part of the
    loss a model can change) has not settled, or None: :func:`drift` of (reconstruction
    loss − floor) per epoch beyond ±``limit``. Fewer than 3 epochs: None (:data:`CONVERGED`
    already fails such a run as "convergence unknown")."""
    series = np.asarray(history.get("reconstruction_loss", []), dtype=np.float64) - floor
    if series.size < 3:
        return None
    d = drift(series)
    if abs(d) <= limit:
        return None
    return (
        f"{label}: not converged: loss above the entropy floor {'falling' if d < 0 else 'rising'} "
        f"{abs(d):.1%} per epoch (limit {limit:.0%}) over the last {window(series.size)} epochs"
    )


def below_floor(label: str, loss: float, floor: float) -> str | None:
    """Why a run's reconstruction loss cannot be measured against ``floor`` (it lies at or
    below it: the floor's images are not the ones the run trained on), or None."""
    if loss > floor:
        return None
    return (f"{label}: reconstruction loss {loss:.4g} is not above the entropy floor {floor:.4g} of the "
            "analysed images: the run did not train on them")


def group_preconditions(runs: Mapping[tuple[str, Any], Any], healths: Mapping[tuple[str, Any], Health],
                        usable: Mapping[str, Sequence[Any]], floor: float, needs: Mapping[str, Sequence[str]],
                        drift_limit: float, coded: Mapping[str, Sequence[Any]] | None = None) -> dict[str, str | None]:
    """Why each group's runs cannot carry a verdict about trained models, keyed by group
    (``runs[group, seed]`` with ``.history``; ``usable[group]``: the seeds the statistics
    use; ``coded[group]``: the seeds with finite latent codes, ``usable`` by default): the
    health ``needs[group]`` of every run, non-finite codes of a finite run, a usable run's
    last reconstruction loss not above the entropy ``floor``; under ``"loss"``, the excess
    loss of a usable run still drifting beyond ``drift_limit`` per epoch
    (:func:`excess_loss_drift`)."""
    coded = usable if coded is None else coded
    pre: dict[str, str | None] = {}
    for g in needs:
        seeds = [s for (h, s) in runs if h == g]
        last = {s: float((runs[g, s].history.get("reconstruction_loss") or [float("nan")])[-1]) for s in seeds}
        pre[g] = joined(precondition([healths[g, s] for s in seeds], *needs[g]),
                        *[f"{g} seed {s}: non-finite latent codes" for s in seeds
                          if s not in coded[g] and healths[g, s].finite],
                        *[below_floor(f"{g} seed {s}", last[s], floor) for s in usable[g]])
    pre["loss"] = joined(*[excess_loss_drift(f"{g} seed {s}", runs[g, s].history, floor, drift_limit)
                           for g in needs for s in usable[g]])
    return pre


def joined(*reasons: str | None) -> str | None:
    """Several precondition reasons as one (None when none failed)."""
    return "; ".join(r for r in reasons if r) or None
