"""The plugin's fixtures: ``vaebench_session`` (scale, store, datasets, models), ``scale``,
``trained`` (:class:`TrainedModels`), ``datasets`` and ``claim`` (a
:class:`vaebench.claims.record.ClaimRecorder` for the module's ``CLAIM``)."""
from __future__ import annotations

import dataclasses

import pytest

from vaebench.pytest_plugin.options import check_budget_options, parse_seeds


@pytest.fixture(scope="session")
def vaebench_session(request):
    from vaebench.claims.session import Session
    from vaebench.config import get_scale, with_budget, with_data

    option = request.config.getoption
    scale = with_data(get_scale(option("--vaebench-scale")), option("--vaebench-data"))
    seeds = parse_seeds(option("--vaebench-seeds"))
    if seeds:
        scale = dataclasses.replace(scale, seeds=seeds)
    if option("--vaebench-pack") is not None:
        scale = dataclasses.replace(scale, pack=option("--vaebench-pack"))
    precision = option("--vaebench-precision")
    if precision is not None:
        scale = dataclasses.replace(scale, train=dataclasses.replace(scale.train, precision=precision))
    epochs, runs, workers = check_budget_options(request.config)
    scale = with_budget(scale, epochs, runs)
    budget_from = {"epochs_from": "scale" if epochs is None else "--vaebench-epochs",
                   "runs_from": "scale" if runs is None else "--vaebench-runs"}
    return Session(scale, option("--vaebench-store"), workers=workers, budget_from=budget_from)


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

    def at_epochs(self, run, k):
        """``run`` trained ``k`` epochs (:meth:`vaebench.claims.session.Session.at_epochs`)."""
        return self._live(self.session.at_epochs, run, k)

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
