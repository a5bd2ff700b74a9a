"""What a member needs, besides its weights, to go on training exactly where it stopped
(:func:`capture`, :func:`restore`): the optimizer's step count and its per-weight slots
(Adam's first and second moments of each of the member's trainable weights) and the
member's variables that are not weights (the states of its seeded random generators: the
VAE's epsilon stream). With them, and the weights, epoch ``k + 1`` of a resumed member is
the epoch ``k + 1`` it would have trained without the pause: nothing else carries over
from one epoch to the next (the image order of an epoch is a function of the seed and the
epoch alone, :func:`vaebench.train.feeds.epoch_order`; the learning rate is constant; the
loss trackers restart every epoch)."""
from __future__ import annotations

import keras
import numpy as np

from vaebench.errors import TrainingError, require

#: the optimizer's per-weight slots that a resumed member needs (Adam's moments)
SLOTS = ("momentums", "velocities")


def extra_variables(model: keras.Model) -> list:
    """``model``'s variables that are not weights (its seed generators' states), in a fixed order."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _slots(optimizer) -> dict[str, list]:
    slots = {name: getattr(optimizer, f"_{name}", None) for name in SLOTS}
    require(all(isinstance(v, list) for v in slots.values()) and hasattr(optimizer, "_get_variable_index"),
            f"the optimizer {type(optimizer).__name__} keeps no Adam moments where Keras {keras.__version__} "
            "keeps them; training cannot be resumed with it (train from the start: remove the shorter entry)",
            TrainingError)
    return slots


def capture(optimizer, model: keras.Model, epoch: int) -> dict[str, np.ndarray]:
    """The training state of member ``model`` of a pack stepped by ``optimizer``, after ``epoch``
    epochs: plain arrays (``epoch``, ``iterations``, ``momentums/<i>``, ``velocities/<i>`` per
    trainable weight ``i``, ``extra/<j>`` per :func:`extra_variables`)."""
    out = {"epoch": np.asarray(epoch, np.int64),
           "iterations": np.asarray(keras.ops.convert_to_numpy(optimizer.iterations))}
    if optimizer.built:
        for name, slot in _slots(optimizer).items():
            for i, v in enumerate(model.trainable_variables):
                out[f"{name}/{i}"] = np.asarray(keras.ops.convert_to_numpy(slot[optimizer._get_variable_index(v)]))
    for j, v in enumerate(extra_variables(model)):
        out[f"extra/{j}"] = np.asarray(keras.ops.convert_to_numpy(v))
    return out


def restore(optimizer, model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Put ``state`` (:func:`capture`) back into ``model`` and its pack's built ``optimizer``
    (the weights are loaded separately). The step count is the pack's: every member resumed
    into one pack must have taken as many steps."""
    require(optimizer.built, "build the pack's optimizer (optimizer.build(pack.trainable_variables)) before "
            "restoring a member's training state", TrainingError)
    steps = int(state["iterations"])
    now = int(keras.ops.convert_to_numpy(optimizer.iterations))
    require(now in (0, steps), f"a member resumed after {steps} optimizer steps joins a pack at {now} steps; "
            "resume members of one pack from the same epoch", TrainingError)
    optimizer.iterations.assign(steps)
    for name, slot in _slots(optimizer).items():
        for i, v in enumerate(model.trainable_variables):
            key = f"{name}/{i}"
            require(key in state, f"the training state holds no {key}: it was saved without the optimizer's "
                    "moments (a snapshot); resume from an entry that holds them", TrainingError)
            slot[optimizer._get_variable_index(v)].assign(state[key])
    extra = extra_variables(model)
    require(sum(k.startswith("extra/") for k in state) == len(extra),
            f"the training state holds {sum(k.startswith('extra/') for k in state)} generator states, the model "
            f"{len(extra)}: saved by another model", TrainingError)
    for j, v in enumerate(extra):
        v.assign(state[f"extra/{j}"])
