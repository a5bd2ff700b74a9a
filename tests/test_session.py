"""Session.models: requests in, trained models out in the same order, the missing ones in packs."""
import dataclasses

import pytest

from vaebench.config import SCALES, DataSpec
from vaebench.errors import SpecError
from vaebench.session import Session


@pytest.fixture
def session(tmp_path, tiny_train):
    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(image_size=16, n_train=64, n_test=32),
                                train=tiny_train, n_analysis=64, pack=2)
    return Session(scale, tmp_path, progress=False)


def test_models_train_in_packs_and_keep_the_order(session, tiny_ae, tiny_vae, tiny_train):
    mixed = dataclasses.replace(tiny_train, seed=1, precision="mixed_bfloat16")
    longer = dataclasses.replace(tiny_train, epochs=3)
    requests = [(tiny_vae, 0), (tiny_ae, 0), (tiny_ae, 1), (tiny_vae, 1, mixed), (tiny_ae, 0, longer), (tiny_vae, 0)]
    got = session.models(requests)
    assert [(t.entry.model_spec, t.entry.train.seed) for t in got] == [(r[0], r[1]) for r in requests]
    assert got[0] is got[5]                                  # one request, one model
    assert got[3].entry.train.precision == "mixed_bfloat16" and got[4].entry.train.epochs == 3
    # 4 models share their training settings: two packs of 2; the 3-epoch model trains alone
    assert sorted(t.entry.meta["pack"] for t in got[:5]) == [1, 2, 2, 2, 2]
    assert got[4].entry.meta["pack"] == 1
    trains = [k for k in session.timings if k.startswith("train ")]
    assert len(trains) == 3
    again = Session(session.scale, session.store, progress=False).models(requests)  # all from the store now
    assert [t.entry.name for t in again] == [t.entry.name for t in got]


def test_bad_request(session, tiny_ae):
    with pytest.raises(SpecError, match="must be \\(model_spec, seed\\)"):
        session.models([tiny_ae])
