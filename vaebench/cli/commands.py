"""The ``vaebench`` command.

    vaebench main [--scale S] [--data D] [--store DIR] [--hypotheses PATH]
                                              all claims at the scale, then the report's path
    vaebench train [--kind ae|vae] [--fact F] [--seed 0 1 ..] [--pack N] [--precision P] [--data D]
                                              train (or load) models through the store
    vaebench train --plan PLAN [--executor local|ray] [--address ADDR] [--store DIR]
                                              train the missing models of a plan (pytest --vaebench-plan)
    vaebench store list|clear [--store DIR]   what the trained-model store holds
    vaebench scales                           the named scales and what they choose
    vaebench compare OLD NEW [--history DIR]  verdict flips, moved statistics, slower benchmarks (exit 1)
    vaebench history add RUN --to DIR         keep a run (slim results.json + benchmark JSON) in a history
    vaebench device-check --out DIR --budget-s N [--size posts|tiny]
                                              the GPU machine's check: benchmarks, one epoch, claims
    vaebench history open|save DIR --branch B the history folder as a worktree of a git branch (CI)

Data (--data, else $VAEBENCH_DATA): synthetic (default), celeba:PATH or folder:PATH.
Exit status: 0 done (refuted claims are findings, not failures); 1 a test raised, a
model stopped on a non-finite loss, or nothing ran; 2 a bad option or a vaebench error.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from vaebench.errors import SpecError, VaebenchError, require


def _scale(args):
    from vaebench.config import get_scale, with_data

    return with_data(get_scale(args.scale), getattr(args, "data", None))


def _session(args):
    from vaebench.claims.session import Session

    return Session(_scale(args), args.store)


def cmd_scales(args) -> int:
    from vaebench.config import SCALES

    for scale in SCALES.values():
        d, t = scale.data, scale.train
        print(f"{scale.name:6s} {d.image_size}px n_train={d.n_train:,} z_dim={scale.z_dim} epochs={t.epochs} "
              f"batch={t.batch_size} lr={t.learning_rate:g} seeds={len(scale.seeds)}  - {scale.description}")
    return 0


def _model_spec(args, scale):
    """The model spec the train options ask for; options that do not apply are errors."""
    if args.kind == "ae":
        ignored = [f"--{name.replace('_', '-')}={value:g}" for name, value in
                   (("fact", args.fact), ("eps_clip", args.eps_clip)) if value is not None]
        require(not ignored, f"{', '.join(ignored)} with --kind ae: an AE has no KL term (no fact, no epsilon "
                "to clip); drop the option or use --kind vae", SpecError)
        spec = scale.ae()
    else:
        spec = scale.vae(fact=1e-5 if args.fact is None else args.fact, eps_clip=args.eps_clip)
    if args.dense is not None:
        spec = dataclasses.replace(spec, dense=args.dense)
    return spec


def cmd_train(args) -> int:
    from vaebench.config import check_count
    from vaebench.store.executors import executor

    if args.pack is not None:
        check_count("--pack", args.pack, allow_zero=False)
    run = executor(args.executor, args.address)
    if args.plan:
        return _train_plan(args, run)
    scale = _scale(args)
    spec = _model_spec(args, scale)          # bad options fail before anything loads
    requests = [(spec, s, scale.training(s, precision=args.precision or "float32")) for s in args.seed or [0]]
    from vaebench.claims.session import Session

    session = Session(scale, args.store)
    t0 = time.perf_counter()
    if args.executor != "local":             # train the missing ones there, then load them here
        from vaebench.store.plan import Plan

        pack = args.pack or scale.pack
        run.run(Plan.of(session.plan(requests), store=str(session.store.root), pack=pack, scale=scale.name),
                session.store)
    stopped = []
    for trained in session.models(requests, pack=args.pack):
        entry, losses = trained.entry, trained.history.get("loss", [])
        final = f"final loss {losses[-1]:.2f}" if losses else "no epoch completed"
        line = (f"{entry.name}: {len(losses)}/{entry.train.epochs} epochs, {final}, "
                f"{entry.meta.get('images_per_second', 0):,.0f} img/s per model (pack of {entry.meta.get('pack', 1)})")
        if trained.stopped:
            stopped.append(entry.name)
            line += f"\n  STOPPED: {trained.stopped}"
        print(line)
        print(entry.path)
    from vaebench.claims.session import data_line

    print(data_line(session.data_notes()))
    print(f"ready in {time.perf_counter() - t0:.1f}s")
    if stopped:
        print(f"vaebench: {len(stopped)} of {len(requests)} models STOPPED before their last epoch (a non-finite "
              f"loss): {', '.join(stopped)}; their weights are not a trained model", file=sys.stderr)
        return 1
    return 0


def _train_plan(args, run) -> int:
    """``vaebench train --plan PLAN``: train the plan's missing models with the executor."""
    from vaebench.store.modelstore import ModelStore
    from vaebench.store.plan import Plan

    given = [f"--{name.replace('_', '-')}" for name in ("scale", "data", "kind", "fact", "eps_clip", "dense", "seed",
                                                         "precision") if getattr(args, name) is not None]
    require(not given, f"{', '.join(given)} with --plan: the plan holds every spec; drop them, or train without "
            "--plan", SpecError)
    plan = Plan.read(args.plan)
    store = ModelStore(args.store or plan.store or None)
    plan = plan.with_store(store)
    if args.pack is not None:
        plan = dataclasses.replace(plan, pack=args.pack)
    print(f"plan {args.plan}: {plan.summary()}; store {store.root}; executor {args.executor}", flush=True)
    t0 = time.perf_counter()
    runs = run.run(plan, store)
    seconds = time.perf_counter() - t0
    missing, stopped = [], []
    for m in plan.models:
        entry = store.get(m.data, m.model, m.train, fingerprint=m.fingerprint)
        if entry is None:
            missing.append(m.name)
        elif entry.meta.get("stopped"):
            stopped.append(f"{m.name} ({entry.meta['stopped']})")
    trained = sum(len(r.trained) for r in runs)
    print(f"trained {trained} models in {seconds:.1f}s; {len(plan.models) - len(missing)} of {len(plan.models)} "
          f"models of the plan are in the store")
    require(not missing, f"{len(missing)} models of the plan are not in the store after training: "
            f"{', '.join(missing[:5])}", SpecError)
    if stopped:
        print(f"vaebench: {len(stopped)} models STOPPED before their last epoch (a non-finite loss): "
              f"{'; '.join(stopped)}", file=sys.stderr)
        return 1
    return 0


