"""Writing a run's results: ``results.json`` and the HTML report into a run folder of its
own under the reports folder (:func:`write_run`), and, when that fails (a full disk, a
folder made read-only since the start), ``results.json`` into a fallback folder under the
system's temporary directory, so the verdicts of a long run are never lost."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from vaebench.atomic import temp_name

FALLBACK = "vaebench-results"


def new_run_dir(reports: Path, name: str) -> Path:
    """A fresh folder ``reports/name`` (``name-2``, ``name-3``, ... when a run of the same
    second has it): each run writes into its own folder, so no two share a temporary."""
    reports.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        run_dir = reports / (name if k == 1 else f"{name}-{k}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise FileExistsError(f"{reports / name} and 998 more run folders of that name exist")


def write_run(results: dict, reports: Path, name: str, latest: bool) -> tuple[Path | None, Path | None, str]:
    """``(report page, fallback results.json, problem)``: the page when the report was
    written; else the fallback's path (None when that failed too) and what went wrong."""
    from vaebench.report.claim_page import write_report

    run_dir = None
    try:
        run_dir = new_run_dir(reports, name)
        results["run"]["name"] = run_dir.name
        return write_report(results, run_dir, latest=latest), None, ""
    except Exception as e:  # noqa: BLE001 - whatever failed, the results are kept (below)
        problem = f"{type(e).__name__}: {e}"
    if run_dir is not None:
        _remove_leftovers(run_dir)
    try:
        return None, write_fallback(results), problem
    except OSError as e:
        return None, None, f"{problem}; the fallback copy failed too ({type(e).__name__}: {e})"


def _remove_leftovers(run_dir: Path) -> None:
    """Remove the temporaries a failed write left in this run's own folder (and the folder
    when nothing else is in it)."""
    for tmp in run_dir.glob("*.tmp"):
        tmp.unlink(missing_ok=True)
    try:
        run_dir.rmdir()
    except OSError:
        pass


def write_fallback(results: dict, root: Path | None = None) -> Path:
    """Write ``results.json`` atomically into ``<tmp>/vaebench-results/<run>/`` (a fresh
    folder); its path."""
    root = Path(root or Path(tempfile.gettempdir()) / FALLBACK)
    run_dir = new_run_dir(root, results["run"]["name"])
    target = run_dir / "results.json"
    tmp = run_dir / temp_name("results.json", ".tmp")
    try:
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
