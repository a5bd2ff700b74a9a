"""A claim's checks judged at equilibrium when its statistics come from several models.

:meth:`vaebench.claims.record.ClaimRecorder.checks_at_equilibrium` settles checks whose
statistic is one number (or one dict of numbers) per run. A claim that compares models (an
AE against a VAE, float32 against bfloat16, a sweep) measures a *nested* dict instead:
``measured[stat]`` is a list with one value per run (a number or a vector of numbers, e.g.
a quality curve), or a dict ``model -> list``. This module takes that dict as the claim's
``decide`` takes it, at the budget trained and at the two earlier budgets
(:func:`vaebench.stats.equilibrium.budgets`), and predicts each per-run series' final value
(:func:`vaebench.stats.equilibrium.predict_final`); each primary check is then settled on
the series it rests on (``rests_on``: check name → the stats, or (stat, model) paths, it
reads), every other series kept at its current values, so a secondary series that has not
settled never blocks a primary check.

A check that reads run i of one model against run i of another (twins of one seed: bf16
against float32, Dense against none) is settled on the per-run contrast, its own statistic
(:class:`Contrast`, named in ``rests_on``), never on the two models apart: a relaxation the
twins share cancels in the contrast, and the contrast's own approach can be slower or
faster than either model's (measured on C2b's sweep, whose shared fast descent hid a slope
still climbing; tests/test_claim_c2b.py). The prediction of the contrast is written back
into the first model's series (``a = b + c`` or ``a = b × c``, ``b`` at its current values),
so the claim's ``decide`` reads it as it reads any measured dict.

Pure (no model, no data): tested in tests/test_settled.py on planted trajectories.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vaebench.errors import StatsError, require
from vaebench.stats.equilibrium import DRIFT_HORIZONS, Equilibrium, predict_final
from vaebench.stats.verdict import PRIMARY, Check, Design, both_levels, guard_apart, primary_named, settle, settle_all

Path = tuple


@dataclass(frozen=True)
class Contrast:
    """The per-run contrast of series ``a`` with series ``b`` (paths as in :func:`flatten`;
    run i of each shares a seed): ``a − power·b``, or ``a / b^power`` with ``ratio`` (``power``
    1 by default; C6e's "less than half as far from its null", ``a / √b``, has 0.5). Named in
    ``rests_on``, it is the series a check is settled on (module docstring); its key in the
    flat series is the 1-tuple ``(contrast,)``."""

    a: Path
    b: Path
    ratio: bool = False
    power: float = 1.0

    def __str__(self) -> str:
        b = path_name(self.b) if self.power == 1 else f"({path_name(self.b)})^{self.power:g}"
        return f"{path_name(self.a)} {'/' if self.ratio else '−'} {b}"

    def of(self, flat: Mapping[Path, np.ndarray]) -> np.ndarray:
        missing = [path_name(p) for p in (self.a, self.b) if p not in flat]
        require(not missing, f"{self}: no series {missing} among the keys; name the contrast (or its two "
                "series) in keys", StatsError)
        a, b = (np.asarray(flat[p], dtype=np.float64) for p in (self.a, self.b))
        require(a.shape == b.shape, f"{self}: {a.size} and {b.size} runs; a contrast pairs run i of each", StatsError)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b ** self.power if self.ratio else a - self.power * b

    def back(self, b: Sequence[float], contrast: Sequence[float]) -> list[float]:
        """The series ``a`` whose contrast with ``b`` is ``contrast``."""
        b, c = np.asarray(b, dtype=np.float64), np.asarray(contrast, dtype=np.float64)
        return list(b ** self.power * c if self.ratio else self.power * b + c)


def with_contrasts(flat: Mapping[Path, np.ndarray], rests_on: Mapping[str, Sequence] | None) -> dict:
    """``flat`` with the series of every :class:`Contrast` ``rests_on`` names, under ``(contrast,)``."""
    out = dict(flat)
    for on in (rests_on or {}).values():
        for c in on:
            if isinstance(c, Contrast):
                out[(c,)] = c.of(flat)
    return out


def _written_back(values: Mapping) -> dict:
    """``values`` (flat series) with each contrast's series written into its first series."""
    out = {k: v for k, v in values.items() if not isinstance(k[0], Contrast)}
    for k, v in values.items():
        if isinstance(k[0], Contrast):
            out[k[0].a] = k[0].back(out[k[0].b], v)
    return out


def flatten(measured: Mapping, keys: Sequence) -> dict[Path, np.ndarray]:
    """The per-run series under ``keys`` of ``measured``: ``{path: values per run}``. A key is
    a stat name or a path of names into nested dicts (``('ae', 'void_ratio')``); under it lies
    a list with one value per run, or a dict of such lists (each its own path, ``('excess',
    'VAE')``); a run's value that is a vector gives one path per component, ``(…, i)``. A
    :class:`Contrast` among ``keys`` stands for its two series."""
    out: dict[Path, np.ndarray] = {}
    paths = [p for key in keys for p in ((key.a, key.b) if isinstance(key, Contrast) else (key,))]
    for key in paths:
        path = key if isinstance(key, tuple) else (key,)
        node: Any = measured
        for step in path:
            require(isinstance(node, Mapping) and step in node,
                    f"measured has no {path!r}; name only stats (or paths) it holds", StatsError)
            node = node[step]
        _add(out, path, node)
    return out


def _add(out: dict, path: Path, node: Any) -> None:
    if isinstance(node, Mapping):
        for k, v in node.items():
            _add(out, (*path, k), v)
        return
    arr = np.asarray(node, dtype=np.float64)
    if arr.ndim <= 1:
        out[path] = arr.reshape(-1)
    else:
        for i in range(arr.shape[1]):
            out[(*path, i)] = arr[:, i]


def unflatten(measured: Mapping, flat: Mapping[Path, Sequence[float]]) -> dict:
    """``measured`` with the series of ``flat`` in place of its own (the inverse of :func:`flatten`)."""
    out = copy.deepcopy(dict(measured))
    for path, values in flat.items():
        values = [float(v) for v in values]
        parent, i = out, 0
        while isinstance(parent[path[i]], Mapping) and i + 1 < len(path):
            parent, i = parent[path[i]], i + 1
        if i + 1 == len(path):
            parent[path[i]] = values
        else:                                   # the component path[i + 1] of each run's vector
            rows = parent[path[i]]
            for j, v in enumerate(values):
                rows[j] = list(rows[j])
                rows[j][path[i + 1]] = v
    return out


def under(path: Path, on: Sequence) -> bool:
    """Whether ``path`` is (or lies under) one of ``on`` (a stat name, a path tuple or a
    :class:`Contrast`, whose path is ``(contrast,)``)."""
    return any(path[:len(p)] == p for p in (o if isinstance(o, tuple) else (o,) for o in on))


def equilibria(steps: Sequence[int], series: Sequence[Mapping[Path, np.ndarray]],
               level: float) -> tuple[dict[Path, Equilibrium], str]:
    """The :class:`Equilibrium` of every path of ``series`` (the flat series at the three
    budgets, in ``steps`` order), and why there is none ('' when there is): a run count that
    differs between budgets, or a value that is not finite."""
    first, *_, now = series
    eqs = {}
    for path in now:
        columns = [np.asarray(s.get(path, []), dtype=np.float64) for s in series]
        if len({c.size for c in columns}) != 1 or columns[0].size == 0:
            return {}, f"{path[0]}: the runs measured at {tuple(steps)} epochs differ"
        table = np.column_stack(columns)
        if not np.all(np.isfinite(table)):
            return {}, f"{path[0]}: a run's value is not finite at an earlier budget"
        eqs[path] = predict_final(steps, table, level)
    return eqs, ""


def settle_measured(design: Design, at: Callable[[Any, float], Sequence[Check]], now: Mapping,
                    flat: Mapping[Path, np.ndarray], eqs: Mapping[Path, Equilibrium], why_not: str = "",
                    rests_on: Mapping[str, Sequence] | None = None) -> list[Check]:
    """``at(measured, level)`` on ``now``, each primary check settled on the predictions of
    the series it rests on (``rests_on[name]``; all of ``eqs`` when it names none), the
    other series at their current values. With no ``eqs`` (``why_not`` says why), every primary
    check is still moving for that reason."""
    def at_flat(values: Mapping, level: float) -> Sequence[Check]:
        return at(unflatten(now, _written_back(values)), level)

    current = both_levels(design, lambda level: at(now, level))
    if not eqs:
        return [settle(c, None, why_not=why_not) if c.role == PRIMARY else c for c in current]
    cache: dict[tuple, dict[str, Check]] = {}
    out = []
    for c in current:
        if c.role != PRIMARY:
            out.append(c)
            continue
        on = (rests_on or {}).get(c.name)
        group = tuple(p for p in eqs if on is None or under(p, on))
        if group not in cache:
            cache[group] = {s.name: s for s in settle_predicted(design, at_flat, flat, {p: eqs[p] for p in group})}
        out.append(cache[group][c.name])
    return out


def settle_predicted(design: Design, at: Callable[[Any, float], Sequence[Check]], current: Mapping,
                     eqs: Mapping[Any, Equilibrium]) -> list[Check]:
    """:func:`vaebench.stats.verdict.settle_all` on ``current`` (a dict of per-run series, as
    ``at`` takes it) with the predictions of ``eqs`` in place of the series it predicts (at
    the point estimate of the relaxation rate and at both ends of its interval), every other
    series at its current values."""
    def values(j: int) -> dict:
        return {k: (eqs[k].alternatives[j] if k in eqs else list(v)) for k, v in current.items()}

    ends = [values(j) for j in (1, 2)] if any(e.ends for e in eqs.values()) else []
    kinds = next(iter(eqs.values())).kinds if len(eqs) == 1 else None
    drifts = []
    if any(e.unbounded for e in eqs.values()):
        table = {k: e.drifts() for k, e in eqs.items()}
        drifts = [(h, {k: (table[k][j] if k in eqs else list(v)) for k, v in current.items()})
                  for j, h in enumerate(DRIFT_HORIZONS)]
    return settle_all(design, at, {k: list(v) for k, v in current.items()}, values(0), kinds, ends, drifts)


def guard_measured(checks: Sequence[Check], flat: Mapping[Path, np.ndarray],
                   rests_on: Mapping[str, Sequence] | None, design: Design,
                   at: Callable[[Any, float], Sequence[Check]], now: Mapping) -> list[Check]:
    """Each primary check guarded against runs at another minimum in each scalar series it
    rests on (:func:`vaebench.stats.verdict.guard_apart`); a finding is a secondary check of
    its own. The check keeps its verdict where ``at`` on each group of runs alone (of ``now``,
    the measured dict: :func:`take_runs`) gives it too."""
    out = []
    for c in checks:
        on = (rests_on or {}).get(c.name)
        if c.role == PRIMARY and on:
            for path, values in flat.items():
                if under(path, on) and not isinstance(path[-1], int) and values.size >= 3:
                    c, finding = guard_apart(c, values, decide_on=_decide_on(design, at, now, flat, path, c.name))
                    if finding is not None:
                        out.append(replace(finding, name=f"{finding.name} ({path_name(path)})"))
        out.append(c)
    return out


def _decide_on(design: Design, at: Callable[[Any, float], Sequence[Check]], now: Mapping,
               flat: Mapping[Path, np.ndarray], path: Path, name: str) -> Callable[[np.ndarray, np.ndarray], Check]:
    """``(rows, values) -> check`` named ``name`` decided on the runs ``rows`` of ``now``, the
    series at ``path`` (a stat, or a :class:`Contrast` written back into its first series) at ``values``."""
    n = flat[path].size

    def decide_on(rows: np.ndarray, values: np.ndarray) -> Check:
        sub = take_runs(now, n, rows)
        if isinstance(path[0], Contrast):
            series = {path[0].a: path[0].back(np.asarray(flat[path[0].b])[rows], values)}
        else:
            series = {path: values}
        measured = unflatten(sub, series)
        return primary_named(design, lambda level: at(measured, level), name)

    return decide_on


def take_runs(measured: Any, n: int, rows: Sequence[int]) -> Any:
    """``measured`` with every per-run list of ``n`` runs (at any depth of its dicts) cut to
    the runs ``rows``; lists of another length (another model's runs) are kept whole."""
    if isinstance(measured, Mapping):
        return {k: take_runs(v, n, rows) for k, v in measured.items()}
    if isinstance(measured, (list, tuple, np.ndarray)) and len(measured) == n:
        return [measured[int(i)] for i in rows]
    return measured


def path_name(path: Path) -> str:
    """``('excess', 'VAE')`` → ``'excess VAE'``."""
    return " ".join(str(p) for p in path)


__all__ = ["Contrast", "equilibria", "flatten", "guard_measured", "path_name", "settle_measured",
           "settle_predicted", "take_runs", "unflatten", "with_contrasts"]
