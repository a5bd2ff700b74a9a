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

Posterior collapse (VAE, from mu and logvar of the analysed images): an axis is *active*
when the variance of its posterior mean over images exceeds 0.01 (Burda, Grosse &
Salakhutdinov 2016, "Importance weighted autoencoders", the usual definition); the
per-axis KL is ``E_x[KL(q(z_j|x) || N(0, 1))]``. A VAE is collapsed when fewer than
:data:`MIN_ACTIVE_UNITS` = 5 axes are active: faces vary in at least pose, colours, hair,
expression and light (the synthetic faces have 16 independent factors, CelebA 40
annotated attributes), which five axes cannot carry.

Non-finite runs: a run that stopped on a non-finite loss is neither converged nor
analysable; claims about runaways (C4) use it, all others say so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from vaebench.errors import StatsError, require

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
    "CONVERGED",
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

    def fails(self, condition: str) -> str | None:
        """Why this model fails ``condition`` (:data:`FINITE`, :data:`CONVERGED`,
        :data:`NOT_COLLAPSED`), or None when it passes."""
        require(
            condition in (FINITE, CONVERGED, NOT_COLLAPSED),
            f"condition={condition!r} is not a precondition",
            StatsError,
        )
        if not self.finite:
            return f"{self.label}: {self.reasons.get(FINITE, 'non-finite')}"
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

    slow = []
    if len(loss) < 3:
        converged = None
        reasons[CONVERGED] = f"only {len(loss)} epochs: too few to judge convergence"
    else:
        d_loss = drift(loss)
        diag["loss_drift_per_epoch"] = d_loss
        if not abs(d_loss) <= LOSS_DRIFT_MAX:
            slow.append(f"loss changing {d_loss:+.1%} per epoch (limit ±{LOSS_DRIFT_MAX:.0%})")
        if history.get("probe_radius_mean"):
            d_r = drift(history["probe_radius_mean"])
            diag["radius_drift_per_epoch"] = d_r
            if not abs(d_r) <= RADIUS_DRIFT_MAX:
                slow.append(
                    f"probe radius {'rising' if d_r > 0 else 'falling'} {abs(d_r):.1%} per epoch "
                    f"(limit {RADIUS_DRIFT_MAX:.0%})"
                )
        if history.get("probe_logvar_mean"):
            s_lv = drift(history["probe_logvar_mean"], relative=False)
            diag["logvar_slope_per_epoch"] = s_lv
            if not abs(s_lv) <= LOGVAR_SLOPE_MAX:
                slow.append(
                    f"mean logvar {'rising' if s_lv > 0 else 'falling'} {abs(s_lv):.2f} nat per epoch "
                    f"(limit {LOGVAR_SLOPE_MAX:g})"
                )
        converged = not slow
        if slow:
            reasons[CONVERGED] = "; ".join(slow) + f" over the last {window(len(loss))} epochs"
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
            collapsed = au < MIN_ACTIVE_UNITS
            if collapsed:
                reasons[NOT_COLLAPSED] = (
                    f"{au} of {mu.shape[1]} active units (limit {MIN_ACTIVE_UNITS}); KL {kl.sum():.3g} nats per image"
                )
    return Health(label, True, converged, collapsed, reasons, diag)


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


def joined(*reasons: str | None) -> str | None:
    """Several precondition reasons as one (None when none failed)."""
    return "; ".join(r for r in reasons if r) or None
