"""The device check (issue 14): one prepared command that measures vaebench's training path
on a GPU and runs full-scale claims, in order of value, inside a time budget.

    vaebench device-check --out DIR --budget-s 450 [--size posts|tiny]
    benchmarks/device_check.sh DIR 450     # the same, after installing the wheels in .whl/

Steps (:func:`plan`), in order of value (issue 21), inside one command of at most 540 s:

1. ``a:`` model-images/s on the training path (:class:`vaebench.train.PackTrainer`,
   ``fit_epoch``, the default feed: on the device where there is a GPU) of the posts' VAE
   in float32 at a pack of 1 and at the lead pack (:func:`lead_pack`: the full scale's, 4),
   then in mixed bfloat16 at the lead pack, each with its compile time, the memory of one
   compiled step (JAX: the compiled step's memory analysis; torch: the reset CUDA peak) and
   GPU utilisation;
2. ``b:`` one epoch (then a second, warm and timed) of 170,000 images of the posts' VAE at
   the lead pack, through ``PackTrainer.run_epoch`` (probe and records included), images/s;
3. ``c:`` claim C5 at the full scale without its trained-model test (no training: its GPU
   memory and step-time sub-claims are primary evidence in seconds);
4. ``a:`` the remaining packs: the VAE's other packs in both precisions, AE and VAE +
   Dense(256) at a pack of one, the VAE at the lead pack fed from the host (what the
   device feed saves), AE and VAE + Dense at ``rest_packs`` (each step costs a compile,
   so few of them);
5. ``c:`` C1 at the full scale (its 8 models are the store entries most other claims and
   M1 reuse), then M1 (may the claims train in bfloat16?). Each claim runs in its own
   pytest (:data:`CLAIMS`), which, like this process, preallocates no GPU memory
   (:data:`NO_PREALLOCATION`).

``--size tiny`` runs the same steps on 16×16 images of a tiny model, fed from the device
(the GPU's code path), and C5's arithmetic test at the ``smoke`` scale, on any CPU (the
test suite runs it). At ``posts`` size a machine without a usable GPU gets ``summary.json``
with the reason, the backend's devices and ``nvidia-smi -L``, and exit status
:data:`NO_GPU_EXIT` (:func:`no_gpu`). :func:`simulate` runs the plan on a simulated clock
with modelled costs (the budget, estimates and order are the real ones).

Estimates: a pack step's is the nearest measured pack's setup, compile and epochs, scaled
by the ratio of the packs; the epoch's is the measured compile and two epochs at the
measured rate; all with :data:`MARGIN`.

Budget: a step starts only when its estimate (from the steps measured before it) fits into
what is left of ``--budget-s``; what does not fit is listed in ``not_run`` with the
reason. ``summary.json`` is rewritten after every step, so a kill leaves what was done.
Files in DIR: ``summary.json``, ``benchmark.json`` (pytest-benchmark's format, which
``vaebench compare`` reads), ``report/<run>/index.html`` and ``results.json`` per claim
run: at most 8 files, 2 folders down, no link or temporary (:func:`vaebench.bench.devicefiles.report_files`).
The model store (and its decoded-image cache) lives outside DIR (``--store``).
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from vaebench.bench.devicefiles import bench_entry, claim_verdicts, gpu_names, machine_info, write_json  # noqa: F401
from vaebench.errors import SpecError, require

SIZE_NAMES = ("posts", "tiny")
#: the claims step c runs, in order: (name, module, pytest -k expression or None,
#: models it trains as a function of the scale's seed count)
CLAIMS: tuple[tuple[str, str, str | None, Callable[[int], int]], ...] = (
    ("C5", "test_c5_dense_bottleneck_cuts_encoder_parameters.py", "not quality", lambda seeds: 0),
    ("C1", "test_c1_tiny_kl_vae_behaves_like_ae.py", None, lambda seeds: 2 * seeds),
    ("M1", "test_m1_mixed_precision_keeps_claim_statistics.py", None, lambda seeds: 2 * seeds),
)
#: at ``tiny`` size step c runs these claims with these -k expressions only (C5's arithmetic
#: test: its benchmark test alone takes over a minute on 2 cores)
TINY_CLAIMS = {"C5": "parameter_counts"}
PRECISION_LABELS = {"float32": "f32", "mixed_bfloat16": "bf16"}
#: the factor on the measured costs of an estimate (a step that runs past its estimate eats the next one's time)
MARGIN = 1.3
#: step b's fixed cost besides compiling and training: making 170,000 images and the probe (seconds)
EPOCH_SETUP_S = 15.0
#: what the machine's processes may take of the GPU: none preallocates (JAX's default takes 75 %
#: at its first operation and the claims' pytest is a second JAX process)
NO_PREALLOCATION = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


@dataclass(frozen=True)
class CheckSize:
    """The sizes of one device check. ``epoch_batches``: batches per timed pack epoch;
    ``epoch_images``: images of step b; ``first_estimate_s``: the estimate of a step of a
    kind not measured yet; ``claim_setup_s``: a claim run's fixed cost (imports, compiles);
    ``data_setup_s``: what a training claim adds (making the scale's images);
    ``rest_packs``: the packs of AE and VAE + Dense in step 3; ``precisions``: those of
    the pack benchmarks; ``feed``: the feed of the
    pack benchmarks (None: the training path's default; ``tiny`` forces the device feed,
    so that a CPU runs the GPU's code path)."""

    name: str
    image_size: int
    batch_size: int
    z_dim: int
    filters: tuple[int, ...]
    dense: int
    packs: tuple[int, ...]
    epoch_batches: int
    rounds: int
    epoch_images: int
    claim_scale: str
    first_estimate_s: float
    claim_setup_s: float
    data_setup_s: float
    rest_packs: tuple[int, ...]
    feed: str | None
    precisions: tuple[str, ...] = ("float32", "mixed_bfloat16")


SIZES = {
    "posts": CheckSize(
        "posts",
        96,
        128,
        256,
        (32, 64, 128, 256),
        256,
        (1, 2, 4, 8),
        200,
        2,
        170_000,
        "full",
        60.0,
        90.0,
        180.0,
        (4,),
        None,
    ),
    "tiny": CheckSize(
        "tiny", 16, 16, 8, (4, 8), 8, (1, 2), 4, 2, 512, "smoke", 6.0, 60.0, 10.0, (), "device", ("float32",)
    ),
}


def model_specs(size: CheckSize) -> dict:
    """The posts' three models (post XII) at ``size``: AE, VAE, VAE + Dense."""
    from vaebench.config import ModelSpec

    common = dict(z_dim=size.z_dim, filters=size.filters)
    return {
        "AE": ModelSpec(kind="ae", batchnorm=False, fact=0.0, **common),
        "VAE": ModelSpec(kind="vae", batchnorm=True, fact=1e-5, **common),
        f"VAE+Dense({size.dense})": ModelSpec(kind="vae", batchnorm=True, fact=1e-5, dense=size.dense, **common),
    }


@dataclass
class Step:
    """One step of the check: ``run()`` returns its result (a dict); ``estimate()`` its seconds."""

    name: str
    kind: str
    run: Callable[[], dict]
    estimate: Callable[[], float]
    #: what the step measures (a pack benchmark: label, precision, pack, feed, main)
    meta: dict = field(default_factory=dict)
    #: names of later steps this one must not crowd out: when it does not fit together with
    #: their estimates it is deferred to just after the last of them (:meth:`DeviceCheck.run`)
    protects: tuple[str, ...] = ()


@dataclass
class Budget:
    """Seconds from ``start``; a step fits when its estimate ends before ``budget_s``."""

    budget_s: float
    start: float = field(default_factory=time.monotonic)
    clock: Callable[[], float] = time.monotonic

    def elapsed(self) -> float:
        return self.clock() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def fits(self, estimate_s: float) -> bool:
        return estimate_s <= self.left()


class DeviceCheck:
    """Runs the steps of :func:`plan` into ``out`` within ``budget_s`` (see the module docstring)."""

    def __init__(
        self,
        out: Path,
        budget_s: float,
        size: CheckSize,
        store: Path,
        hypotheses: Path | None,
        claims: tuple[str, ...] | None = None,
        python: str = sys.executable,
    ):
        self.out, self.size, self.store, self.hypotheses, self.python = out, size, store, hypotheses, python
        self.claims = claims
        self.budget = Budget(float(budget_s))
        self.steps: list[dict] = []
        self.benchmarks: list[dict] = []
        self.measured: dict[str, dict] = {}  # label -> result of a pack benchmark
        self.environment: dict = {}
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")

    # ----------------------------------------------------------------- files

    def summary(self) -> dict:
        return {
            "what": "vaebench device check (issue 14)",
            "size": self.size.name,
            "sizes": asdict(self.size),
            "budget_s": self.budget.budget_s,
            "elapsed_s": round(self.budget.elapsed(), 1),
            "started": self.started,
            "environment": self.environment,
            "store": str(self.store),
            "steps": self.steps,
            "not_run": [f"{s['name']}: {s['reason']}" for s in self.steps if s["status"] == "not run"],
            "files": {"summary": "summary.json", "benchmark": "benchmark.json", "report": "report/<run>/"},
        }

    def save(self) -> None:
        write_json(self.out / "summary.json", self.summary())
        write_json(
            self.out / "benchmark.json",
            {
                "machine_info": machine_info(),
                "commit_info": {},
                "benchmarks": self.benchmarks,
                "datetime": datetime.now(timezone.utc).isoformat(),
                "version": "vaebench-devicecheck",
            },
        )

    # ----------------------------------------------------------------- running

    def run(self, steps: list[Step]) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        from vaebench import backend
        from vaebench.bench.setup import environment

        self.environment = {**environment(), "versions": backend.versions(), "gpus": gpu_names()}
        self.save()
        queue = list(steps)
        while queue:
            step = queue.pop(0)
            estimate = float(step.estimate())
            if self._defer(step, estimate, queue):
                continue
            record = {"name": step.name, "kind": step.kind, "estimate_s": round(estimate, 1)}
            if not self.budget.fits(estimate):
                record.update(
                    status="not run",
                    reason=f"needs about {estimate:.0f} s, {self.budget.left():.0f} s "
                    f"of the {self.budget.budget_s:.0f} s budget left",
                )
                self.steps.append(record)
                _say(f"{step.name}: not run ({record['reason']})")
                self.save()
                continue
            t0 = self.budget.clock()
            try:
                result = step.run()
                record.update(status="done", result=result)
            except Exception as e:  # one failed step must not cost the others
                record.update(status="failed", reason=f"{type(e).__name__}: {e}"[:2000])
            record["seconds"] = round(self.budget.clock() - t0, 1)
            self.steps.append(record)
            _say(
                f"{step.name}: {record['status']} in {record['seconds']:.0f} s"
                + (f" - {_brief(record.get('result'))}" if record["status"] == "done" else f" - {record['reason']}")
            )
            self.save()
        _say(
            f"done in {self.budget.elapsed():.0f} s: {self.out / 'summary.json'}, {self.out / 'benchmark.json'}, "
            f"{self.out / 'report'}"
        )
        return self.summary()

    def _defer(self, step: Step, estimate: float, queue: list[Step]) -> bool:
        """Move ``step`` behind the steps it protects when it fits only without them (it keeps
        its place when it does not fit at all: it is listed as not run)."""
        protected = [i for i, s in enumerate(queue) if s.name in step.protects]
        if not protected or not self.budget.fits(estimate):
            return False
        reserve = sum(float(queue[i].estimate()) for i in protected)
        if self.budget.fits(estimate + reserve):
            return False
        _say(f"{step.name}: deferred (about {estimate:.0f} s now would leave less than the {reserve:.0f} s "
             f"of {', '.join(queue[i].name for i in protected)})")
        queue.insert(protected[-1] + 1, Step(step.name, step.kind, step.run, step.estimate, step.meta))
        return True

    # ----------------------------------------------------------------- a: pack benchmarks

    def pack_step(self, label: str, spec, precision: str, pack: int, feed: str | None = None) -> Step:
        """A pack benchmark; ``feed`` None is the size's feed, another one is named in the step."""
        name = f"a {label} {PRECISION_LABELS[precision]} pack{pack}" + (f" {feed}-fed" if feed else "")
        main = feed is None
        feed = self.size.feed if feed is None else feed
        return Step(
            name,
            "benchmark",
            lambda: self._pack_bench(name, label, spec, precision, pack, feed, main),
            lambda: self._pack_estimate(pack, precision),
            dict(label=label, precision=precision, pack=pack, feed=feed, main=main),
        )

    def _pack_estimate(self, pack: int, precision: str = "float32") -> float:
        """From the nearest measured pack (same precision where there is one): its setup, plus its
        measured compile and its ``rounds + 1`` epochs (the untimed first one, the timed ones),
        both scaled by the ratio of the packs (K members: K copies of the graph and K times the
        model-images), with a margin of :data:`MARGIN`."""
        done = list(self.measured.values())
        if not done:
            return self.size.first_estimate_s
        same = [r for r in done if r["precision"] == precision] or done
        near = min(same, key=lambda r: (abs(r["pack"] - pack), -r["pack"]))
        q = pack / near["pack"]
        epoch = sum(near["round_seconds"]) / len(near["round_seconds"])
        return near["setup_seconds"] + MARGIN * q * (near["compile_seconds"] + (self.size.rounds + 1) * epoch)

    def _pack_bench(self, name: str, label: str, spec, precision: str, pack: int, feed: str | None, main: bool) -> dict:
        """A pack of ``pack`` members trained for an untimed epoch (tracing, compile) and
        ``size.rounds`` timed ones; its benchmark entry recorded, its summary returned."""
        from vaebench.bench.setup import make_batch
        from vaebench.bench.throughput import pack_trainer

        t0 = time.monotonic()
        size = self.size
        images = make_batch(size.image_size, size.epoch_batches * size.batch_size, seed=3)
        trainer = pack_trainer(spec, size.image_size, images, size.batch_size, pack=pack, precision=precision,
                               probe_size=min(512, len(images)), feed=feed)
        info, seconds = self._time_pack(trainer, spec, label, precision, pack, len(images))
        self.benchmarks.append(bench_entry(
            name.replace(" ", "_"),
            f"device check: pack epochs of {len(images)} images {size.image_size}px batch {size.batch_size}",
            seconds, info))
        del trainer
        _release()
        result = _pack_result(label, precision, pack, info, seconds, time.monotonic() - t0)
        if main:
            self.measured[f"{label} {precision} {pack}"] = result
        return result

    def _time_pack(self, trainer, spec, label: str, precision: str, pack: int, n_images: int) -> tuple[dict, list]:
        """The warm-up epoch and the timed ones, with memory, GPU utilisation and dispatch cost:
        the benchmark's ``info`` and the timed epochs' seconds."""
        from vaebench.bench.gpu import GpuUtilisation
        from vaebench.bench.memory import device_memory, reset_device_peak
        from vaebench.bench.setup import benchmark_info, parameters
        from vaebench.bench.throughput import pack_step_memory, throughput
        from vaebench.bench.timing import dispatch_seconds

        size = self.size
        w0 = time.perf_counter()
        trainer.fit_epoch()  # tracing and compilation, untimed
        warmup = time.perf_counter() - w0
        reset_device_peak()
        with GpuUtilisation() as gpu:
            seconds = [trainer.fit_epoch() for _ in range(size.rounds)]
        memory, step_memory = device_memory() or {}, pack_step_memory(trainer) or {}
        rate = throughput(pack * n_images, seconds)
        variables = len(trainer.pack.variables) + len(trainer.pack.optimizer.variables)
        mean = sum(seconds) / len(seconds)
        info = benchmark_info(
            spec, size.image_size, size.batch_size, label=f"{label} pack of {pack}", precision=precision, pack=pack,
            feed=trainer.feed, check_size=size.name, images_per_model=n_images, warmup_seconds=warmup,
            images_per_second_per_model=rate.images_per_second.value / pack,
            per_model=parameters(trainer.members[0].model),
            device_memory_peak_bytes=memory.get("peak"), device_memory_current_bytes=memory.get("current"),
            device_memory_source=memory.get("source"), device_memory_resettable=memory.get("resettable"),
            step_memory_bytes=step_memory.get("step_peak"), step_memory_increment_bytes=step_memory.get("increment"),
            step_memory_source=step_memory.get("source"), compile_seconds=max(0.0, warmup - mean),
            seconds_per_step=mean / size.epoch_batches,  # the images are epoch_batches batches
            dispatch_seconds_per_call=dispatch_seconds(variables), step_variables=variables,
            measure="PackTrainer.fit_epoch: every member one epoch (model-images counted)",
            **rate.to_info(), **gpu.to_info())
        return info, seconds

    # ----------------------------------------------------------------- b: one epoch at the posts' count

    def epoch_step(self, spec, pack: int) -> Step:
        name = f"b one epoch of {self.size.epoch_images:,} images, VAE pack{pack}"
        return Step(name, "epoch", lambda: self._epoch(spec, pack), lambda: self._epoch_estimate(pack), {"pack": pack})

    def _rate_per_model(self, pack: int) -> tuple[float, float] | None:
        """(model-images/s per model, compile seconds scaled to ``pack``) of the nearest measured
        VAE f32 pack."""
        vae = [r for k, r in self.measured.items() if k.startswith("VAE float32")]
        if not vae:
            return None
        best = min(vae, key=lambda r: (abs(r["pack"] - pack), -r["pack"]))
        return best["images_per_second_per_model"], best["compile_seconds"] * pack / best["pack"]

    def _epoch_estimate(self, pack: int) -> float:
        """The measured compile (scaled to ``pack``) and two epochs at the measured rate, with
        :data:`MARGIN`, plus :data:`EPOCH_SETUP_S` for making the images and the probe."""
        known = self._rate_per_model(pack)
        if known is None:
            return 4 * self.size.first_estimate_s
        per_model, compile_s = known
        return MARGIN * (compile_s + 2 * self.size.epoch_images / per_model) + EPOCH_SETUP_S

    def _epoch(self, spec, pack: int) -> dict:
        from vaebench.bench.gpu import GpuUtilisation
        from vaebench.bench.setup import make_batch
        from vaebench.bench.throughput import pack_trainer

        size = self.size
        t0 = time.perf_counter()
        images = make_batch(size.image_size, size.epoch_images, seed=5)
        made = time.perf_counter() - t0
        trainer = pack_trainer(
            spec, size.image_size, images, size.batch_size, pack=pack, probe_size=512, feed=size.feed
        )
        seconds = []
        with GpuUtilisation() as gpu:
            for _ in range(2):  # the first epoch compiles; the second is the steady rate
                e0 = time.perf_counter()
                trainer.run_epoch()
                seconds.append(time.perf_counter() - e0)
        losses = [m.history["loss"][-1] for m in trainer.members]
        feed = trainer.feed
        del trainer, images
        _release()
        return {
            "pack": pack,
            "feed": feed,
            "epoch_images": size.epoch_images,
            "epoch_seconds": seconds,
            "images_made_seconds": made,
            "images_per_second": pack * size.epoch_images / seconds[-1],
            "images_per_second_per_model": size.epoch_images / seconds[-1],
            "first_epoch_images_per_second": pack * size.epoch_images / seconds[0],
            "final_losses": losses,
            **gpu.to_info(),
        }

    # ----------------------------------------------------------------- c: claims

    def claim_step(self, name: str, module: str, select: str | None, models: int) -> Step:
        return Step(
            f"c claim {name}" + (f" (-k '{select}')" if select else ""),
            "claim",
            lambda: self._claim(name, module, select),
            lambda: self._claim_estimate(models),
            {"claim": name, "models": models},
        )

    def _claim_estimate(self, models: int) -> float:
        from vaebench.config import SCALES

        if models == 0:
            return self.size.claim_setup_s
        scale = SCALES[self.size.claim_scale]
        known = self._rate_per_model(scale.pack)
        if known is None:
            return float("inf") if self.size.name == "posts" else 3 * self.size.claim_setup_s
        per_model = known[0]
        setup = self.size.claim_setup_s + self.size.data_setup_s
        return setup + MARGIN * models * scale.train.epochs * scale.data.n_train / per_model

    def _claim(self, name: str, module: str, select: str | None) -> dict:
        require(
            self.hypotheses is not None and (self.hypotheses / module).is_file(),
            f"no claim module {module} under {self.hypotheses}; run from a vaebench checkout",
        )
        report = self.out / "report"
        before = set(report.iterdir()) if report.is_dir() else set()
        cmd = [
            self.python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(self.hypotheses / module),
            "--vaebench-scale",
            self.size.claim_scale,
            "--vaebench-report",
            str(report),
            "--vaebench-store",
            str(self.store),
            "-W",
            "ignore",
        ]
        if select:
            cmd += ["-k", select]
        timeout = max(1.0, self.budget.left() - 5)
        env = {**os.environ, **NO_PREALLOCATION}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(self.hypotheses.parent),
                                  env=env)
            code, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
        except subprocess.TimeoutExpired as e:
            code, tail = "killed at the budget", str(e.stdout or "")[-1500:]
        runs = sorted(
            p
            for p in (set(report.iterdir()) if report.is_dir() else set()) - before
            if p.is_dir() and not p.is_symlink()
        )
        results = runs[-1] / "results.json" if runs else None
        latest = report / "latest"
        if latest.is_symlink():  # a link does not come back from the machine's $OUT: no stray entries
            latest.unlink()
        return {
            "claim": name,
            "exit": code,
            "report": str(runs[-1].relative_to(self.out)) if runs else None,
            "verdicts": claim_verdicts(results) if results and results.is_file() else {},
            "output_tail": tail,
        }


def lead_pack(size: CheckSize) -> int:
    """The pack of the steps that come first: the full scale's pack at ``posts`` size, the
    largest of ``size.packs`` elsewhere."""
    from vaebench.config import SCALES

    return SCALES["full"].pack if size.name == "posts" else max(size.packs)


def plan(check: DeviceCheck) -> list[Step]:
    """The steps in order of value (see the module docstring): the VAE at a pack of one and
    at the lead pack in float32, the lead pack in bfloat16, the epoch at the posts' count,
    C5, the remaining pack benchmarks, then the training claims."""
    from vaebench.config import SCALES

    size = check.size
    specs = model_specs(size)
    vae = specs["VAE"]
    others = [k for k in specs if k != "VAE"]
    lead = lead_pack(size)
    first = [("VAE", "float32", 1), ("VAE", "float32", lead)]
    first += [("VAE", p, lead) for p in size.precisions if p != "float32"]
    rest = [("VAE", p, k) for p in size.precisions for k in size.packs]
    rest += [(label, p, 1) for label in others for p in size.precisions]
    rest = [r for r in dict.fromkeys(rest) if r not in first]
    later = [(label, p, k) for label in others for p in size.precisions for k in size.rest_packs if k != 1]
    claims = _claim_steps(check, len(SCALES[size.claim_scale].seeds))
    no_training = [c for c in claims if c.name.startswith("c claim C5")]
    epoch = check.epoch_step(vae, lead)
    lead_steps = [check.pack_step(label, specs[label], p, k) for label, p, k in first]
    for step in lead_steps[2:]:  # the first two measure what the epoch's estimate needs
        step.protects = (epoch.name,)
    return (lead_steps + [epoch] + no_training
            + [check.pack_step(label, specs[label], p, k) for label, p, k in rest]
            + [check.pack_step("VAE", vae, "float32", lead, feed="host")]
            + [check.pack_step(label, specs[label], p, k) for label, p, k in later]
            + [c for c in claims if c not in no_training])


def _claim_steps(check: DeviceCheck, seeds: int) -> list[Step]:
    tiny = check.size.name == "tiny"
    claims = []
    for name, module, select, models in CLAIMS:
        if check.claims is None and (not tiny or name in TINY_CLAIMS) or name in (check.claims or ()):
            claims.append(
                check.claim_step(name, module, TINY_CLAIMS.get(name, select) if tiny else select, models(seeds))
            )
    return claims


def simulate(check: DeviceCheck, cost: Callable[[Step], tuple[float, dict]]) -> dict:
    """Run :func:`plan` on a simulated clock: ``cost(step)`` gives a step's modelled seconds
    and result (a pack benchmark's as :meth:`DeviceCheck._pack_bench` returns it); the budget,
    the estimates and the order are the real ones. Returns the summary (nothing is trained;
    ``check.out`` receives the files)."""
    now = [0.0]
    check.budget = Budget(check.budget.budget_s, start=0.0, clock=lambda: now[0])

    def modelled(step: Step) -> Callable[[], dict]:
        def run() -> dict:
            seconds, result = cost(step)
            now[0] += seconds
            meta = step.meta
            if step.kind == "benchmark" and meta.get("main"):
                check.measured[f"{meta['label']} {meta['precision']} {meta['pack']}"] = result
            return result
        return run

    steps = [Step(s.name, s.kind, modelled(s), s.estimate, s.meta, s.protects) for s in plan(check)]
    return check.run(steps)


def _release() -> None:
    import keras

    keras.backend.clear_session()
    gc.collect()


def _say(message: str) -> None:
    print(f"[device-check] {message}", flush=True)


def _brief(result: dict | None) -> str:
    if not result:
        return ""
    if "verdicts" in result:
        return f"exit {result['exit']}, " + ", ".join(f"{k} {v}" for k, v in result["verdicts"].items())
    parts = [f"{result['images_per_second']:,.0f} model-img/s ({result.get('feed')} feed)"]
    if result.get("device_memory_peak_bytes"):
        parts.append(f"peak {result['device_memory_peak_bytes'] / 2**30:.2f} GiB")
    if result.get("gpu_utilisation") is not None:
        parts.append(f"GPU {result['gpu_utilisation']:.0f} %")
    if "epoch_seconds" in result:
        parts.append("epochs " + ", ".join(f"{s:.1f} s" for s in result["epoch_seconds"]))
    return ", ".join(parts)


def default_store() -> Path:
    return Path(os.environ.get("VAEBENCH_DEVICE_STORE") or "/tmp/vaebench-device-check/store")


#: exit status of a posts-size check that finds no usable GPU (its summary.json says why)
NO_GPU_EXIT = 3


def no_gpu(out: Path, budget_s: float) -> int:
    """A posts-size start without a usable GPU: ``summary.json`` in ``out`` with the reason, the
    backend's device list and ``nvidia-smi -L``; one line says so; :data:`NO_GPU_EXIT`."""
    from vaebench import backend
    from vaebench.bench.devicefiles import backend_devices, nvidia_smi_list

    name = backend.name()
    reason = (f"no GPU is visible to the {name} backend ({backend.device()}): the posts-size check needs one "
              "(a failed CUDA start looks the same: see devices and nvidia_smi); --size tiny runs the same steps "
              "small on a CPU")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "summary.json", {
        "what": "vaebench device check (issue 14)", "size": "posts", "budget_s": budget_s, "status": "no GPU",
        "reason": reason, "backend": name, "devices": backend_devices(name), "nvidia_smi": nvidia_smi_list(),
        "environment_variables": {k: os.environ.get(k) for k in
                                  ("JAX_PLATFORMS", "CUDA_VISIBLE_DEVICES", "KERAS_BACKEND",
                                   "XLA_PYTHON_CLIENT_PREALLOCATE", "LD_LIBRARY_PATH")},
        "steps": [], "not_run": ["every step: " + reason]})
    _say(reason + f"; {out / 'summary.json'}")
    return NO_GPU_EXIT


