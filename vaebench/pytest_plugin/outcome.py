"""A claim test's outcome, decided from its recorded checks once the test body returns
(``--vaebench-verdicts outcome``): supported -> passed; refuted -> failed with every
statistic, its CI and its tolerance; inconclusive -> ``INCONCLUSIVE`` (letter ``I``).

A claim module whose checks cannot be decided (a mistyped primary-check name, an interval
not at ``claim.level``, an undeclared sub-claim) fails its own test with the message, in
either mode; the other tests run and the report is written. Each report carries the test's
record (:data:`RECORD_KEY`) for the :class:`vaebench.pytest_plugin.collector.Collector`."""
from __future__ import annotations

import json

import pytest

from vaebench.errors import VaebenchError
from vaebench.pytest_plugin.options import scale_option

RECORD_KEY = "vaebench_record"
VERDICT_KEY = "vaebench_verdict"
ENV_KEY = "vaebench_environment"


def verdicts_decide_outcome(config) -> bool:
    """Whether a claim's verdict decides its test's outcome (see ``--vaebench-verdicts``)."""
    mode = config.getoption("--vaebench-verdicts")
    if mode is None:
        mode = "record" if scale_option(config) == "smoke" else "outcome"
    return mode == "outcome"


def prop(report, key):
    """The user property ``key`` of a test report, or None."""
    for k, v in getattr(report, "user_properties", []):
        if k == key:
            return v
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    session = item.funcargs.get("vaebench_session") if hasattr(item, "funcargs") else None
    served = session.served() if session is not None else []
    recorder = getattr(item, "_vaebench_record", None)
    if recorder is None:
        return
    if served:
        from vaebench import backend
        from vaebench.claims.bookkeeping import models_ran

        recorder.ran = models_ran(served, backend.name(), session.train_images)
        earlier = session.earlier_epochs()
        if earlier:
            recorder.ran["equilibrium_read_at_epochs"] = earlier
    verdict, record, mistake = decided(recorder)
    if mistake is not None:
        if not report.failed:          # a test that raised keeps its own traceback
            report.outcome, report.longrepr = "failed", mistake
    elif report.passed and verdicts_decide_outcome(item.config):
        _apply_verdict(item, report, recorder, verdict)
    elif report.failed:
        verdict = "error"
    elif report.skipped:
        verdict = "skipped"
    record["verdict"], record["outcome"] = verdict, report.outcome
    report.user_properties.append((VERDICT_KEY, verdict))
    report.user_properties.append((RECORD_KEY, json.dumps(record)))
    if session is not None:
        report.user_properties.append((ENV_KEY, json.dumps(session.environment())))


def _apply_verdict(item, report, recorder, verdict: str) -> None:
    if verdict == "refuted":
        report.outcome = "failed"
        report.longrepr = recorder.failure_message()
    elif verdict == "inconclusive":
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, "INCONCLUSIVE: " + recorder.failure_message())


def decided(recorder) -> tuple[str, dict, str | None]:
    """``(verdict, record, mistake)`` of a test's recorder; when its checks cannot be decided
    (an error of the claim module), the verdict is ``error`` and ``mistake`` says why."""
    try:
        verdict = recorder.verdict().value
        return verdict, recorder.to_dict(), None
    except Exception as e:  # noqa: BLE001 - any error of the claim module fails its test, not the session
        what = str(e) if isinstance(e, VaebenchError) else f"{type(e).__name__}: {e}"
        mistake = f"{recorder.claim.id}: the checks of {recorder.test} cannot be decided: {what}"
        return "error", error_record(recorder, mistake), mistake


def error_record(recorder, mistake: str) -> dict:
    """The record of a test whose checks cannot be decided: what it recorded, its sub-claims
    in ``error`` with the mistake as the reason."""
    from vaebench.claims.record import jsonable

    covered = recorder.covered
    subs = [s for s in recorder.claim.design.subclaims if covered is None or s.id in covered]
    checks = []
    for c in recorder.checks:
        try:
            checks.append({**c.to_dict(), "claim": recorder.claim.id})
        except Exception:  # noqa: BLE001, S112 - a check that cannot be shown is left out of the record
            continue
    return jsonable({"claim": recorder.claim.to_dict(), "test": recorder.test, "verdict": "error",
                     "reason": mistake, "checks": checks, "statistics": recorder.statistics,
                     "subclaims": [{**s.to_dict(), "verdict": "error", "reason": mistake, "check": None}
                                   for s in subs],
                     "figures": recorder.figures, "notes": recorder.notes, "scale": recorder.scale,
                     "ran": recorder.ran, "models": recorder.models})


def pytest_report_teststatus(report, config):
    if prop(report, VERDICT_KEY) == "inconclusive" and report.skipped:
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None
