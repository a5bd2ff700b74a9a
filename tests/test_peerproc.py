"""vaebench.bench.peerproc and peerchild: peer arms in processes of their own (issue 22). The
protocol on a tiny model (an arm runs, its JSON is read, its thread settings are recorded, an
arm whose package is missing is skipped with the reason), the table and the paired ratio
interval on known inputs. Nothing here asserts on seconds."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from vaebench.bench import peerproc
from vaebench.bench.timing import paired_log_ratio
from vaebench.config import ModelSpec
from vaebench.errors import SpecError, StatsError

TINY = ModelSpec(kind="vae", z_dim=4, filters=(4, 8), batchnorm=True, fact=1e-2)
MISSING = peerproc.ArmSpec("no_such_package_vaebench_xyz", "tensorflow", "tensorflow")


def test_paired_log_ratio_on_known_inputs():
    same = paired_log_ratio([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert same.value == pytest.approx(2.0) and same.low == pytest.approx(2.0) and same.high == pytest.approx(2.0)
    est = paired_log_ratio([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])           # ratios 1, 2, 4: logs 0, ln2, 2 ln2
    half = sps.t.ppf(0.975, 2) * math.log(2) / math.sqrt(3)
    assert est.value == pytest.approx(2.0)
    assert est.low == pytest.approx(2.0 * math.exp(-half)) and est.high == pytest.approx(2.0 * math.exp(half))
    flipped = paired_log_ratio([1.0, 1.0, 1.0], [1.0, 2.0, 4.0])
    assert flipped.low == pytest.approx(1 / est.high) and flipped.high == pytest.approx(1 / est.low)
    with pytest.raises(StatsError):
        paired_log_ratio([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(StatsError):
        paired_log_ratio([1.0], [1.0])


def test_peer_table_on_known_rounds():
    run = {"arms": {"vaebench": {"seconds": [2.0, 2.0, 2.0], "images": 100, "threads": 2, "process": "own",
                                 "settings": {}},
                    "peer": {"seconds": [1.0, 1.0, 1.0], "images": 100, "threads": 1, "process": "own",
                             "settings": {"torch_threads": 1}}},
           "skipped": {"gone": "gone is not importable by python"}}
    table = peerproc.peer_table(run, flops_per_image=10**9, peak_gflops=100.0)
    assert table["vaebench"]["images_per_second"] == 50.0 and table["vaebench"]["fraction_of_peak"] == 0.5
    assert "speed_vs_vaebench" not in table["vaebench"]
    assert table["peer"]["speed_vs_vaebench"] == pytest.approx(2.0)
    assert table["peer"]["speed_vs_vaebench_ci"] == pytest.approx([2.0, 2.0])
    assert table["peer"]["round_images_per_second"] == [100.0] * 3 and table["peer"]["threads"] == 1
    assert table["gone"] == {"skipped": "gone is not importable by python"}


def test_thread_env_states_every_pool_and_the_backend():
    env = peerproc.thread_env(peerproc.ARMS["torch eager"], 1, base={"PYTHONPATH": "/x"})
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS"):
        assert env[key] == "1"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["KERAS_BACKEND"] == "torch"
    assert env["PYTHONPATH"].split(":")[-1] == "/x" and "XLA_FLAGS" not in env
    jax_env = peerproc.thread_env(peerproc.ARMS["keras fit, jax backend"], 1, base={})
    assert "intra_op_parallelism_threads=1" in jax_env["XLA_FLAGS"]


def test_a_missing_package_is_named_and_an_unknown_arm_refused():
    import sys

    assert peerproc.missing_package(sys.executable, "json") is None
    assert "no_such_package_vaebench_xyz" in peerproc.missing_package(sys.executable, MISSING.package)
    with pytest.raises(SpecError, match="unknown"):
        peerproc.run_peers(["no such arm"], {}, rounds=1)


def test_the_child_serves_run_lines_until_quit(monkeypatch):
    """The child's protocol in this process, with a counting epoch in place of a model."""
    from vaebench.bench import peerchild

    calls = []
    monkeypatch.setattr(peerchild, "build_arm", lambda config: lambda: calls.append(1))
    # this process's TensorFlow may have run ops already: its pools are fixed (the subprocess test sets them)
    monkeypatch.setattr(peerchild, "set_threads", lambda library, n: {"tf_intra_op": n, "library": library})
    out = io.StringIO()
    monkeypatch.setattr(peerchild.sys, "stdout", out)
    config = peerproc.child_config("vaebench", TINY, 16, 8, steps=3, threads=1, warmup=2)
    peerchild.serve(config, lines=iter(["run\n", "run\n", "quit\n", "run\n"]))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(calls) == 4                                    # 2 warm-up epochs + 2 timed
    assert records[0]["ready"] and records[0]["settings"]["tf_intra_op"] == 1
    assert records[0]["settings"]["library"] == "tensorflow"
    assert [r["images"] for r in records[1:]] == [24, 24] and all(r["seconds"] >= 0 for r in records[1:])


@pytest.mark.slow
def test_run_peers_runs_an_arm_in_its_own_process_and_skips_a_missing_one():
    arms = {"vaebench": peerproc.ARMS["vaebench"], "keras fit + tf.data": peerproc.ARMS["keras fit + tf.data"],
            "missing": MISSING}
    config = peerproc.child_config("vaebench", TINY, 16, 8, steps=2, threads=1)
    run = peerproc.run_peers(list(arms), config, rounds=2, threads=1, arms=arms)
    assert run["skipped"] == {"missing": f"{MISSING.package} is not importable by {peerproc.interpreter(MISSING)}"}
    assert set(run["arms"]) == {"vaebench", "keras fit + tf.data"}
    for arm in run["arms"].values():
        assert len(arm["seconds"]) == 2 and all(s > 0 for s in arm["seconds"]) and arm["images"] == 16
        settings = arm["settings"]
        assert settings["tf_intra_op"] == settings["tf_inter_op"] == 1
        assert settings["env"]["OMP_WAIT_POLICY"] == "PASSIVE" and settings["env"]["OMP_NUM_THREADS"] == "1"
        assert settings["pid"] != __import__("os").getpid() and not settings["torch_loaded"]
    table = peerproc.peer_table(run, flops_per_image=1000, peak_gflops=1.0)
    assert np.isfinite(table["keras fit + tf.data"]["speed_vs_vaebench"]) and "skipped" in table["missing"]


def test_arm_names_are_separated_by_semicolons_since_names_hold_commas():
    assert peerproc.arm_names(None) == list(peerproc.ARMS) and peerproc.arm_names(" ") == list(peerproc.ARMS)
    assert peerproc.arm_names("vaebench; keras fit, jax backend") == ["vaebench", "keras fit, jax backend"]
    with pytest.raises(SpecError, match="arm 'keras fit' is unknown"):
        peerproc.arm_names("vaebench; keras fit")