def main(
    out: str, budget_s: float, size: str = "posts", store: str | None = None, claims: tuple[str, ...] | None = None
) -> int:
    """``vaebench device-check``: 0 when the check ran (a failed step is in the summary);
    :data:`NO_GPU_EXIT` when ``size='posts'`` finds no usable GPU (:func:`no_gpu`)."""
    require(size in SIZES, f"size={size!r} is not a device-check size; use one of {SIZE_NAMES}", SpecError)
    require(budget_s > 0, f"--budget-s {budget_s} must be > 0 (seconds)", SpecError)
    known = {c[0] for c in CLAIMS}
    require(claims is None or set(claims) <= known, f"claims={claims} must be among {sorted(known)}", SpecError)
    for key, value in NO_PREALLOCATION.items():  # before the backend's first operation makes its client
        os.environ.setdefault(key, value)
    from vaebench import backend

    if size == "posts" and not backend.accelerator_visible():
        return no_gpu(Path(out), budget_s)
    hypotheses = Path(__file__).resolve().parents[2] / "hypotheses"
    check = DeviceCheck(
        Path(out),
        budget_s,
        SIZES[size],
        Path(store) if store else default_store(),
        hypotheses if hypotheses.is_dir() else None,
        claims,
    )
    _say(f"{size} size on {backend.name()} ({backend.device()}), budget {budget_s:.0f} s, into {out}")
    check.run(plan(check))
    return 0


#: what a pack benchmark's summary copies from its benchmark ``info``
_PACK_RESULT_KEYS = ("float32_arithmetic", "images_per_second_per_model", "compile_seconds",
                     "device_memory_peak_bytes", "step_memory_bytes", "step_memory_increment_bytes",
                     "seconds_per_step", "dispatch_seconds_per_call", "gpu_utilisation", "gpu_utilisation_note",
                     "gpu_memory_used_max_mib")


def _pack_result(label: str, precision: str, pack: int, info: dict, seconds: list, step_seconds: float) -> dict:
    """A pack benchmark's summary: what the plan's estimates and summary.json read."""
    return {"label": label, "precision": precision, "pack": pack, "feed": info["feed"],
            "images_per_second": info["images_per_second"], **{k: info[k] for k in _PACK_RESULT_KEYS},
            "warmup_seconds": info["warmup_seconds"], "round_seconds": seconds,
            "setup_seconds": max(0.0, step_seconds - info["warmup_seconds"] - sum(seconds)),
            "step_seconds": step_seconds}
