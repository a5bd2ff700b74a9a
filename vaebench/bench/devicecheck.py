"""The device check (issue 14): one prepared command that measures vaebench's training path
on a GPU and runs full-scale claims, in order of value, inside a time budget.

    vaebench device-check --out DIR --budget-s 450 [--size posts|tiny]
    benchmarks/device_check.sh DIR 450     # the same, after installing the wheels in .whl/

Steps (:func:`plan`), in this order:

1. ``a:`` model-images/s of packs on the training path (:class:`vaebench.train.trainer.PackTrainer`,
   ``fit_epoch``, the default feed: on the device where there is a GPU), with peak device
   memory and GPU utilisation: the posts' VAE in float32 and mixed bfloat16 at packs of
   1, 2, 4, 8; then AE and VAE + Dense(256) in both precisions at a pack of one; then the
   VAE at a pack of four fed from the host (what the device feed saves);
2. ``b:`` one epoch (then a second, warm) of 170,000 images of the posts' VAE at the full
   scale's pack, through ``PackTrainer.run_epoch`` (probe and records included), images/s;
3. ``c:`` claim C5 at the full scale without its trained-model test (no training: its GPU
   memory and step-time sub-claims are primary evidence in seconds);
4. ``a:`` AE and VAE + Dense(256) at the larger packs;
5. ``c:`` C1 at the full scale (its 8 models are the store entries most other claims and
   M1 reuse), then M1 (may the claims train in bfloat16?). Each claim runs in its own
   pytest (:data:`CLAIMS`).

``--size tiny`` runs the same steps on 16×16 images of a tiny model, fed from the device
(the GPU's code path), and C5's arithmetic test at the ``smoke`` scale, on any CPU (the
test suite runs it). At ``posts`` size a machine without
a GPU gets one line saying so and exit status 0.

Budget: a step starts only when its estimate (from the steps measured before it) fits into
what is left of ``--budget-s``; what does not fit is listed in ``not_run`` with the
reason. ``summary.json`` is rewritten after every step, so a kill leaves what was done.
Files in DIR: ``summary.json``, ``benchmark.json`` (pytest-benchmark's format, which
``vaebench compare`` reads), ``report/<run>/index.html`` and ``results.json`` per claim
run. The model store (and its decoded-image cache) lives outside DIR (``--store``).
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
        3,
        170_000,
        "full",
        60.0,
        90.0,
        180.0,
        (2, 4, 8),
        None,
    ),
    "tiny": CheckSize(
        "tiny", 16, 16, 8, (4, 8), 8, (1, 2), 4, 2, 512, "smoke", 6.0, 20.0, 10.0, (), "device", ("float32",)
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
        for step in steps:
            estimate = float(step.estimate())
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
            t0 = time.monotonic()
            try:
                result = step.run()
                record.update(status="done", result=result)
            except Exception as e:  # one failed step must not cost the others
                record.update(status="failed", reason=f"{type(e).__name__}: {e}"[:2000])
            record["seconds"] = round(time.monotonic() - t0, 1)
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
            lambda: self._pack_estimate(pack),
        )

    def _pack_estimate(self, pack: int) -> float:
        done = list(self.measured.values())
        if not done:
            return self.size.first_estimate_s
        # the compile grows with the pack, the timed epochs too: scale the costliest similar step
        return max(r["step_seconds"] * max(1.0, pack / r["pack"]) for r in done[-3:])

    def _pack_bench(self, name: str, label: str, spec, precision: str, pack: int, feed: str | None, main: bool) -> dict:
        from vaebench.bench.gpu import GpuUtilisation
        from vaebench.bench.memory import device_memory, reset_device_peak
        from vaebench.bench.setup import benchmark_info, make_batch, parameters
        from vaebench.bench.throughput import pack_trainer, throughput

        t0 = time.monotonic()
        size = self.size
        images = make_batch(size.image_size, size.epoch_batches * size.batch_size, seed=3)
        trainer = pack_trainer(
            spec,
            size.image_size,
            images,
            size.batch_size,
            pack=pack,
            precision=precision,
            probe_size=min(512, len(images)),
            feed=feed,
        )
        w0 = time.perf_counter()
        trainer.fit_epoch()  # tracing and compilation, untimed
        warmup = time.perf_counter() - w0
        reset_device_peak()
        with GpuUtilisation() as gpu:
            seconds = [trainer.fit_epoch() for _ in range(size.rounds)]
        memory = device_memory()
        rate = throughput(pack * len(images), seconds)
        info = benchmark_info(
            spec,
            size.image_size,
            size.batch_size,
            label=f"{label} pack of {pack}",
            precision=precision,
            pack=pack,
            feed=trainer.feed,
            check_size=size.name,
            images_per_model=len(images),
            warmup_seconds=warmup,
            images_per_second_per_model=rate.images_per_second.value / pack,
            per_model=parameters(trainer.members[0].model),
            device_memory_peak_bytes=(memory or {}).get("peak"),
            device_memory_current_bytes=(memory or {}).get("current"),
            device_memory_source=(memory or {}).get("source"),
            device_memory_resettable=(memory or {}).get("resettable"),
            measure="PackTrainer.fit_epoch: every member one epoch (model-images counted)",
            **rate.to_info(),
            **gpu.to_info(),
        )
        self.benchmarks.append(
            bench_entry(
                name.replace(" ", "_"),
                f"device check: pack epochs of {len(images)} images {size.image_size}px batch {size.batch_size}",
                seconds,
                info,
            )
        )
        del trainer
        _release()
        result = {
            "label": label,
            "precision": precision,
            "pack": pack,
            "feed": info["feed"],
            "images_per_second": rate.images_per_second.value,
            "images_per_second_per_model": info["images_per_second_per_model"],
            "warmup_seconds": warmup,
            "round_seconds": seconds,
            "device_memory_peak_bytes": info["device_memory_peak_bytes"],
            "gpu_utilisation": info["gpu_utilisation"],
            "gpu_utilisation_note": info["gpu_utilisation_note"],
            "gpu_memory_used_max_mib": info["gpu_memory_used_max_mib"],
            "step_seconds": time.monotonic() - t0,
        }
        if main:
            self.measured[f"{label} {precision} {pack}"] = result
        return result

    # ----------------------------------------------------------------- b: one epoch at the posts' count

    def epoch_step(self, spec, pack: int) -> Step:
        name = f"b one epoch of {self.size.epoch_images:,} images, VAE pack{pack}"
        return Step(name, "epoch", lambda: self._epoch(spec, pack), lambda: self._epoch_estimate(pack))

    def _rate_per_model(self, pack: int) -> tuple[float, float] | None:
        """(model-images/s per model, warm-up seconds) of the nearest measured VAE f32 pack."""
        vae = [r for k, r in self.measured.items() if k.startswith("VAE float32")]
        if not vae:
            return None
        best = min(vae, key=lambda r: abs(r["pack"] - pack))
        return best["images_per_second_per_model"], best["warmup_seconds"]

    def _epoch_estimate(self, pack: int) -> float:
        known = self._rate_per_model(pack)
        if known is None:
            return 4 * self.size.first_estimate_s
        per_model, warmup = known
        return 1.3 * (2 * warmup + 2 * self.size.epoch_images / per_model) + 15

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
        return setup + 1.3 * models * scale.train.epochs * scale.data.n_train / per_model

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
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(self.hypotheses.parent))
            code, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
        except subprocess.TimeoutExpired as e:
            code, tail = "killed at the budget", str(e.stdout or "")[-1500:]
        runs = sorted(
            p
            for p in (set(report.iterdir()) if report.is_dir() else set()) - before
            if p.is_dir() and not p.is_symlink()
        )
        results = runs[-1] / "results.json" if runs else None
        return {
            "claim": name,
            "exit": code,
            "report": str(runs[-1].relative_to(self.out)) if runs else None,
            "verdicts": claim_verdicts(results) if results and results.is_file() else {},
            "output_tail": tail,
        }


def plan(check: DeviceCheck) -> list[Step]:
    """The steps in order of value (see the module docstring)."""
    from vaebench.config import SCALES

    size = check.size
    specs = model_specs(size)
    vae = specs["VAE"]
    others = [k for k in specs if k != "VAE"]
    precisions = size.precisions
    steps = [check.pack_step("VAE", vae, p, k) for p in precisions for k in size.packs]
    steps += [check.pack_step(label, specs[label], p, 1) for label in others for p in precisions]
    host_pack = size.packs[min(2, len(size.packs) - 1)]
    steps.append(check.pack_step("VAE", vae, "float32", host_pack, feed="host"))
    steps.append(check.epoch_step(vae, SCALES["full"].pack if size.name == "posts" else 2))
    rest = [check.pack_step(label, specs[label], p, k) for label in others for p in precisions for k in size.rest_packs]
    seeds = len(SCALES[size.claim_scale].seeds)
    tiny = size.name == "tiny"
    claims = []
    for name, module, select, models in CLAIMS:
        if check.claims is None and (not tiny or name in TINY_CLAIMS) or name in (check.claims or ()):
            claims.append(
                check.claim_step(name, module, TINY_CLAIMS.get(name, select) if tiny else select, models(seeds))
            )
    # a claim without training (C5) is worth more than the larger packs of AE and VAE + Dense
    first = [c for c in claims if c.name.startswith("c claim C5")]
    return steps + first + rest + [c for c in claims if c not in first]


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


def main(
    out: str, budget_s: float, size: str = "posts", store: str | None = None, claims: tuple[str, ...] | None = None
) -> int:
    """``vaebench device-check``: 0 when the check ran (a failed step is in the summary) or
    when ``size='posts'`` finds no GPU (one line says so)."""
    require(size in SIZES, f"size={size!r} is not a device-check size; use one of {SIZE_NAMES}", SpecError)
    require(budget_s > 0, f"--budget-s {budget_s} must be > 0 (seconds)", SpecError)
    known = {c[0] for c in CLAIMS}
    require(claims is None or set(claims) <= known, f"claims={claims} must be among {sorted(known)}", SpecError)
    from vaebench import backend

    if size == "posts" and not backend.accelerator_visible():
        print(
            f"[device-check] no GPU is visible to the {backend.name()} backend ({backend.device()}): the posts-size "
            "check needs one; --size tiny runs the same steps small on this CPU",
            flush=True,
        )
        return 0
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
