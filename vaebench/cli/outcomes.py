"""The pytest plugin ``vaebench main`` runs the claims with: it sorts what went wrong."""
from __future__ import annotations

from vaebench.pytest_plugin.outcome import VERDICT_KEY, prop


class Outcomes:
    """Sorts what went wrong in a run of claims: a claim test that failed because its claim
    is refuted is a finding; anything else that failed (a test that raised, a fixture or
    collection error) is an error."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.refuted: list[str] = []
        self.ran = 0

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"collecting {report.nodeid or 'the claims'}")

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.ran += 1
        if not report.failed:
            return
        if report.when == "call" and prop(report, VERDICT_KEY) == "refuted":
            self.refuted.append(report.nodeid)
        else:
            self.errors.append(report.nodeid + ("" if report.when == "call" else f" ({report.when})"))
