"""Every error vaebench raises, in one place.

Each message names the bad value and says what to do, e.g.
``image_size=100 must be divisible by 16``.
"""
from __future__ import annotations


class VaebenchError(Exception):
    """Base class of all vaebench errors."""


class SpecError(VaebenchError, ValueError):
    """A data, model or training spec (or a scale) holds an invalid value."""


class PlanError(SpecError):
    """A plan file (``--vaebench-plan``, ``vaebench train --plan``) is unreadable, damaged or
    does not match the code and store it is used with."""


class DataError(VaebenchError, ValueError):
    """A data source is missing, empty, unreadable or holds unusable images."""


class StoreError(VaebenchError, RuntimeError):
    """The trained-model store cannot be used as asked."""


class TrainingError(VaebenchError, RuntimeError):
    """Training could not run as asked."""


class StatsError(VaebenchError, ValueError):
    """A statistic was asked of inputs it cannot be computed from."""


def require(condition: bool, message: str, kind: type[VaebenchError] = SpecError) -> None:
    """Raise ``kind(message)`` unless ``condition`` holds."""
    if not condition:
        raise kind(message)
