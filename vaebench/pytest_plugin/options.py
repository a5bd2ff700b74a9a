"""The plugin's options (``pytest --help``, group "vaebench") and their checks at start.

Every option is checked in :func:`pytest_configure`, before anything is collected or
trained: a bad value is one ``pytest.UsageError`` line (exit status 4) naming the value
and what to use, not an error of every test, and no plan or report is written."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaebench.errors import SpecError

#: seeds are 32-bit unsigned integers (numpy's and the backends' seeding)
SEED_LIMIT = 2**32
#: known deprecation warnings of the libraries vaebench trains with, which a claim module's
#: author can do nothing about (Keras converting tensors under numpy 2)
THIRD_PARTY_WARNINGS = (
    "ignore::DeprecationWarning:tensorflow.*",
    "ignore::DeprecationWarning:keras.*",
    "ignore::DeprecationWarning:google.*",
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
)


def pytest_addoption(parser):
    group = parser.getgroup("vaebench", "vaebench claims")
    group.addoption("--vaebench-scale", default=None,
                    help="scale of the claims: smoke, cpu, full or auto (default: $VAEBENCH_SCALE, else auto: "
                         "full with a GPU, cpu without)")
    group.addoption("--vaebench-store", default=None,
                    help="trained-model store folder (default: $VAEBENCH_STORE or ~/.cache/vaebench)")
    group.addoption("--vaebench-data", default=None,
                    help="the claims' images: synthetic, celeba:PATH (the official layout: img_align_celeba/, "
                         "list_eval_partition.txt) or folder:PATH (default: $VAEBENCH_DATA, else synthetic); the "
                         "image size and counts are the scale's, a folder gives what it holds up to them")
    group.addoption("--vaebench-report", default=None,
                    help="folder of HTML reports (default: <rootdir>/reports; 'none' writes no report)")
    group.addoption("--vaebench-seeds", default=None,
                    help="comma-separated seeds for the seed studies, distinct integers in [0, 2**32) "
                         "(default: the scale's)")
    group.addoption("--vaebench-pack", default=None, type=int,
                    help="how many models that share data and training settings train at once, as one Keras "
                         "model (default: the scale's: 2 at smoke, 1 at cpu, 4 at full); it does not change "
                         "what a model learns")
    group.addoption("--vaebench-precision", default=None, choices=("float32", "mixed_bfloat16"),
                    help="compute precision of the claims' models (default: the scale's, float32); a new "
                         "precision trains new models. Hypothesis M1 checks that mixed_bfloat16 keeps the "
                         "claims' statistics")
    group.addoption("--vaebench-plan", default=None, metavar="PATH",
                    help="write the plan of every model the selected claims need (specs, seeds, packs, which "
                         "the store holds) to PATH and train nothing: each test that asks for models is skipped "
                         "('planned: N models'); train the plan with 'vaebench train --plan PATH --executor "
                         "local|ray', then run the claims again")
    group.addoption("--vaebench-epochs", default=None, metavar="N",
                    help="train every claim's models N epochs instead of the scale's (new store entries; a stored "
                         "shorter training of the same model is resumed, not repeated)")
    group.addoption("--vaebench-runs", default=None, metavar="N",
                    help="N training runs (seeds 0..N-1) per model and per arm of C4 instead of the scale's")
    group.addoption("--vaebench-workers", default=None, metavar="N",
                    help="worker processes of the local executor that trains missing packs at once (default: "
                         "$VAEBENCH_WORKERS, else 1: this process); a model's weights are those of training it alone")
    group.addoption("--vaebench-verdicts", default=None, choices=("outcome", "record"),
                    help="'outcome': a refuted claim fails its test and an inconclusive one shows as "
                         "INCONCLUSIVE; 'record': verdicts go to the table and the report only, and a claim "
                         "test fails only when it raises (default: record at the smoke scale, whose numbers "
                         "mean nothing, outcome otherwise)")


def pytest_configure(config):
    check_options(config)
    config.addinivalue_line("markers", "gpu: trains models; at the full scale this wants a GPU")
    config.addinivalue_line("markers", "claim(id): the claim (C1..C7) a test checks")
    for line in THIRD_PARTY_WARNINGS:
        config.addinivalue_line("filterwarnings", line)
    from vaebench.pytest_plugin.collector import Collector

    config.pluginmanager.register(Collector(config), "vaebench-collector")
    if config.getoption("--vaebench-plan", None):
        from vaebench.store.plan import PlanRecorder

        config.pluginmanager.register(PlanRecorder(config.getoption("--vaebench-plan"), config), "vaebench-plan")


def check_options(config) -> None:
    """Every option's value, checked before anything runs: a bad one is a ``pytest.UsageError``."""
    from vaebench.config import SCALES

    scale = config.getoption("--vaebench-scale", None)
    if scale not in (None, "auto") and scale not in SCALES:
        raise pytest.UsageError(f"--vaebench-scale={scale!r} is not a scale; use one of {sorted(SCALES)} or auto")
    pack = config.getoption("--vaebench-pack", None)
    if pack is not None and pack < 1:
        raise pytest.UsageError(f"--vaebench-pack={pack} must be an integer >= 1 (models trained at once)")
    try:
        check_data(config.getoption("--vaebench-data", None), "--vaebench-data")
        parse_seeds(config.getoption("--vaebench-seeds", None))
        check_budget_options(config)
    except SpecError as e:
        raise pytest.UsageError(str(e)) from None
    store = config.getoption("--vaebench-store", None) or os.environ.get("VAEBENCH_STORE")
    if store:
        _require_writable(Path(store), "--vaebench-store" if config.getoption("--vaebench-store", None)
                          else "$VAEBENCH_STORE", folder=True)
    report = config.getoption("--vaebench-report", None)
    if report and report.lower() != "none":
        _require_writable(Path(report), "--vaebench-report", folder=True)
    plan = config.getoption("--vaebench-plan", None)
    if plan:
        _require_writable(Path(plan), "--vaebench-plan", folder=False)


