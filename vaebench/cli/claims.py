"""``vaebench main``: every claim at a scale (pytest on the claim modules), then the report's path."""
from __future__ import annotations

import sys
from pathlib import Path

from vaebench.cli.outcomes import Outcomes
from vaebench.errors import SpecError, require


def _hypotheses(args) -> Path | None:
    """The claim modules to run: ``--hypotheses PATH``, else ``./hypotheses`` of the
    current folder, else the ``hypotheses/`` next to the vaebench package (None: none)."""
    if args.hypotheses:
        path = Path(args.hypotheses).expanduser().resolve()
        require(path.exists(), f"--hypotheses={args.hypotheses!r} does not exist; pass the folder (or one module) "
                "of claim modules, e.g. --hypotheses hypotheses", SpecError)
        require(path.is_file() or any(path.glob("test_*.py")),
                f"--hypotheses={args.hypotheses!r} holds no claim module (test_*.py)", SpecError)
        return path
    for candidate in (Path.cwd() / "hypotheses", Path(__file__).resolve().parents[2] / "hypotheses"):
        if candidate.is_dir() and any(candidate.glob("test_*.py")):
            return candidate.resolve()
    return None


def cmd_main(args) -> int:
    """All claims at the scale (pytest hypotheses) and the report's path."""
    from vaebench.config import SCALES
    from vaebench.pytest_plugin.options import check_data, unwritable

    require(args.scale in (None, "auto") or args.scale in SCALES,
            f"--scale={args.scale!r} is not a scale; use one of {sorted(SCALES)} or auto", SpecError)
    check_data(args.data, "--data")    # a bad --data fails here, not in every test
    from vaebench.cli.train import budget_of

    epochs, runs = budget_of(args)     # so do bad --epochs and --runs
    hypotheses = _hypotheses(args)
    if hypotheses is None:
        return _train_defaults(args)
    reports = Path(args.report).resolve() if args.report else \
        (hypotheses.parent if hypotheses.is_dir() else hypotheses.parent.parent) / "reports"
    why = unwritable(reports, folder=True)
    require(why is None, f"the reports folder {reports} cannot be written: {why}; pass --report DIR", SpecError)
    options = []
    for option, value in (("--vaebench-scale", args.scale), ("--vaebench-store", args.store),
                          ("--vaebench-data", args.data), ("--vaebench-epochs", epochs),
                          ("--vaebench-runs", runs)):
        if value:
            options += [option, str(value)]
    print(f"claims: {hypotheses}", file=sys.stderr, flush=True)
    from vaebench.cli.planfirst import train_first

    train_first(hypotheses, options)
    argv = [str(hypotheses), "-p", "no:cacheprovider", "-q", "--vaebench-report", str(reports), *options]
    import pytest

    outcomes = Outcomes()
    before = _newest_report(reports)
    code = pytest.main(argv, plugins=[outcomes])
    after = _newest_report(reports)
    return _report_outcome(after if after != before else None, int(code), outcomes)


def _train_defaults(args) -> int:
    """No claim modules anywhere: train and cache the default AE and VAE."""
    from vaebench.claims.session import Session
    from vaebench.cli.train import scale_of

    session = Session(scale_of(args), args.store)
    scale = session.scale
    print(f"scale: {scale.name} ({scale.description})")
    for spec in (scale.ae(), scale.vae()):
        trained = session.model(spec, seed=scale.seeds[0])
        print(f"{spec.kind}: final loss {trained.history['loss'][-1]:.2f} -> {trained.entry.path}")
    return 0


def _newest_report(reports: Path) -> Path | None:
    """The run folder ``reports/latest`` points at, if any."""
    latest = reports / "latest"
    return latest.resolve() if (latest / "index.html").is_file() else None


def _report_outcome(report: Path | None, pytest_code: int, outcomes: Outcomes) -> int:
    """Print the path of this run's report last. Refuted claims are findings (exit 0); a
    test that raised, a setup or collection error, or a run where nothing ran exits 1;
    otherwise a pytest status above 1 (2 interrupted, 5 no tests) is passed on."""
    if outcomes.errors:
        shown = ", ".join(outcomes.errors[:8]) + (" ..." if len(outcomes.errors) > 8 else "")
        print(f"vaebench: {len(outcomes.errors)} test(s) raised an error (a bug or a bad setting, not a verdict): "
              f"{shown}", file=sys.stderr)
    if report is not None:
        print(f"Report: {report / 'index.html'}")
    else:
        print("vaebench: no report was written (no claim recorded a verdict)", file=sys.stderr)
    if outcomes.errors:
        return 1
    if pytest_code > 1:
        return pytest_code
    return 0 if outcomes.ran else 1
