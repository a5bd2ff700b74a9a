"""The ``vaebench`` command.

    vaebench main [--scale S] [--store DIR]   all claims at the scale, then the report's path
    vaebench train [--kind ae|vae] [--seed 0 1 ..] [--pack N] [--precision P]
                                              train (or load) models through the store
    vaebench store list|clear [--store DIR]   what the trained-model store holds
    vaebench scales                           the named scales and what they choose
    vaebench compare OLD NEW [--history DIR]  verdict flips, moved statistics, slower benchmarks (exit 1)
    vaebench history add RUN --to DIR         keep a run (slim results.json + benchmark JSON) in a history
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from .errors import VaebenchError


def _session(args):
    from .session import Session

    return Session(args.scale, args.store)


def cmd_scales(args) -> int:
    from .config import SCALES

    for scale in SCALES.values():
        d, t = scale.data, scale.train
        print(f"{scale.name:6s} {d.image_size}px n_train={d.n_train:,} z_dim={scale.z_dim} epochs={t.epochs} "
              f"batch={t.batch_size} lr={t.learning_rate:g} seeds={len(scale.seeds)}  - {scale.description}")
    return 0


def cmd_train(args) -> int:
    session = _session(args)
    scale = session.scale
    spec = scale.ae() if args.kind == "ae" else scale.vae(fact=args.fact, eps_clip=args.eps_clip)
    if args.dense:
        spec = dataclasses.replace(spec, dense=args.dense)
    t0 = time.perf_counter()
    requests = [(spec, s, scale.training(s, precision=args.precision)) for s in args.seed]
    for trained in session.models(requests, pack=args.pack):
        h = trained.history
        print(f"{trained.entry.name}: {len(h.get('loss', []))} epochs, final loss {h['loss'][-1]:.2f}, "
              f"{trained.entry.meta.get('images_per_second', 0):,.0f} img/s per model "
              f"(pack of {trained.entry.meta.get('pack', 1)})")
        print(trained.entry.path)
    print(f"ready in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_store(args) -> int:
    from .store import ModelStore

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
        print(f"  {e.name:48s} {e.data.source}:{e.data.image_size}px n={e.data.n_train} "
              f"epochs={len(e.history.get('loss', []))}/{e.train.epochs} loss={loss:.2f} "
              f"{store.size_bytes(e.path) / 1e6:.1f} MB {e.meta.get('created', '')}"
              + (f" STOPPED: {stopped}" if stopped else ""))
    for name, problem in store.damaged():
        print(f"  {name}: DAMAGED ({problem}); it will be rebuilt when next asked for")
    return 0


def cmd_main(args) -> int:
    """All claims at the scale (pytest hypotheses) and the report's path."""
    hypotheses = Path(__file__).resolve().parent.parent / "hypotheses"
    claim_modules = sorted(hypotheses.glob("test_*.py")) if hypotheses.is_dir() else []
    if claim_modules:
        import pytest

        reports = hypotheses.parent / "reports"
        argv = [str(hypotheses), "-p", "no:cacheprovider", "-q", "--vaebench-report", str(reports)]
        if args.scale:
            argv += ["--vaebench-scale", args.scale]
        if args.store:
            argv += ["--vaebench-store", args.store]
        code = pytest.main(argv)
        return _report_outcome(reports / "latest", code)
    # no claim modules yet: train and cache the default AE and VAE
    session = _session(args)
    scale = session.scale
    print(f"scale: {scale.name} ({scale.description})")
    for spec in (scale.ae(), scale.vae()):
        trained = session.model(spec, seed=scale.seeds[0])
        h = trained.history
        print(f"{spec.kind}: final loss {h['loss'][-1]:.2f} -> {trained.entry.path}")
    return 0


def _report_outcome(latest: Path, pytest_code: int) -> int:
    """Print the report's path last; refuted claims are findings (exit 0), errors are not."""
    import json

    results = latest / "results.json"
    if not results.is_file():
        print("no report was written (no claim ran)", file=sys.stderr)
        return int(pytest_code) or 1
    records = json.loads(results.read_text())["records"]
    errors = [r["claim"]["id"] + "::" + r["test"] for r in records if r["verdict"] == "error"]
    if errors:
        print(f"claims that raised an error (a bug, not a verdict): {', '.join(errors)}", file=sys.stderr)
    print(f"Report: {(latest / 'index.html').resolve()}")
    return 1 if errors or pytest_code not in (0, 1) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vaebench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--scale", default=None, help="smoke, cpu, full or auto (default: $VAEBENCH_SCALE or auto: "
                                                     "full with a GPU, cpu without)")
        p.add_argument("--store", default=None, help="model store folder (default: $VAEBENCH_STORE or "
                                                     "~/.cache/vaebench)")

    p = sub.add_parser("main", help="run all claims at a scale and print the report's path")
    common(p)
    p.set_defaults(func=cmd_main)
    p = sub.add_parser("train", help="train (or load) one model through the store")
    common(p)
    p.add_argument("--kind", choices=("ae", "vae"), default="vae")
    p.add_argument("--fact", type=float, default=1e-5)
    p.add_argument("--eps-clip", type=float, default=None)
    p.add_argument("--dense", type=int, default=None)
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds, e.g. --seed 0 1 2 3")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    p.add_argument("--pack", type=int, default=None,
                   help="how many of the models train at once as one Keras model (default: the scale's)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("store", help="list or clear the trained-model store")
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument("--store", default=None)
    p.set_defaults(func=cmd_store)
    p = sub.add_parser("scales", help="the named scales")
    p.set_defaults(func=cmd_scales)
    from . import compare

    p = sub.add_parser("compare", help="compare two runs (claims and benchmarks); exit 1 on a regression")
    compare.add_compare_arguments(p)
    p.set_defaults(func=compare.cmd_compare)
    p = sub.add_parser("history", help="keep runs in a history folder for 'vaebench compare --history'")
    compare.add_history_arguments(p)
    p.set_defaults(func=compare.cmd_history)
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
