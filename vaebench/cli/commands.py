"""The ``vaebench`` command.

    vaebench main [--scale S] [--data D] [--store DIR] [--hypotheses PATH] [--epochs N] [--runs N]
                                              all claims at the scale, then the report's path
    vaebench train [--kind ae|vae] [--fact F] [--seed 0 1 ..] [--pack N] [--precision P] [--data D]
                   [--epochs N] [--runs N]
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

This module is the entry point (:func:`main`: parse, run the command, map errors to exit
statuses); the arguments are in :mod:`.arguments`, the commands in :mod:`.claims` (main),
:mod:`.train`, :mod:`.store` and below (scales, device-check).
"""
from __future__ import annotations

import sys

from vaebench.errors import SpecError, VaebenchError, require


def cmd_scales(args) -> int:
    from vaebench.config import SCALES

    for scale in SCALES.values():
        d, t = scale.data, scale.train
        print(f"{scale.name:6s} {d.image_size}px n_train={d.n_train:,} z_dim={scale.z_dim} epochs={t.epochs} "
              f"batch={t.batch_size} lr={t.learning_rate:g} seeds={len(scale.seeds)}  - {scale.description}")
    return 0


def cmd_device_check(args) -> int:
    import math

    from vaebench.bench import devicecheck

    require(math.isfinite(args.budget_s) and args.budget_s > 0,
            f"--budget-s={args.budget_s:g} must be a finite number of seconds > 0, e.g. 450", SpecError)

    claims = None if args.claims is None else tuple(args.claims)
    return devicecheck.main(args.out, args.budget_s, args.size, args.store, claims)


def command(name: str):
    """The function that runs the command ``name``."""
    if name == "main":
        from vaebench.cli.claims import cmd_main as fn
    elif name == "train":
        from vaebench.cli.train import cmd_train as fn
    elif name == "store":
        from vaebench.cli.store import cmd_store as fn
    elif name == "compare":
        from vaebench.compare import command as compare

        fn = compare.cmd_compare
    elif name == "history":
        from vaebench.compare import history

        fn = history.cmd_history
    else:
        fn = {"scales": cmd_scales, "device-check": cmd_device_check}[name]
    return fn


def main(argv: list[str] | None = None) -> int:
    from vaebench.cli.arguments import parser

    args = parser(__doc__).parse_args(argv)
    try:
        return command(args.command)(args)
    except VaebenchError as e:
        print(f"vaebench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaebench: interrupted; the store holds only complete entries", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
