"""What a claim test records: its checks, extra statistics, plot data and notes.

A hypothesis module declares ``CLAIM = Claim(...)`` (id, title, the posts' words and
figures) and its tests receive a :class:`ClaimRecorder` from the ``claim`` fixture.
Tests compute; they put *data* for plots here (histogram counts, curves, points,
images) and the report renders it: compute modules never render and the report
never computes.

Plot data is a list of panels, each a dict with a ``type``:

- ``hist``: ``series=[{label, edges, counts}]`` (counts already normalised if wanted)
- ``lines``: ``series=[{label, x, y, low?, high?}]``, ``logx``, ``logy``
- ``scatter``: ``series=[{label, x, y}]``, ``xlim``, ``ylim``
- ``bars``: ``labels``, ``values``, ``low?``, ``high?``
- ``images``: ``images`` (uint8 array n x H x W x 3), ``ncols``
- ``table``: ``columns``, ``rows``

and every panel may carry ``title``, ``xlabel``, ``ylabel`` and ``vlines``
(``[{x, label}]``).
"""
from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vaebench.claims.settled import (
    equilibria,
    flatten,
    guard_measured,
    path_name,
    settle_measured,
    settle_predicted,
    under,
    with_contrasts,
)
from vaebench.errors import StatsError, require
from vaebench.stats.equilibrium import Equilibrium, budgets, predict_final
from vaebench.stats.estimate import Estimate
from vaebench.stats.verdict import (
    Check,
    ClaimResult,
    Design,
    SubClaim,
    Verdict,
    both_levels,
    guard_apart,
    primary_named,
    settle,
)

PANEL_TYPES = ("hist", "lines", "scatter", "bars", "images", "table")


@dataclass(frozen=True)
class Claim:
    """A claim as the posts make it, with its pre-registered verdict structure.

    ``posts`` maps a quantity to the posts' figure; ``subclaims`` are the claim's
    statements, each with the name of its one primary check (:class:`vaebench.stats.verdict.SubClaim`);
    ``alpha`` is the family-wise level of the claim's decision. ``generalises`` names the
    claim this one extends beyond the posts (e.g. C2b generalises C2): such a claim is
    vaebench's, never the posts', and its verdict never touches the other's.
    """

    id: str
    title: str
    quote: str
    source: str
    posts: dict[str, str] = field(default_factory=dict)
    subclaims: tuple[SubClaim, ...] = ()
    alpha: float = 0.05
    generalises: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "subclaims", tuple(self.subclaims))
        require(len(self.subclaims) > 0,
                f"claim {self.id}: declare its sub-claims, each with its primary check, before any run "
                "(subclaims=(SubClaim(id, statement, primary), ...))", StatsError)

    @property
    def design(self) -> Design:
        return Design(self.subclaims, self.alpha)

    @property
    def level(self) -> float:
        """The level of each primary check's interval (1 − α/m, Bonferroni over m sub-claims)."""
        return self.design.level

    def to_dict(self) -> dict:
        d = asdict(self)
        d["subclaims"] = [s.to_dict() for s in self.subclaims]
        d["level"] = self.level
        return d


def jsonable(obj: Any) -> Any:
    """Plain JSON data: arrays to lists (uint8 image stacks to base64), NaN/inf to strings."""
    if isinstance(obj, np.ndarray):
        if obj.dtype == np.uint8 and obj.ndim == 4:
            return {"__images__": base64.b64encode(np.ascontiguousarray(obj).tobytes()).decode(),
                    "shape": list(obj.shape)}
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return obj


