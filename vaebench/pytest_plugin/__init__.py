"""The vaebench pytest plugin (registered through the ``pytest11`` entry point).

Layer 12: imports everything below it. One module per job: :mod:`.options` (the options,
checked at start), :mod:`.fixtures`, :mod:`.outcome` (a claim test's outcome from its
verdict), :mod:`.summary` (the claims' rows and the terminal table), :mod:`.results`
(results.json and the report, with a fallback) and :mod:`.collector` (the run's records).

Options (``pytest --help``, group "vaebench"):
  --vaebench-scale   smoke | cpu | full | auto (default: $VAEBENCH_SCALE, else auto: full with a GPU, cpu without)
  --vaebench-store   trained-model store folder (default: $VAEBENCH_STORE or ~/.cache/vaebench)
  --vaebench-data    synthetic | celeba:PATH | folder:PATH (default: $VAEBENCH_DATA, else synthetic);
                     image size and counts stay the scale's (a folder gives what it holds, up to them)
  --vaebench-report  folder for HTML reports (default: <rootdir>/reports; "none" writes none)
  --vaebench-seeds   seeds of the seed studies, e.g. 0,1,2,3: distinct, in [0, 2**32) (default: the scale's)
  --vaebench-pack    how many models train at once as one Keras model (default: the scale's)
  --vaebench-plan    PATH: write the plan of the models the claims need, train nothing
                     (then ``vaebench train --plan PATH --executor local|ray``)
  --vaebench-precision  float32 | mixed_bfloat16: the compute precision of the claims' models
                     (default: the scale's, float32; check M1 first)
  --vaebench-epochs  N: every claim's models train N epochs (default: the scale's); a stored shorter
                     training of the same model resumes instead of starting again
  --vaebench-runs    N: N training runs (seeds 0..N-1) per model and per arm of C4 (default: the scale's)
  --vaebench-workers N: worker processes of the local executor (default: $VAEBENCH_WORKERS, else 1)

A bad value of any of them (a seed repeated or >= 2**32, epochs or runs not a whole number >= 1,
a data folder that does not exist, a store, report or plan location below a file or read-only)
is a usage error at start (exit 4), before anything is collected or trained. The default report
folder is not checked at start (the plugin runs in every pytest run of the environment); when writing the report fails
at the end, the verdict table is still printed and results.json goes to
``<tmp>/vaebench-results/<run>/``, with the path said.

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
``error`` in the report; so is a test whose checks cannot be decided (a mistyped primary
check, an interval not at ``claim.level``): it fails with the message, the others run.
The terminal summary ends with a verdict table and the path of the HTML report
(``reports/<run>/index.html`` with ``results.json``; ``reports/latest`` points at the
newest run). With ``--vaebench-verdicts record`` (the default at the smoke scale, whose
numbers mean nothing: CI checks the machinery there) verdicts go to the table and the
report only, and a claim test fails only when it raises.
"""
from vaebench.pytest_plugin.collector import Collector
from vaebench.pytest_plugin.fixtures import TrainedModels, claim, datasets, scale, trained, vaebench_session
from vaebench.pytest_plugin.options import pytest_addoption, pytest_configure, scale_option
from vaebench.pytest_plugin.outcome import (
    ENV_KEY,
    RECORD_KEY,
    VERDICT_KEY,
    prop,
    pytest_report_teststatus,
    pytest_runtest_makereport,
    verdicts_decide_outcome,
)
from vaebench.pytest_plugin.summary import summarise

__all__ = ["Collector", "TrainedModels", "claim", "datasets", "scale", "trained", "vaebench_session",
           "pytest_addoption", "pytest_configure", "scale_option", "ENV_KEY", "RECORD_KEY", "VERDICT_KEY", "prop",
           "pytest_report_teststatus", "pytest_runtest_makereport", "verdicts_decide_outcome", "summarise"]