def cmd_store(args) -> int:
    from vaebench.store.modelstore import ModelStore

    store = ModelStore(args.store, progress=False)
    if args.action == "clear":
        n = store.clear()
        print(f"removed {n} entries from {store.root}")
        return 0
    entries = store.entries()
    print(f"store: {store.root} ({len(entries)} entries)")
    for e in entries:
        loss = e.history.get("loss", [float("nan")])[-1]
        stopped = e.meta.get("stopped")
        data_fp = (e.key_parts or {}).get("data_fingerprint", "")[:8]
        print(f"  {e.name:56s} {e.data.source}:{e.data.image_size}px n={e.data.n_train} data={data_fp} "
              f"epochs={len(e.history.get('loss', []))}/{e.train.epochs} loss={loss:.2f} "
              f"{store.size_bytes(e.path) / 1e6:.1f} MB {e.meta.get('created', '')}"
              + (f" STOPPED: {stopped}" if stopped else ""))
    for name, problem in store.damaged():
        print(f"  {name}: NOT LOADED ({problem})")
    return 0


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


class _Outcomes:
    """A pytest plugin that sorts what went wrong in a run of claims: a claim test that
    failed because its claim is refuted is a finding; anything else that failed (a test
    that raised, a fixture or collection error) is an error."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.refuted: list[str] = []
        self.ran = 0

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"collecting {report.nodeid or 'the claims'}")

    def pytest_runtest_logreport(self, report):
        from vaebench.pytest_plugin.outcome import VERDICT_KEY, prop

        if report.when == "call":
            self.ran += 1
        if not report.failed:
            return
        if report.when == "call" and prop(report, VERDICT_KEY) == "refuted":
            self.refuted.append(report.nodeid)
        else:
            self.errors.append(report.nodeid + ("" if report.when == "call" else f" ({report.when})"))


def cmd_main(args) -> int:
    """All claims at the scale (pytest hypotheses) and the report's path."""
    from vaebench.config import SCALES, parse_data

    require(args.scale in (None, "auto") or args.scale in SCALES,
            f"--scale={args.scale!r} is not a scale; use one of {sorted(SCALES)} or auto", SpecError)
    parse_data(args.data)   # a bad --data fails here, not in every test
    hypotheses = _hypotheses(args)
    if hypotheses is not None:
        import pytest

        reports = Path(args.report).resolve() if args.report else \
            (hypotheses.parent if hypotheses.is_dir() else hypotheses.parent.parent) / "reports"
        argv = [str(hypotheses), "-p", "no:cacheprovider", "-q", "--vaebench-report", str(reports)]
        for option, value in (("--vaebench-scale", args.scale), ("--vaebench-store", args.store),
                              ("--vaebench-data", args.data)):
            if value:
                argv += [option, value]
        print(f"claims: {hypotheses}", file=sys.stderr, flush=True)
        outcomes = _Outcomes()
        before = _newest_report(reports)
        code = pytest.main(argv, plugins=[outcomes])
        after = _newest_report(reports)
        return _report_outcome(after if after != before else None, int(code), outcomes)
    # no claim modules anywhere: train and cache the default AE and VAE
    session = _session(args)
    scale = session.scale
    print(f"scale: {scale.name} ({scale.description})")
    for spec in (scale.ae(), scale.vae()):
        trained = session.model(spec, seed=scale.seeds[0])
        h = trained.history
        print(f"{spec.kind}: final loss {h['loss'][-1]:.2f} -> {trained.entry.path}")
    return 0


