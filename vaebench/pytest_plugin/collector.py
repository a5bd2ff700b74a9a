"""The :class:`Collector`: gathers the claim records of one pytest run (on the xdist
controller too) and, at the end, writes the results (:mod:`.results`) and prints the
verdict table (:func:`vaebench.pytest_plugin.summary.write_table`)."""
from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
import time
from pathlib import Path

from vaebench.pytest_plugin.outcome import ENV_KEY, RECORD_KEY, prop
from vaebench.pytest_plugin.results import write_run
from vaebench.pytest_plugin.summary import summarise, write_table


def _git_commit(root: Path) -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha + ("+dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Collector:
    """Gathers the claim records of one run; at its end writes the report and prints the table."""

    def __init__(self, config):
        self.config = config
        self.records: list[dict] = []
        self.environment: dict = {}
        self.started = _dt.datetime.now().isoformat(timespec="seconds")
        self.t0 = time.time()
        self.report_path: str | None = None
        self.summary: list[dict] = []
        self.design: list[dict] = []

    def pytest_collection_finish(self, session):
        """The design table of every claim collected, shown before the first model trains."""
        if hasattr(self.config, "workerinput"):
            return
        from vaebench.pytest_plugin.designtable import design_tables, n_runs_of, write_design

        if not any("claim" in getattr(i, "fixturenames", ()) for i in session.items):
            return
        self.design = design_tables(session.items, n_runs_of(self.config))
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None and self.design:
            write_design(tr, self.design)

    def pytest_runtest_logreport(self, report):
        record = prop(report, RECORD_KEY)
        if record is None:
            return
        data = json.loads(record)
        data["duration"] = report.duration
        self.records.append(data)
        env = prop(report, ENV_KEY)
        if env:
            self.environment.update(json.loads(env))

    def pytest_sessionfinish(self, session, exitstatus):
        config = self.config
        if hasattr(config, "workerinput") or not self.records or config.getoption("--vaebench-plan", None):
            return   # a planning run decides no claim: no verdicts, no report
        records = sorted(self.records, key=lambda r: (r["claim"]["id"], r["test"]))
        self.summary = summarise(records)
        target = config.getoption("--vaebench-report")
        if target is not None and target.lower() == "none":
            return
        reports = (Path(target) if target else Path(config.rootpath) / "reports").resolve()
        # a benchmark-only run holds only the claims that benchmark (C5): its report gets its
        # own name and leaves reports/latest on the last run of the claims
        benchmark_only = bool(config.getoption("--benchmark-only", default=False))
        results = self.results(records, int(exitstatus), benchmark_only)
        page, fallback, problem = write_run(results, reports, results["run"]["name"], latest=not benchmark_only)
        if page is not None:
            self.report_path = str(page) + (" (a benchmark-only run: reports/latest is left as it was)"
                                            if benchmark_only else "")
            return
        where = f"results.json was written to {fallback} instead" if fallback else "the results are lost"
        self.report_path = f"NOT WRITTEN to {reports} ({problem}); {where}"
        print(f"vaebench: the report could not be written to {reports} ({problem}); {where}", file=sys.stderr)

    def results(self, records: list[dict], exitstatus: int, benchmark_only: bool) -> dict:
        """The content of ``results.json``."""
        config = self.config
        env = dict(self.environment)
        env["git_commit"] = _git_commit(Path(config.rootpath))
        env["seeds_option"] = config.getoption("--vaebench-seeds") or "scale default"
        env["command"] = "pytest " + " ".join(str(a) for a in config.invocation_params.args)
        from vaebench.config import posts_setting

        env["posts_setting"] = posts_setting()  # the full scale's setting, shown beside each claim's
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{env.get('scale', 'run')}" + ("-benchmarks" if benchmark_only else "")
        return {"run": {"name": name, "started": self.started, "duration_s": time.time() - self.t0,
                        "exitstatus": exitstatus, "benchmark_only": benchmark_only},
                "environment": env, "summary": self.summary, "records": records, "design": self.design,
                "tests": {r["claim"]["id"] + "::" + r["test"]: {"outcome": r["outcome"], "verdict": r["verdict"],
                                                                "duration": r.get("duration", 0.0)}
                          for r in records}}

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if self.summary:
            write_table(terminalreporter, self.summary, self.environment, self.report_path)
