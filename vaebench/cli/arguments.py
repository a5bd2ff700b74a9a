"""The ``vaebench`` command's arguments: one sub-parser per command, each naming its
command (``args.command``) for :data:`vaebench.cli.commands.COMMANDS`."""
from __future__ import annotations

import argparse


def parser(description: str = "") -> argparse.ArgumentParser:
    """The parser of every ``vaebench`` command."""
    p = argparse.ArgumentParser(prog="vaebench", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    _main_arguments(sub.add_parser("main", help="run all claims at a scale and print the report's path"))
    _train_arguments(sub.add_parser("train", help="train (or load) models through the store, or the missing "
                                                  "models of a plan"))
    store = sub.add_parser("store", help="list or clear the trained-model store")
    store.add_argument("action", choices=("list", "clear"))
    store.add_argument("--store", default=None)
    sub.add_parser("scales", help="the named scales")
    _device_check_arguments(sub.add_parser("device-check", help="measure the training path on a GPU and run "
                                                                "full-scale claims within a time budget "
                                                                "(benchmarks/device_check.sh)"))
    from vaebench.compare import command as compare

    compare.add_compare_arguments(sub.add_parser("compare", help="compare two runs (claims and benchmarks); exit 1 "
                                                                 "on a regression"))
    from vaebench.compare import history

    history.add_arguments(sub.add_parser("history", help="keep runs in a history folder (and on a git branch) for "
                                                         "'vaebench compare --history'"))
    return p


def _common(p) -> None:
    p.add_argument("--scale", default=None, help="smoke, cpu, full or auto (default: $VAEBENCH_SCALE or auto: "
                                                 "full with a GPU, cpu without)")
    p.add_argument("--store", default=None, help="model store folder (default: $VAEBENCH_STORE or "
                                                 "~/.cache/vaebench)")
    p.add_argument("--data", default=None,
                   help="synthetic, celeba:PATH or folder:PATH (default: $VAEBENCH_DATA or synthetic); the "
                        "image size and counts are the scale's, a folder gives what it holds up to them")
    p.add_argument("--epochs", default=None, metavar="N",
                   help="train N epochs instead of the scale's (a stored shorter training is resumed)")
    p.add_argument("--runs", default=None, metavar="N",
                   help="N training runs (seeds 0..N-1) per model instead of the scale's")


def _main_arguments(p) -> None:
    _common(p)
    p.add_argument("--hypotheses", default=None,
                   help="folder (or module) of claim modules (default: ./hypotheses, else the one next to the "
                        "vaebench package)")
    p.add_argument("--report", default=None, help="folder of reports (default: reports/ beside the hypotheses)")


def _train_arguments(p) -> None:
    _common(p)
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


def _device_check_arguments(p) -> None:
    p.add_argument("--out", required=True, help="folder for summary.json, benchmark.json and report/")
    p.add_argument("--budget-s", type=float, default=450.0, help="seconds the whole check may take (default 450)")
    p.add_argument("--size", choices=("posts", "tiny"), default="posts",
                   help="posts: 96x96 on a GPU (without one: summary.json says why, exit 3); "
                        "tiny: the same steps small, any CPU")
    p.add_argument("--store", default=None, help="model store of the claims (default: $VAEBENCH_DEVICE_STORE or "
                                                 "/tmp/vaebench-device-check/store; keep it out of --out)")
    p.add_argument("--claims", nargs="*", default=None, help="claims of step c (default: C5 C1 M1)")
