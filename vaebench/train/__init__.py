"""Training: seeded packs of models on one optimizer. By job: how the images reach the step
(:mod:`.feeds`), the packed Keras model (:mod:`.pack`), the per-model records and results
(:mod:`.records`) and the trainer that runs epochs and keeps the records (:mod:`.trainer`).
The public names are re-exported here (``from vaebench.train import train, Job``).

Layer 6: imports models, latent (the probe radius), data, config and the foundation."""
from vaebench.train.feeds import (
    DEVICE_STEPS_PER_EXECUTION,
    FEED_ENV,
    FEEDS,
    PackBatches,
    batch_indices,
    check_feed,
    default_feed,
    epoch_order,
    index_dataset,
    pack_dataset,
    steps_per_execution,
)
from vaebench.train.pack import Pack
from vaebench.train.records import Job, Start, TrainResult, describe
from vaebench.train.trainer import PackTrainer, train, train_many

__all__ = [
    "DEVICE_STEPS_PER_EXECUTION", "FEED_ENV", "FEEDS", "Job", "Pack", "PackBatches", "PackTrainer", "Start",
    "TrainResult",
    "batch_indices", "check_feed", "default_feed", "describe", "epoch_order", "index_dataset", "pack_dataset",
    "steps_per_execution", "train", "train_many",
]
