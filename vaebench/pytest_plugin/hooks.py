"""The vaebench pytest plugin (registered through the ``pytest11`` entry point).

Options (``pytest --help``, group "vaebench"):
  --vaebench-scale   smoke | cpu | full | auto (default: $VAEBENCH_SCALE, else auto: full with a GPU, cpu without)
  --vaebench-store   trained-model store folder (default: $VAEBENCH_STORE or ~/.cache/vaebench)
  --vaebench-data    synthetic | celeba:PATH | folder:PATH (default: $VAEBENCH_DATA, else synthetic);
                     image size and counts stay the scale's (a folder gives what it holds, up to them)
  --vaebench-report  folder for HTML reports (default: <rootdir>/reports; "none" writes none)
  --vaebench-seeds   seeds of the seed studies, e.g. 0,1,2,3 (default: the scale's)
  --vaebench-pack    how many models train at once as one Keras model (default: the scale's)
  --vaebench-plan    PATH: write the plan of the models the claims need, train nothing
                     (then ``vaebench train --plan PATH --executor local|ray``)
  --vaebench-precision  float32 | mixed_bfloat16: the compute precision of the claims' models
                     (default: the scale's, float32; check M1 first)

Markers: ``gpu`` (trains models; at the full scale it wants a GPU) and ``claim(id)``.

Fixtures: ``vaebench_session`` (scale, store, datasets, models), ``scale``,
``trained`` (``trained(model_spec, seed)`` -> a trained model through the store;
``trained.many([(model_spec, seed), ...])`` -> several, trained ``scale.pack`` at a time),
``datasets`` (train and test :class:`vaebench.data.load.ImageSet`), and ``claim`` (a
:class:`vaebench.claims.record.ClaimRecorder` for the module's ``CLAIM``).

Your own models: register an encoder/decoder pair in a conftest.py,
``vaebench.models.vae.register_architecture("mlp", encoder=fn, decoder=fn)`` (or through an
entry point of the group ``vaebench.architectures``), and ask for
``trained(scale.ae(architecture="mlp"), seed)``: it trains, packs and is stored like the
posts' models, keyed by the builders' code (:mod:`vaebench.models.registry`;
hypotheses/README.md shows a complete claim module).

Outcome of a claim test (``--vaebench-verdicts outcome``, the default except at the smoke
scale), decided from its recorded checks once the test body returns:
supported -> passed; refuted -> failed, with every statistic, its CI and its tolerance in
the message; inconclusive -> reported as ``INCONCLUSIVE`` (letter ``I``), counted apart
from passes in the summary line ("1 inconclusive") and never as a pass; pytest treats it
like a skip for the exit status. A test that raises is an error of the test, shown as
``error`` in the report. The terminal summary ends with a verdict table and the path of
the HTML report (``reports/<run>/index.html`` with ``results.json``; ``reports/latest``
points at the newest run). With ``--vaebench-verdicts record`` (the default at the smoke
scale, whose numbers mean nothing: CI checks the machinery there) verdicts go to the table
and the report only, and a claim test fails only when it raises.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import subprocess
import time
from pathlib import Path

import pytest

RECORD_KEY = "vaebench_record"
VERDICT_KEY = "vaebench_verdict"
ENV_KEY = "vaebench_environment"


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
                    help="comma-separated seeds for the seed studies (default: the scale's)")
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
    group.addoption("--vaebench-verdicts", default=None, choices=("outcome", "record"),
                    help="'outcome': a refuted claim fails its test and an inconclusive one shows as "
                         "INCONCLUSIVE; 'record': verdicts go to the table and the report only, and a claim "
                         "test fails only when it raises (default: record at the smoke scale, whose numbers "
                         "mean nothing, outcome otherwise)")


def pytest_configure(config):
    _check_options(config)
    config.addinivalue_line("markers", "gpu: trains models; at the full scale this wants a GPU")
    config.addinivalue_line("markers", "claim(id): the claim (C1..C7) a test checks")
    config.pluginmanager.register(Collector(config), "vaebench-collector")
    if config.getoption("--vaebench-plan", None):
        from vaebench.store.plan import PlanRecorder

        config.pluginmanager.register(PlanRecorder(config.getoption("--vaebench-plan"), config), "vaebench-plan")


def _check_options(config) -> None:
    """A bad --vaebench-scale or --vaebench-data (or $VAEBENCH_DATA) is a usage error of
    the run, said once, rather than an error of every test."""
    from vaebench.config import SCALES, parse_data
    from vaebench.errors import SpecError

    scale = config.getoption("--vaebench-scale", None)
    if scale not in (None, "auto") and scale not in SCALES:
        raise pytest.UsageError(f"--vaebench-scale={scale!r} is not a scale; use one of {sorted(SCALES)} or auto")
    try:
        parse_data(config.getoption("--vaebench-data", None))
    except SpecError as e:
        raise pytest.UsageError(f"--vaebench-data: {e}") from None


def _seeds(text: str | None):
    if not text:
        return None
    from vaebench.errors import SpecError

    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise SpecError(f"--vaebench-seeds={text!r} must be comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise SpecError(f"--vaebench-seeds={text!r} names no seed")
    return seeds


@pytest.fixture(scope="session")
def vaebench_session(request):
    from vaebench.claims.session import Session
    from vaebench.config import get_scale, with_data

    scale = with_data(get_scale(request.config.getoption("--vaebench-scale")),
                      request.config.getoption("--vaebench-data"))
    seeds = _seeds(request.config.getoption("--vaebench-seeds"))
    if seeds:
        scale = dataclasses.replace(scale, seeds=seeds)
    pack = request.config.getoption("--vaebench-pack")
    if pack is not None:
        scale = dataclasses.replace(scale, pack=pack)
    precision = request.config.getoption("--vaebench-precision")
    if precision is not None:
        scale = dataclasses.replace(scale, train=dataclasses.replace(scale.train, precision=precision))
    return Session(scale, request.config.getoption("--vaebench-store"))


@pytest.fixture(scope="session")
def scale(vaebench_session):
    return vaebench_session.scale


class TrainedModels:
    """The ``trained`` fixture: ``trained(model_spec, seed=0, train_spec=None, data_spec=None)``
    gives one :class:`vaebench.claims.session.Trained`; ``trained.many([(model_spec, seed), ...])``
    gives several, in order, training the missing ones ``scale.pack`` at a time as one
    Keras model (ask for all of a test's models with one ``many`` call so they can pack).

    Training progress is written to the terminal as it happens (output capture is
    suspended while models train or load). With ``--vaebench-plan`` a request trains and
    loads nothing: its models go into the plan and the test is skipped."""

    def __init__(self, session, capture, plan=None):
        self.session, self.capture, self.plan = session, capture, plan

    def _live(self, fn, *args, **kwargs):
        if self.capture is None:
            return fn(*args, **kwargs)
        with self.capture.global_and_fixture_disabled():
            return fn(*args, **kwargs)

    def __call__(self, model_spec, seed=0, train_spec=None, data_spec=None):
        if self.plan is not None:
            self.many([(model_spec, seed, train_spec)], data_spec)
        return self._live(self.session.model, model_spec, seed, train_spec, data_spec)

    def many(self, requests, data_spec=None):
        if self.plan is not None:
            models = self._live(self.session.plan, list(requests), data_spec)
            self.plan.add(self.session, models)
            stored = sum(m.stored for m in models)
            pytest.skip(f"planned: {len(models)} models ({stored} in the store); --vaebench-plan trains nothing")
        return self._live(self.session.models, list(requests), data_spec)


@pytest.fixture(scope="session")
def trained(vaebench_session, request):
    """See :class:`TrainedModels`."""
    plugins = request.config.pluginmanager
    return TrainedModels(vaebench_session, plugins.getplugin("capturemanager"), plugins.getplugin("vaebench-plan"))


@pytest.fixture(scope="session")
def datasets(vaebench_session):
    return vaebench_session.datasets()


@pytest.fixture
def claim(request):
    from vaebench.claims.record import Claim, ClaimRecorder
    from vaebench.errors import SpecError

    module_claim = getattr(request.module, "CLAIM", None)
    if not isinstance(module_claim, Claim):
        raise SpecError(f"{request.module.__name__} has no CLAIM = vaebench.claims.record.Claim(...); "
                        "a claim module declares the claim it tests")
    recorder = ClaimRecorder(module_claim, test=request.node.name)
    request.node._vaebench_record = recorder
    return recorder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    recorder = getattr(item, "_vaebench_record", None)
    if recorder is None or report.when != "call":
        return
    verdict = recorder.verdict().value
    if report.passed and verdicts_decide_outcome(item.config):
        if verdict == "refuted":
            report.outcome = "failed"
            report.longrepr = recorder.failure_message()
        elif verdict == "inconclusive":
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, "INCONCLUSIVE: " + recorder.failure_message())
    elif report.failed:
        verdict = "error"
    elif report.skipped:
        verdict = "skipped"
    record = recorder.to_dict()
    record["verdict"] = verdict
    record["outcome"] = report.outcome
    report.user_properties.append((VERDICT_KEY, verdict))
    report.user_properties.append((RECORD_KEY, json.dumps(record)))
    session = item.funcargs.get("vaebench_session") if hasattr(item, "funcargs") else None
    if session is not None:
        report.user_properties.append((ENV_KEY, json.dumps(session.environment())))


def scale_option(config) -> str | None:
    """The scale name as the run asks for it: ``--vaebench-scale``, else ``$VAEBENCH_SCALE``, else
    None. Not resolved: ``auto`` (or None) stays as it is (:func:`vaebench.config.scales.get_scale` picks)."""
    import os

    return config.getoption("--vaebench-scale") or os.environ.get("VAEBENCH_SCALE")


def verdicts_decide_outcome(config) -> bool:
    """Whether a claim's verdict decides its test's outcome (see ``--vaebench-verdicts``)."""
    mode = config.getoption("--vaebench-verdicts")
    if mode is None:
        mode = "record" if scale_option(config) == "smoke" else "outcome"
    return mode == "outcome"


def _prop(report, key):
    for k, v in getattr(report, "user_properties", []):
        if k == key:
            return v
    return None


def pytest_report_teststatus(report, config):
    if _prop(report, VERDICT_KEY) == "inconclusive" and report.skipped:
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


def _git_commit(root: Path) -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha + ("+dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_GRAVITY = {"supported": 0, "inconclusive": 1, "refuted": 2, "error": 3}


def summarise(records: list[dict]) -> list[dict]:
    """One row per claim, merged over its tests: the verdict of each declared sub-claim
    (from the test that ran its primary check; ``error`` when the test covering it
    raised), the claim's verdict by the pre-registered rule (every sub-claim supported ->
    supported; any refuted -> refuted; else inconclusive; any error -> error), the runs
    its primary checks rest on and the health flags of its models."""
    rows: dict[str, dict] = {}
    for r in records:
        c = r["claim"]
        row = rows.setdefault(c["id"], {"id": c["id"], "title": c["title"], "generalises": c.get("generalises"),
                                        "level": c.get("level"), "declared": c.get("subclaims", []),
                                        "subclaims": {}, "errors": [], "passed": 0, "failed": 0, "open": 0,
                                        "n_runs": None, "flags": {}, "scale": r.get("scale", {})})
        if r["verdict"] == "error":
            row["errors"].append(r["test"])
        for sub in r.get("subclaims", []):
            sub = {**sub, "test": r["test"],
                   "verdict": "error" if r["verdict"] == "error" and sub["check"] is None else sub["verdict"]}
            have = row["subclaims"].get(sub["id"])
            # a sub-claim decided by several tests (parametrised, say) takes the gravest verdict
            if have is None or _GRAVITY[sub["verdict"]] > _GRAVITY[have["verdict"]]:
                row["subclaims"][sub["id"]] = sub
        for check in r["checks"]:
            if check.get("role", "primary") != "primary":
                continue
            key = {"supported": "passed", "refuted": "failed"}.get(check["verdict"], "open")
            row[key] += 1
            if check.get("n_runs"):
                row["n_runs"] = max(row["n_runs"] or 0, int(check["n_runs"]))
        for m in r.get("models", []):
            for flag in m.get("flags", []):
                row["flags"].setdefault(flag, []).append(m["label"])
    out = []
    for row in sorted(rows.values(), key=lambda r: r["id"]):
        subs = []
        for decl in row.pop("declared"):
            got = row["subclaims"].get(decl["id"]) or {**decl, "verdict": "inconclusive", "check": None,
                                                       "reason": "its primary check was not run", "test": None}
            subs.append(got)
        verdicts = [s["verdict"] for s in subs]
        if row["errors"] or "error" in verdicts:
            verdict = "error"
        elif verdicts and all(v == "supported" for v in verdicts):
            verdict = "supported"
        elif "refuted" in verdicts:
            verdict = "refuted"
        else:
            verdict = "inconclusive"
        reason = "; ".join(f"{s['id']} {s['verdict']}" + (f" ({s['reason']})" if s["verdict"] != "supported" else "")
                           for s in subs)
        if row["errors"]:
            reason = "error in " + ", ".join(row["errors"]) + "; " + reason
        out.append({**row, "subclaims": subs, "verdict": verdict, "reason": reason,
                    "flags": {k: sorted(set(v)) for k, v in row["flags"].items()}})
    return out


class Collector:
    """Gathers the claim records of one pytest run (on the xdist controller too) and, at the
    end, writes the report and prints the verdict table."""

    def __init__(self, config):
        self.config = config
        self.records: list[dict] = []
        self.environment: dict = {}
        self.started = _dt.datetime.now().isoformat(timespec="seconds")
        self.t0 = time.time()
        self.report_path: str | None = None
        self.summary: list[dict] = []

    def pytest_runtest_logreport(self, report):
        record = _prop(report, RECORD_KEY)
        if record is None:
            return
        data = json.loads(record)
        data["duration"] = report.duration
        self.records.append(data)
        env = _prop(report, ENV_KEY)
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
        env = dict(self.environment)
        env["git_commit"] = _git_commit(Path(config.rootpath))
        env["seeds_option"] = config.getoption("--vaebench-seeds") or "scale default"
        env["command"] = "pytest " + " ".join(str(a) for a in config.invocation_params.args)
        from vaebench.config import posts_setting

        env["posts_setting"] = posts_setting()  # the full scale's setting, shown beside each claim's
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        # a benchmark-only run holds only the claims that benchmark (C5): its report gets its
        # own name and leaves reports/latest on the last run of the claims
        benchmark_only = bool(config.getoption("--benchmark-only", default=False))
        name = f"{stamp}-{env.get('scale', 'run')}" + ("-benchmarks" if benchmark_only else "")
        results = {"run": {"name": name, "started": self.started, "duration_s": time.time() - self.t0,
                           "exitstatus": int(exitstatus), "benchmark_only": benchmark_only},
                   "environment": env, "summary": self.summary, "records": records,
                   "tests": {r["claim"]["id"] + "::" + r["test"]: {"outcome": r["outcome"], "verdict": r["verdict"],
                                                                   "duration": r.get("duration", 0.0)}
                             for r in records}}
        from vaebench.report.claim_page import write_report

        self.report_path = str(write_report(results, reports / name, latest=not benchmark_only))
        if benchmark_only:
            self.report_path += " (a benchmark-only run: reports/latest is left as it was)"

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if not self.summary:
            return
        tr = terminalreporter
        tr.section("vaebench verdicts")
        colours = {"supported": {"green": True}, "refuted": {"red": True}, "error": {"red": True}}
        for row in self.summary:
            tr.write(f"{row['id']:4s} ")
            tr.write(f"{row['verdict'].upper():13s}", **colours.get(row["verdict"], {"yellow": True}), bold=True)
            extra = f"  [extends {row['generalises']}]" if row.get("generalises") else ""
            runs = f", n_runs {row['n_runs']}" if row.get("n_runs") else ""
            tr.write_line(f" {row['title']}{extra}  (primary: {row['passed']} supported / {row['failed']} refuted / "
                          f"{row['open']} open{runs})")
            for sub in row["subclaims"]:
                tr.write("       ")
                tr.write(f"{sub['id']:5s} {sub['verdict']:13s}", **colours.get(sub["verdict"], {"yellow": True}))
                why = "" if sub["verdict"] == "supported" else f" — {sub['reason']}"
                tr.write_line(f" {sub['statement']}{why}"[:240])
            for flag, labels in row.get("flags", {}).items():
                tr.write_line(f"       health: {flag}: {', '.join(labels)}"[:240], yellow=True)
        data = self.environment.get("data")
        if isinstance(data, dict):
            from vaebench.claims.session import data_line

            tr.write_line(data_line(data))
        if self.report_path:
            tr.write_line(f"report: {self.report_path}")