def images_from(data: Any) -> np.ndarray:
    """Inverse of :func:`jsonable` for an image stack."""
    if isinstance(data, dict) and "__images__" in data:
        return np.frombuffer(base64.b64decode(data["__images__"]), np.uint8).reshape(data["shape"])
    return np.asarray(data, dtype=np.uint8)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to uint8 (for image panels)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class ClaimRecorder:
    """Collects one test's checks, statistics, plots and notes for the report."""

    def __init__(self, claim: Claim, test: str = ""):
        self.claim = claim
        self.test = test
        self.checks: list[Check] = []
        self.statistics: list[dict] = []
        self.figures: list[dict] = []
        self.notes: list[str] = []
        self.scale: dict = {}
        #: what the test's models were (:func:`vaebench.claims.bookkeeping.models_ran`), set by the plugin
        self.ran: dict = {}
        self.models: list[dict] = []
        self.covered: tuple[str, ...] | None = None
        self.result: ClaimResult | None = None
        self.health_waivers: dict[str, str] = {}
        self.equilibria: dict[str, dict] = {}

    @property
    def level(self) -> float:
        """The level at which to compute every primary check's interval."""
        return self.claim.level

    def covers(self, *subclaims: str) -> None:
        """This test decides only ``subclaims`` (for claims split over several tests)."""
        for sid in subclaims:
            self.claim.design.subclaim(sid)
        self.covered = tuple(subclaims)

    def waive_health(self, subclaim: str, why: str) -> None:
        """Turn off the default precondition (the health of the models this test loaded) for
        ``subclaim``'s primary check, with the reason recorded in the report's notes."""
        self.claim.design.subclaim(subclaim)
        self.health_waivers[subclaim] = why
        self.notes.append(f"{subclaim}: model health waived as a precondition: {why}")

    def model_health(self, *healths) -> None:
        """Record the :class:`vaebench.claims.health.Health` of the models this test used."""
        known = {m["label"] for m in self.models}
        for h in healths:
            if h.label not in known:
                self.models.append(h.to_dict())
                known.add(h.label)

    def check(self, check: Check) -> Check:
        """Add a statistic held to a tolerance; a primary check decides its sub-claim, a
        secondary one is shown beside it."""
        require(isinstance(check, Check), f"check={check!r} is not a vaebench.stats.Check; build one with "
                                          "check_within/check_above/check_below", StatsError)
        self.checks.append(check)
        return check

    def checks_at_equilibrium(self, at: Callable[[Any, float], Sequence[Check]], statistic: Callable[[Any], Any],
                              runs: Sequence[Any], session: Any, epochs: int,
                              apart: Mapping[str, str] | None = None) -> list[Check]:
        """Record the claim's checks ``at(values, level)`` on the runs' current values, each
        primary check judged on the trajectory of its own statistic
        (:mod:`vaebench.stats.equilibrium`): inconclusive, "still moving: predicted final X,
        now Y", when the check gives another verdict on the runs' predicted final values.

        ``statistic(run)`` gives one run's value (a number, or a dict of numbers: ``at`` then
        gets a dict of per-run lists, as a claim module's ``decide`` does); it is taken of
        each of ``runs`` (trained ``epochs`` epochs) and of the same runs trained ⌈E/3⌉ and
        ⌈2E/3⌉ epochs, ``session.at_epochs(run, k)`` (the same seed and data order: a store
        hit). Below 3 epochs there are no three budgets: every primary check is inconclusive
        with that reason. Each primary check is also guarded against a run at another minimum
        (:func:`vaebench.stats.verdict.guard_apart` on its current per-run values: for a dict
        statistic, ``apart`` maps a check's name to its key). Returns the checks it recorded."""
        now = [statistic(r) for r in runs]
        keyed = isinstance(now[0], dict) if now else False
        if epochs < 3 or len(runs) < 2:
            why = (f"the equilibrium of the statistic cannot be judged at {epochs} epochs (it needs three budgets, "
                   "so at least 3)" if epochs < 3 else f"{len(runs)} run(s): the equilibrium needs 2")
            checks = [settle(c, None, why_not=why) if c.role == "primary" else c
                      for c in both_levels(self.claim.design, lambda level: at(_columns(now, keyed), level))]
            return [self.check(c) for c in checks]
        steps = budgets(epochs)
        earlier = [[statistic(session.at_epochs(r, k)) for r in runs] for k in steps[:2]]
        rows = {key: np.array([[_pick(v, key) for v in (a, b, c)] for a, b, c in zip(*earlier, now)])
                for key in (now[0] if keyed else [None])}
        eqs = {key: predict_final(steps, table, self.level) for key, table in rows.items()}
        for key, eq in eqs.items():
            self._record_equilibrium(key, eq, steps)
        cols = _columns(now, keyed)
        checks = _settled(self.claim.design, at, cols, eqs, keyed)
        if keyed and apart:       # a check that rests on one key is settled on that key's trajectory alone
            own = {k: {c.name: c for c in _settled(self.claim.design, at, cols, {k: eqs[k]}, keyed)} for k in eqs}
            checks = [own[apart[c.name]][c.name] if apart.get(c.name) in own else c for c in checks]
        return [self.check(c) for c in self._guarded(checks, now, keyed, apart or {}, at)]

    def checks_at_equilibrium_of(self, at: Callable[[Any, float], Sequence[Check]], statistic: Callable[[Any], dict],
                                 runs: Sequence[Any], now: Sequence[dict], keys: Sequence[str], session: Any,
                                 apart: Mapping[str, str] | None = None) -> list[Check]:
        """:meth:`checks_at_equilibrium` for runs of the session (``run.entry.train.epochs``)
        whose statistics ``now`` (dicts holding ``keys``) are computed already; ``statistic``
        gives them for the same runs at fewer epochs. With fewer than 2 runs the checks are
        decided on the runs as they are (nothing to pool; at most one run is inconclusive)."""
        if len(runs) < 2:
            return [self.check(c) for c in both_levels(self.claim.design, lambda level: at(
                {k: [v[k] for v in now] for k in keys}, level))]
        known = {id(r): v for r, v in zip(runs, now)}

        def of(run: Any) -> dict:
            values = known.get(id(run)) or statistic(run)
            return {k: values[k] for k in keys}

        return self.checks_at_equilibrium(at, of, runs, session, epochs=runs[0].entry.train.epochs, apart=apart)

    def checks_at_equilibrium_measured(self, at: Callable[[Any, float], Sequence[Check]], now: Mapping,
                                       earlier: Callable[[int], Mapping], epochs: int, keys: Sequence[str],
                                       rests_on: Mapping[str, Sequence] | None = None,
                                       then: Callable[[list[Check]], list[Check]] | None = None) -> list[Check]:
        """Record ``at(measured, level)`` on a claim's ``now`` (its measured dict: per-run lists,
        or dicts of model → per-run list, under ``keys``), each primary check judged on the
        trajectory of the series it rests on (:mod:`vaebench.claims.settled`): ``earlier(k)``
        gives the same dict for the same runs trained ``k`` epochs, for the two earlier budgets
        of ``epochs``. ``rests_on`` maps a primary check's name to the stats (or (stat, model)
        paths, or the :class:`vaebench.claims.settled.Contrast` of two paired series) it reads:
        it is settled on those alone and guarded against a run at another minimum in each;
        ``then(checks)``, when given, adjusts the settled checks before they are recorded (e.g.
        one sub-claim gated on another's verdict). Returns the checks it recorded."""
        flat = with_contrasts(flatten(now, keys), rests_on)
        eqs, why, steps = {}, "", budgets(epochs) if epochs >= 3 else ()
        if epochs < 3:
            why = f"the equilibrium of the statistic cannot be judged at {epochs} epochs (it needs three budgets)"
        elif min((v.size for v in flat.values()), default=0) < 2:
            why = "fewer than 2 runs of a model: the equilibrium needs 2"
        else:
            series = [with_contrasts(flatten(earlier(k), keys), rests_on) for k in steps[:2]] + [flat]
            eqs, why = equilibria(steps, series, self.level)
        for p in eqs:                   # every series a check reads; one component of a vector per run is not shown
            if rests_on is None or any(under(p, on) for on in rests_on.values()):
                self._record_equilibrium(path_name(p), eqs[p], steps, shown=not isinstance(p[-1], int))
        checks = guard_measured(settle_measured(self.claim.design, at, now, flat, eqs, why, rests_on), flat, rests_on,
                                self.claim.design, at, now)
        return [self.check(c) for c in (then(checks) if then else checks)]

    def _guarded(self, checks: list[Check], now: list, keyed: bool, apart: Mapping[str, str],
                 at: Callable[[Any, float], Sequence[Check]]) -> list[Check]:
        out = []
        for c in checks:
            key = apart.get(c.name) if keyed else None
            if c.role == "primary" and (not keyed or key):
                def decide_on(rows, values, name=c.name, key=key):
                    sub = [({**now[i], key: v} if keyed else v) for i, v in zip(rows, values)]
                    return primary_named(self.claim.design, lambda level: at(_columns(sub, keyed), level), name)
                c, finding = guard_apart(c, [_pick(v, key) for v in now], decide_on=decide_on)
                if finding is not None:
                    out.append(finding)
            out.append(c)
        return out

    def _record_equilibrium(self, key: str | None, eq: Equilibrium, steps: tuple[int, int, int],
                            shown: bool = True) -> None:
        name = key or "statistic"
        self.equilibria[name] = {"epochs": list(steps), **eq.to_dict()}
        if not shown:
            return
        self.statistic(f"predicted final value of the {name} (t CI across runs)", eq.predicted,
                       note=f"now {eq.now}; runs: {eq.kinds}; epochs {steps}")

    def statistic(self, name: str, estimate: Estimate | float, posts: str | None = None, note: str = "",
                  exact: bool | None = None) -> None:
        """Add a statistic shown in the report without a tolerance (it does not vote).

        A plain number is shown without an interval: labelled exact when ``exact`` is true
        or, by default, when it is an integer (a count); a float (a mean over runs, say) is
        "a value without interval", never "exact"."""
        if not isinstance(estimate, Estimate):
            is_int = isinstance(estimate, (int, np.integer)) and not isinstance(estimate, (bool, np.bool_))
            exact = is_int if exact is None else exact
            estimate = Estimate.exact(float(estimate), method="exact" if exact else "no interval")
        self.statistics.append({"name": name, "estimate": estimate.to_dict(), "estimate_text": str(estimate),
                                "posts": posts, "note": note})

    def plot(self, title: str, *panels: dict, ncols: int = 2, caption: str = "") -> None:
        """Add a figure made of ``panels`` (see the module docstring for their types)."""
        for p in panels:
            require(p.get("type") in PANEL_TYPES,
                    f"panel type={p.get('type')!r} is not one of {PANEL_TYPES}", StatsError)
        self.figures.append({"title": title, "panels": list(panels), "ncols": ncols, "caption": caption})

    def note(self, text: str) -> None:
        self.notes.append(text)

    def describe_scale(self, **info: Any) -> None:
        """What the claim ran at (data, image size, z_dim, epochs, seeds, ...)."""
        self.scale.update(info)

    def decide(self) -> ClaimResult:
        """The pre-registered decision over the sub-claims this test covers."""
        from vaebench.claims.health import with_default_precondition
        checks = with_default_precondition(self.checks, self.models, self.health_waivers)
        return ClaimResult.from_checks(self.claim.id, checks, design=self.claim.design, covered=self.covered)

    def verdict(self, reason: str = "") -> Verdict:
        self.result = self.decide()
        if reason:
            self.result.reason = reason
        return self.result.verdict

    def failure_message(self) -> str:
        result = self.result or self.decide()
        lines = [f"{self.claim.id} {result.verdict.value.upper()}: {result.reason}"]
        marks = {Verdict.SUPPORTED: "ok  ", Verdict.REFUTED: "FAIL", Verdict.INCONCLUSIVE: "open"}
        for sub in result.subclaims:
            c = sub.check
            lines.append(f"  [{marks[sub.verdict]}] {sub.subclaim.id} {sub.subclaim.statement}")
            if c is not None:
                posts = f"; posts: {c.posts}" if c.posts else ""
                lines.append(f"         primary: {c.name}: {c.estimate}; tolerance: {c.tolerance}{posts}")
                if c.precondition:
                    lines.append(f"         precondition failed: {c.precondition}")
                if c.equilibrium is not None and not c.equilibrium.settled:
                    lines.append(f"         {c.equilibrium.text}")
            else:
                lines.append(f"         {sub.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        result = self.result or self.decide()
        checks = []
        for c in self.checks:
            d = c.to_dict()
            d["claim"] = self.claim.id
            checks.append(d)
        return jsonable({"claim": self.claim.to_dict(), "test": self.test, "verdict": result.verdict.value,
                         "reason": result.reason, "subclaims": [s.to_dict() for s in result.subclaims],
                         "checks": checks, "statistics": self.statistics, "figures": self.figures,
                         "notes": self.notes, "scale": self.scale, "ran": self.ran, "models": self.models,
                         "equilibria": self.equilibria})


def _settled(design: Any, at: Callable, cols: Any, eqs: Mapping[Any, Equilibrium], keyed: bool) -> list[Check]:
    """:func:`settle_predicted` with the predictions of ``eqs`` (for a dict statistic, the keys
    of ``eqs`` predicted, every other key at its current values; a number's one series is ``None``)."""
    if keyed:
        return settle_predicted(design, at, cols, eqs)
    return settle_predicted(design, lambda values, level: at(values[None], level), {None: cols}, eqs)


def _pick(value: Any, key: str | None) -> float:
    return float(value if key is None else value[key])


def _columns(values: Sequence[Any], keyed: bool) -> Any:
    """Per-run values as ``at`` takes them: a list, or a dict of per-run lists."""
    if not keyed:
        return [float(v) for v in values]
    return {k: [float(v[k]) for v in values] for k in values[0]} if values else {}