def _newest_report(reports: Path) -> Path | None:
    """The run folder ``reports/latest`` points at, if any."""
    latest = reports / "latest"
    return latest.resolve() if (latest / "index.html").is_file() else None


def _report_outcome(report: Path | None, pytest_code: int, outcomes: _Outcomes) -> int:
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


def cmd_device_check(args) -> int:
    from vaebench.bench import devicecheck

    claims = None if args.claims is None else tuple(args.claims)
    return devicecheck.main(args.out, args.budget_s, args.size, args.store, claims)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vaebench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--scale", default=None, help="smoke, cpu, full or auto (default: $VAEBENCH_SCALE or auto: "
                                                     "full with a GPU, cpu without)")
        p.add_argument("--store", default=None, help="model store folder (default: $VAEBENCH_STORE or "
                                                     "~/.cache/vaebench)")
        p.add_argument("--data", default=None,
                       help="synthetic, celeba:PATH or folder:PATH (default: $VAEBENCH_DATA or synthetic); the "
                            "image size and counts are the scale's, a folder gives what it holds up to them")

    p = sub.add_parser("main", help="run all claims at a scale and print the report's path")
    common(p)
    p.add_argument("--hypotheses", default=None,
                   help="folder (or module) of claim modules (default: ./hypotheses, else the one next to the "
                        "vaebench package)")
    p.add_argument("--report", default=None, help="folder of reports (default: reports/ beside the hypotheses)")
    p.set_defaults(func=cmd_main)
    p = sub.add_parser("train", help="train (or load) models through the store, or the missing models of a plan")
    common(p)
    p.add_argument("--plan", default=None, metavar="PLAN",
                   help="train the missing models of PLAN (written by pytest hypotheses --vaebench-plan PLAN) "
                        "into --store (default: the plan's store)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: in this process (default); ray: one Ray task per pack on the cluster of "
                        "--address (pip install 'vaebench[ray]'; the store must be on a filesystem every node "
                        "reaches)")
    p.add_argument("--address", default=None, help="the Ray cluster (default: $RAY_ADDRESS, else a local one)")
    p.add_argument("--kind", choices=("ae", "vae"), default=None, help="ae or vae (default vae)")
    p.add_argument("--fact", type=float, default=None, help="the VAE's KL weight (default 1e-5; not for an AE)")
    p.add_argument("--eps-clip", type=float, default=None)
    p.add_argument("--dense", type=int, default=None)
    p.add_argument("--seed", type=int, nargs="+", default=None, help="one or more seeds, e.g. --seed 0 1 2 3 "
                                                                       "(default 0)")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default=None, help="default float32")
    p.add_argument("--pack", type=int, default=None,
                   help="how many of the models train at once as one Keras model (default: the scale's)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("store", help="list or clear the trained-model store")
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument("--store", default=None)
    p.set_defaults(func=cmd_store)
    p = sub.add_parser("scales", help="the named scales")
    p.set_defaults(func=cmd_scales)
    p = sub.add_parser("device-check", help="measure the training path on a GPU and run full-scale claims within "
                                            "a time budget (benchmarks/device_check.sh)")
    p.add_argument("--out", required=True, help="folder for summary.json, benchmark.json and report/")
    p.add_argument("--budget-s", type=float, default=450.0, help="seconds the whole check may take (default 450)")
    p.add_argument("--size", choices=("posts", "tiny"), default="posts",
                   help="posts: 96x96 on a GPU (one line and exit 0 without one); tiny: the same steps small, any CPU")
    p.add_argument("--store", default=None, help="model store of the claims (default: $VAEBENCH_DEVICE_STORE or "
                                                 "/tmp/vaebench-device-check/store; keep it out of --out)")
    p.add_argument("--claims", nargs="*", default=None, help="claims of step c (default: C5 C1 M1)")
    p.set_defaults(func=cmd_device_check)
    from vaebench.compare import runs as compare

    p = sub.add_parser("compare", help="compare two runs (claims and benchmarks); exit 1 on a regression")
    compare.add_compare_arguments(p)
    p.set_defaults(func=compare.cmd_compare)
    from vaebench.compare import history

    p = sub.add_parser("history", help="keep runs in a history folder (and on a git branch) for 'vaebench compare "
                                       "--history'")
    history.add_arguments(p)
    p.set_defaults(func=history.cmd_history)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VaebenchError as e:
        print(f"vaebench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaebench: interrupted; the store holds only complete entries", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