def check_budget_options(config) -> tuple[int | None, int | None, int | None]:
    """``(epochs, runs, workers)`` of ``--vaebench-epochs/-runs/-workers`` (None: not given),
    checked: a bad value is a :class:`SpecError` naming it."""
    from vaebench.config import check_budget

    epochs = check_budget("--vaebench-epochs", config.getoption("--vaebench-epochs", None))
    runs = check_budget("--vaebench-runs", config.getoption("--vaebench-runs", None))
    seeds = parse_seeds(config.getoption("--vaebench-seeds", None))
    if runs is not None and seeds is not None and len(seeds) != runs:
        raise SpecError(f"--vaebench-runs={runs} with --vaebench-seeds naming {len(seeds)} seeds: give one of them, "
                        "or as many seeds as runs")
    workers = config.getoption("--vaebench-workers", None)
    if workers is not None:
        text = str(workers).strip()
        if not (text.isdigit() and int(text) >= 1):
            raise SpecError(f"--vaebench-workers={workers!r} must be a whole number >= 1 (worker processes of the "
                            "local executor, e.g. --vaebench-workers 2)")
        workers = int(text)
    return epochs, runs, workers


def check_data(text: str | None, option: str = "--vaebench-data") -> tuple[str, str | None]:
    """``(source, path)`` of a data choice (:func:`vaebench.config.parse_data`), with a folder
    that exists; a bare path suggests ``folder:PATH``. ``None`` reads ``$VAEBENCH_DATA``."""
    from vaebench.config import parse_data

    shown = f"{option}={text!r}" if text is not None else f"$VAEBENCH_DATA={os.environ.get('VAEBENCH_DATA')!r}"
    try:
        source, path = parse_data(text)
    except SpecError as e:
        given = text if text is not None else os.environ.get("VAEBENCH_DATA", "")
        hint = f"; for a folder of images use folder:{given}" if given and given[0] in "/.~" else ""
        raise SpecError(f"{option}: {e}{hint}") from None
    if path is not None and not Path(path).is_dir():
        what = "is a file, not a folder" if Path(path).exists() else "does not exist"
        raise SpecError(f"{shown}: {path} {what}; pass the folder that holds the images")
    return source, path


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    """The seeds of ``--vaebench-seeds`` (None: the scale's): distinct integers in [0, 2**32)."""
    if not text:
        return None
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise SpecError(f"--vaebench-seeds={text!r} must be comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise SpecError(f"--vaebench-seeds={text!r} names no seed; give e.g. 0,1,2")
    return check_seeds(seeds, f"--vaebench-seeds={text!r}")


def check_seeds(seeds: tuple[int, ...], shown: str) -> tuple[int, ...]:
    """``seeds`` when they are distinct integers in [0, 2**32), else a :class:`SpecError` that
    starts with ``shown`` (the option as given)."""
    bad = [s for s in seeds if not 0 <= s < SEED_LIMIT]
    if bad:
        raise SpecError(f"{shown}: seed {bad[0]} is outside [0, 2**32 - 1]; use smaller seeds")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise SpecError(f"{shown} repeats seed {repeated[0]}: each seed is one independent run; give distinct seeds")
    return seeds


def unwritable(path: Path, folder: bool) -> str | None:
    """Why ``path`` (a folder to create or write into, else a file to write) cannot be
    written by this process, or None. Creates nothing."""
    path = Path(os.path.abspath(os.path.expanduser(path)))
    if path.is_dir() and not folder:
        return f"{path} is a folder; give a file name, e.g. {path / 'plan.json'}"
    if path.exists() and folder and not path.is_dir():
        return f"{path} is a file, not a folder"
    probe = path if folder else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, so nothing can be written below it"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable here (read-only, or another user's)"
    return None


def _require_writable(path: Path, option: str, folder: bool) -> None:
    why = unwritable(path, folder)
    if why:
        raise pytest.UsageError(f"{option}={str(path)!r} cannot be written: {why}; choose another location")


def scale_option(config) -> str | None:
    """The scale name as the run asks for it: ``--vaebench-scale``, else ``$VAEBENCH_SCALE``, else
    None. Not resolved: ``auto`` (or None) stays as it is (:func:`vaebench.config.scales.get_scale` picks)."""
    return config.getoption("--vaebench-scale") or os.environ.get("VAEBENCH_SCALE")
