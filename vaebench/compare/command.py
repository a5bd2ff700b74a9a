"""``vaebench compare``: its arguments (:func:`add_compare_arguments`) and the command
(:func:`cmd_compare`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from vaebench import atomic
from vaebench.compare.comparison import compare_runs
from vaebench.compare.rules import CROSS_MACHINE_MIN_CHANGE, FAMILY_ALPHA, MIN_CHANGE, REFERENCE, TIMING_MODES
from vaebench.compare.runio import CompareError, _check_history_folder, history_runs, load_run
from vaebench.compare.trends import trends
from vaebench.errors import require


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", nargs="?", help="the earlier run: a run folder, its results.json or a benchmark JSON")
    p.add_argument("new", nargs="?", help="the later run (same kinds)")
    p.add_argument("--old-bench", action="append", default=[], help="a pytest --benchmark-json file of OLD")
    p.add_argument("--new-bench", action="append", default=[], help="a pytest --benchmark-json file of NEW")
    p.add_argument(
        "--history",
        default=None,
        help="folder of earlier runs: trend plots; without OLD/NEW its newest two runs are compared",
    )
    p.add_argument("--html", default=None, help="write the HTML regression report here")
    p.add_argument("--markdown", default=None, help="also write the markdown report here (it always goes to stdout)")
    p.add_argument("--json", default=None, help="write the findings as JSON here")
    p.add_argument(
        "--alpha",
        type=float,
        default=FAMILY_ALPHA,
        help="family level of Holm's correction over all benchmarks compared (default 0.05)",
    )
    p.add_argument(
        "--min-change",
        type=float,
        default=MIN_CHANGE,
        help="smallest relative change that counts (default 0.10 = 10 %%)",
    )
    p.add_argument(
        "--cross-machine-min-change",
        type=float,
        default=CROSS_MACHINE_MIN_CHANGE,
        help="smallest relative change of a timing ratio that counts when the machines differ (default 0.25)",
    )
    p.add_argument(
        "--timing",
        choices=TIMING_MODES,
        default="ratio",
        help="ratio (default): each benchmark's rounds divided by the reference benchmark's median of "
        "the same run, on any machines; seconds: per-round seconds, same machine only (a "
        "dedicated runner)",
    )
    p.add_argument(
        "--reference",
        default=None,
        help=f"the reference benchmark of --timing ratio (default {REFERENCE} when both runs hold it)",
    )


def check_output(flag: str, path: str | os.PathLike) -> None:
    """Refuse, before comparing, an output path whose folder is missing or not writable, or
    that is a folder (:class:`CompareError`: bad input, exit status 2)."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    require(not p.is_dir(), f"{flag}={str(p)!r} is a folder; pass a file path", CompareError)
    require(folder.is_dir(), f"{flag}={str(p)!r}: its folder {str(folder)!r} does not exist; create it or pass "
            "another path", CompareError)
    require(os.access(folder, os.W_OK), f"{flag}={str(p)!r}: its folder {str(folder)!r} is not writable for this "
            "user; pass another path", CompareError)


def write_output(flag: str, path: str | os.PathLike, text: str) -> None:
    """Write an output atomically; a failure (a full disk) is a :class:`CompareError` naming
    it, after the findings were printed (they are not lost), and leaves no temporary."""
    try:
        atomic.write_text(Path(path), text)
    except OSError as e:
        raise CompareError(f"cannot write {flag}={str(path)!r}: {atomic.why_not_written(e)}; the findings "
                           "printed above are complete") from e


def cmd_compare(args) -> int:
    """``vaebench compare``: 0 no regression, 1 regression(s), 2 nothing comparable or bad input.

    ``--history`` is read only where it is used: for the trend plots of ``--html`` and when
    OLD and NEW are not given (its newest two runs); otherwise only its folder is checked."""
    from vaebench.report.compare_page import to_markdown

    outputs = {flag: getattr(args, flag) for flag in ("html", "markdown", "json") if getattr(args, flag)}
    for flag, path in outputs.items():
        check_output(f"--{flag}", path)
    uses_history = bool(args.history) and bool(args.html or not (args.old or args.new))
    history = history_runs(args.history) if uses_history else []
    if args.history and not uses_history:
        _check_history_folder(args.history)
    if args.old and args.new:
        old = load_run(args.old, args.old_bench)
        new = load_run(args.new, args.new_bench)
    elif args.old or args.new:
        raise CompareError("pass both OLD and NEW, or neither (with --history: its newest two runs)")
    else:
        require(
            len(history) >= 2,
            f"--history={args.history!r} holds {len(history)} readable runs; comparing needs two (or pass OLD and NEW)",
            CompareError,
        )
        old, new = history[-2], history[-1]
    comparison = compare_runs(
        old, new, args.alpha, args.min_change, args.timing, args.reference, args.cross_machine_min_change
    )
    text = to_markdown(comparison)
    print(text)
    if args.markdown:
        write_output("--markdown", args.markdown, text)
    if args.json:
        write_output("--json", args.json, json.dumps(comparison.to_dict(), indent=1))
    if args.html:
        runs = list(history)
        known = {os.path.realpath(r.path) for r in runs}
        for r in (old, new):
            if os.path.realpath(r.path) not in known:
                runs.append(r)
        from vaebench.report.compare_page import render_comparison_html

        page = render_comparison_html(comparison, trends(runs) if len(runs) >= 2 else None)
        write_output("--html", args.html, page)
        print(f"report: {args.html}", file=sys.stderr)
    if not any(comparison.compared.values()):
        print(
            "vaebench compare: nothing was comparable (different scales, machines or configurations); "
            "see the findings above",
            file=sys.stderr,
        )
        return 2
    return 1 if comparison.regressions else 0
