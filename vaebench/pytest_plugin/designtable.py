"""The design table, before any model trains: for each claim module collected, what each
primary check can decide at the run's count of runs (:func:`vaebench.stats.design.design_table`),
from the module's ``CLAIM`` (its sub-claims and primary checks) and its module-level
``PRIORS`` (sub-claim id -> :class:`vaebench.stats.design.Prior`: the prior between-run SD
with its source, and the room its tolerance leaves; or :class:`vaebench.stats.design.Stated`:
a check the normal model does not fit, with its kind and reason). Printed at the end of collection and
recorded in results.json (``design``)."""
from __future__ import annotations

from vaebench.stats.design import design_table

_COLOURS = {True: {"green": True}, False: {"yellow": True}, None: {}}


def design_tables(items, n_runs: int) -> list[dict]:
    """One entry per claim module among the collected ``items``, in collection order."""
    out, seen = [], set()
    for item in items:
        if "claim" not in getattr(item, "fixturenames", ()):
            continue                        # not a claim test (a unit test may hold a CLAIM too)
        module = getattr(item, "module", None)
        claim = getattr(module, "CLAIM", None)
        if claim is None or not hasattr(claim, "subclaims") or claim.id in seen:
            continue
        seen.add(claim.id)
        subs = [(s.id, s.primary) for s in claim.subclaims]
        try:
            rows = design_table(subs, getattr(module, "PRIORS", {}) or {}, n_runs, claim.alpha)
        except Exception as e:  # noqa: BLE001 - a bad declaration is shown, it does not stop the run
            rows = [{"subclaim": "", "check": "", "can_support": None,
                     "text": f"the design of {claim.id} cannot be computed: {type(e).__name__}: {e}"}]
        out.append({"claim": claim.id, "title": claim.title, "n_runs": n_runs, "rows": rows})
    return out


def n_runs_of(config) -> int:
    """The run count of every model of the run: ``--vaebench-seeds``, else the scale's seeds."""
    from vaebench.config import get_scale
    from vaebench.pytest_plugin.options import parse_seeds, scale_option

    seeds = parse_seeds(config.getoption("--vaebench-seeds", None))
    return len(seeds) if seeds else len(get_scale(scale_option(config)).seeds)


def write_design(tr, tables: list[dict]) -> None:
    """The table on the terminal."""
    tr.section("vaebench design: what each primary check can decide (before training)")
    for t in tables:
        tr.write_line(f"{t['claim']:4s} {t['title']}  ({t['n_runs']} runs)")
        for row in t["rows"]:
            src = f"  [prior: {row['source']}]" if row.get("source") else ""
            tr.write_line(f"       {row['text']}{src}"[:300], **_COLOURS[row.get("can_support")])
