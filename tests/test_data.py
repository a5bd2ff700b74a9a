"""vaebench.data.load: the synthetic-faces generator, the uint8 cache, ImageSet, and the readers."""
from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vaebench.config import DataSpec
from vaebench.data import (
    FACTOR_NAMES,
    DataWarning,
    ImageSet,
    load_dataset,
    read_celeba,
    read_image_folder,
    render_faces,
    synthetic_faces,
    synthetic_factors,
)
from vaebench.data import load as D
from vaebench.data import readers as R
from vaebench.data import synthetic as S
from vaebench.errors import DataError, SpecError

# ---------------------------------------------------------------------------- generator


def test_factor_names_shapes_ranges_and_dtypes():
    assert len(FACTOR_NAMES) >= 8 and len(set(FACTOR_NAMES)) == len(FACTOR_NAMES)
    for size in (32, 64, 96):
        images, factors = synthetic_faces(5, image_size=size, seed=1)
        assert images.shape == (5, size, size, 3) and images.dtype == np.uint8
        assert factors.shape == (5, len(FACTOR_NAMES)) and factors.dtype == np.float32
        assert factors.min() >= 0.0 and factors.max() <= 1.0
        assert images.min() < 64 and images.max() > 192   # uses the range, not a flat field
    big = synthetic_factors(4000, seed=0)
    assert big.min() >= 0 and big.max() < 1
    assert np.allclose(big.mean(0), 0.5, atol=0.03)        # roughly uniform
    assert np.abs(np.corrcoef(big.T) - np.eye(big.shape[1])).max() < 0.08   # independent


def test_determinism_by_index_example():
    a = synthetic_faces(10, seed=3, start=5)
    b = synthetic_faces(1, seed=3, start=7)
    assert np.array_equal(a[0][2], b[0][0])
    assert np.array_equal(a[1][2], b[1][0])
    again = synthetic_faces(10, seed=3, start=5)
    assert np.array_equal(a[0], again[0]) and np.array_equal(a[1], again[1])


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**40), start=st.integers(0, 2**40), n=st.integers(1, 40),
       offset=st.integers(0, 39))
def test_determinism_by_index_property(seed, start, n, offset):
    offset = offset % n
    images, factors = synthetic_faces(n, image_size=16, seed=seed, start=start)
    one_image, one_factor = synthetic_faces(1, image_size=16, seed=seed, start=start + offset)
    assert np.array_equal(images[offset], one_image[0])
    assert np.array_equal(factors[offset], one_factor[0])


def test_seeds_and_indices_differ():
    a, fa = synthetic_faces(8, image_size=32, seed=0)
    b, fb = synthetic_faces(8, image_size=32, seed=1)
    assert not np.array_equal(fa, fb)
    assert all(not np.array_equal(a[i], b[i]) for i in range(8))
    assert len({img.tobytes() for img in a}) == 8


def test_same_factors_same_picture_at_every_size():
    factors = synthetic_factors(20, seed=4)
    small = render_faces(factors, 32).astype(np.float64)
    for size in (64, 96):
        k = size // 32
        pooled = render_faces(factors, size).astype(np.float64)
        pooled = pooled.reshape(20, 32, k, 32, k, 3).mean(axis=(2, 4))
        assert np.abs(pooled - small).mean(axis=(1, 2, 3)).max() < 3.0   # of 255


def test_render_faces_is_synthetic_faces():
    images, factors = synthetic_faces(6, image_size=32, seed=9, start=100)
    assert np.array_equal(render_faces(factors, 32), images)


@pytest.mark.parametrize("n, size, seed, start", [(70, 96, 5, 123), (7, 16, 0, 0),
                                                  (40, 32, 3, D.TEST_START), (0, 32, 1, 0)])
def test_synthetic_faces_equals_the_cached_generator_path(n, size, seed, start):
    # synthetic_faces renders synthetic_factors with render_faces; the cached data sets
    # fill their arrays with _generate_into: both must give the same bytes
    images, factors = synthetic_faces(n, image_size=size, seed=seed, start=start)
    out = np.empty((n, size, size, 3), np.uint8)
    S._generate_into(out, seed, start)
    assert images.dtype == out.dtype and images.shape == out.shape
    assert images.tobytes() == out.tobytes()
    assert factors.tobytes() == synthetic_factors(n, seed, start).tobytes()


@pytest.mark.parametrize("size", [32, 96])
def test_every_factor_changes_the_image(size):
    base = np.full((1, len(FACTOR_NAMES)), 0.5, np.float32)
    for j, name in enumerate(FACTOR_NAMES):
        low, high = base.copy(), base.copy()
        low[0, j], high[0, j] = 0.1, 0.9
        diff = np.abs(render_faces(low, size).astype(int) - render_faces(high, size))
        assert diff.max() >= 20 and (diff.max(axis=-1) > 0).sum() >= 10, name


def test_images_are_continuous_in_the_factors():
    base = synthetic_factors(4, seed=2)
    for j in range(len(FACTOR_NAMES)):
        nudged = base.copy()
        nudged[:, j] = np.clip(nudged[:, j] + 1e-3, 0, 1)
        diff = np.abs(render_faces(base, 64).astype(int) - render_faces(nudged, 64))
        assert diff.max() <= 6, FACTOR_NAMES[j]   # anti-aliased: no pixel jumps


def test_drawing_windows_equal_the_full_frame():
    rng = np.random.default_rng(0)
    geometry = [FACTOR_NAMES.index(n) for n in
                ("head_x", "head_y", "head_size", "face_aspect", "hair_length",
                 "eye_spacing", "eye_size", "mouth_curve")]
    rows = []
    for corner in itertools.product([0.0, 1.0 - 2**-24], repeat=len(geometry)):
        row = rng.random(len(FACTOR_NAMES))
        row[geometry] = corner
        rows.append(row)
    factors = np.array(rows + list(rng.random((64, len(FACTOR_NAMES)))), np.float32)
    for size in (16, 48, 96):
        windowed = np.empty((len(factors), size, size, 3), np.uint8)
        full = np.empty_like(windowed)
        S._render_chunk(factors, size, windowed)
        S._render_chunk(factors, size, full, full_frame=True)
        assert np.array_equal(windowed, full), size


@pytest.mark.parametrize("bad", [100, 0, -16, 8, 24.0, "96", True])
def test_image_size_must_be_a_positive_multiple_of_16(bad):
    with pytest.raises(SpecError, match="image_size"):
        synthetic_faces(1, image_size=bad)


def test_image_size_message_names_the_value():
    with pytest.raises(SpecError, match=r"image_size=100 must be divisible by 16"):
        synthetic_faces(2, image_size=100)
    with pytest.raises(SpecError, match="seed=-1"):
        synthetic_faces(1, seed=-1)
    with pytest.raises(SpecError, match="factors has shape"):
        render_faces(np.zeros((2, 3)), 32)


# ---------------------------------------------------------------------------- ImageSet


def _set(n=10, size=16):
    images, factors = synthetic_faces(n, image_size=size, seed=5)
    return ImageSet(images, factors, "t")


def test_batches_cover_every_image_once_and_are_reproducible():
    s = _set(10)
    plain = list(s.batches(4))
    assert [len(b) for b in plain] == [4, 4, 2]
    assert plain[0].dtype == np.float32 and 0.0 <= plain[0].min() and plain[0].max() <= 1.0
    assert np.array_equal(np.concatenate(plain), s.images / np.float32(255))

    def keys(batches):
        return [b.tobytes() for batch in batches for b in batch]

    shuffled = list(s.batches(3, shuffle=True, seed=7))
    assert sorted(keys(shuffled)) == sorted(keys(plain))           # each image exactly once
    assert keys(shuffled) != keys(plain)
    again = list(s.batches(3, shuffle=True, seed=7))
    assert all(np.array_equal(a, b) for a, b in zip(shuffled, again))
    assert keys(s.batches(3, shuffle=True, seed=8)) != keys(shuffled)


def test_as_float_keeps_the_order_given():
    s = _set(6)
    picked = s.as_float([4, 1, 4])
    assert np.array_equal(picked, s.images[[4, 1, 4]].astype(np.float32) / 255)
    assert s.image_size == 16 and len(s) == 6
    sub = s.subset(slice(2, 5))
    assert len(sub) == 3 and np.array_equal(sub.factors, s.factors[2:5])


def test_imageset_rejects_bad_arrays():
    with pytest.raises(DataError, match="uint8"):
        ImageSet(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(DataError, match="uint8"):
        ImageSet(np.zeros((2, 16, 8, 3), np.uint8))
    with pytest.raises(DataError, match="factors"):
        ImageSet(np.zeros((2, 16, 16, 3), np.uint8), np.zeros((3, 4)))
    with pytest.raises(SpecError, match="batch_size"):
        next(_set(2).batches(0))


# ---------------------------------------------------------------------------- load_dataset + cache

SMALL = DataSpec(image_size=32, n_train=40, n_test=12, seed=3)


def _entries(cache):
    return sorted(p.name for p in Path(cache).glob("*.npy"))


def test_synthetic_train_and_test_are_the_right_indices():
    train, test = load_dataset(SMALL, progress=False)
    assert np.array_equal(train.images, synthetic_faces(40, 32, seed=3)[0])
    assert np.array_equal(test.images, synthetic_faces(12, 32, seed=3, start=D.TEST_START)[0])
    assert np.array_equal(train.factors, synthetic_factors(40, seed=3))
    bigger_train, same_test = load_dataset(DataSpec(image_size=32, n_train=60, n_test=12, seed=3),
                                           progress=False)
    assert np.array_equal(same_test.images, test.images)       # test set ignores n_train
    assert np.array_equal(bigger_train.images[:40], train.images)


def test_cache_is_reused_without_regenerating(tmp_path, monkeypatch):
    train, test = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert isinstance(train.images, np.memmap) and not train.images.flags.writeable
    assert len(_entries(tmp_path)) == 2

    def boom(*args, **kwargs):
        raise AssertionError("regenerated instead of using the cache")

    monkeypatch.setattr(S, "_render_chunk", boom)
    train2, test2 = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert isinstance(train2.images, np.memmap)
    assert np.array_equal(train2.images, train.images) and np.array_equal(test2.images, test.images)
    assert np.array_equal(train2.factors, train.factors)
    # a smaller request is served by the prefix of the bigger entry
    smaller, _ = load_dataset(DataSpec(image_size=32, n_train=25, n_test=12, seed=3),
                              cache_dir=tmp_path, progress=False)
    assert np.array_equal(smaller.images, train.images[:25])
    assert len(_entries(tmp_path)) == 2


def test_stray_temporary_files_are_ignored(tmp_path):
    train, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    entry = Path(train.images.filename)
    for p in tmp_path.iterdir():
        p.unlink()
    # what a run killed while writing leaves behind: half-written temporaries
    (tmp_path / f".{entry.name[:-4].rsplit('-n', 1)[0]}.abc123.tmp").write_bytes(b"\x93NUMPY junk")
    (tmp_path / (entry.name + ".tmp")).write_bytes(entry.name.encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)      # nothing looks damaged
        again, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert np.array_equal(again.images, synthetic_faces(40, 32, seed=3)[0])
    assert (tmp_path / (entry.name + ".tmp")).exists()   # left alone, never loaded


def test_failed_build_leaves_no_entry(tmp_path, monkeypatch):
    calls = []

    def fail_second_chunk(factors, size, out, full_frame=False):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        real(factors, size, out)

    real = S._render_chunk
    monkeypatch.setattr(S, "_CHUNK_PIXELS", 16 * 32 * 32)
    monkeypatch.setattr(S, "_render_chunk", fail_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    # no entry, and its temporary was removed (the entry's lock file stays: removing a lock is racy)
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == []


@pytest.mark.parametrize("damage", ["truncate", "flip_bytes", "drop_metadata", "garbage"])
def test_damaged_cache_is_detected_and_rebuilt(tmp_path, damage):
    train, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    entry = Path(train.images.filename)
    expected = np.array(train.images)
    del train
    size = entry.stat().st_size
    if damage == "truncate":
        with open(entry, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "flip_bytes":
        with open(entry, "r+b") as f:
            f.seek(size - 5000)
            f.write(b"\xff" * 64)
    elif damage == "drop_metadata":
        entry.with_suffix(".json").unlink()
    else:
        entry.write_bytes(b"not a numpy file")
    with pytest.warns(DataWarning, match="damaged"):
        again, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert np.array_equal(again.images, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load_dataset(SMALL, cache_dir=tmp_path, progress=False)   # rebuilt entry is fine


def test_progress_goes_to_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(D, "_PROGRESS_MIN", 10)
    load_dataset(SMALL, cache_dir=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "images/s" in err and "40/40" in err
    load_dataset(DataSpec(image_size=32, n_train=30, n_test=12, seed=4), progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------- readers


def _write(path: Path, size=(40, 48), mode="RGB", colour=(200, 100, 50), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format=fmt)
    return path


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match=r"does not exist"):
        read_image_folder(tmp_path / "nope", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty.*no image files.*\.jpg"):
        read_image_folder(tmp_path / "empty", 32)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no image files"):
        read_image_folder(tmp_path / "text", 32)
    (tmp_path / "afile.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="not a folder"):
        read_image_folder(tmp_path / "afile.jpg", 32)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataSpec(source="folder", path=str(tmp_path / "nope"), image_size=32))


def test_bad_files_are_counted_skips(tmp_path):
    folder = tmp_path / "imgs"
    _write(folder / "a_good.jpg")
    _write(folder / "b_grey.png", mode="L")
    _write(folder / "c_cmyk.jpg", mode="CMYK")
    _write(folder / "d_rgba.png", mode="RGBA")
    _write(folder / "e_palette.png", mode="P")
    _write(folder / "f_small.jpg", size=(20, 30))
    (folder / "g_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    good = _write(folder / "h_truncated.jpg", size=(64, 64)).read_bytes()
    (folder / "h_truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "notes.txt").write_text("ignored")
    with pytest.warns(DataWarning, match=r"skipped 3 of 8"):
        s = read_image_folder(folder, 32, progress=False)
    assert s.images.shape == (5, 32, 32, 3) and s.images.dtype == np.uint8
    assert s.names == ["a_good.jpg", "b_grey.png", "c_cmyk.jpg", "d_rgba.png", "e_palette.png"]
    reasons = dict(s.skipped)
    assert reasons["f_small.jpg"] == "too small (20x30 < 32)"
    assert reasons["g_corrupt.jpg"].startswith("unreadable")
    assert reasons["h_truncated.jpg"].startswith("unreadable")
    grey = s.images[1].astype(int)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    note = " ".join(s.notes)
    assert "greyscale (L)" in note and "CMYK" in note and "RGBA" in note and "palette" in note
    assert np.abs(s.images[0].astype(int) - (200, 100, 50)).max() <= 3


def test_every_file_bad_is_an_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    _write(tmp_path / "y.png", size=(8, 8))
    with pytest.raises(DataError, match=r"none of the 2 image files.*too small \(8x8 < 32\)"):
        read_image_folder(tmp_path, 32, progress=False)


def test_centre_square_crop(tmp_path):
    pixels = np.zeros((48, 32, 3), np.uint8)       # 32 wide, 48 high: rows 8..40 kept
    pixels[:8] = (255, 0, 0)
    pixels[8:40] = (0, 255, 0)
    pixels[40:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "tall.png")
    wide = np.zeros((32, 64, 3), np.uint8)         # 64 wide: columns 16..48 kept
    wide[:, 16:48] = (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    s = read_image_folder(tmp_path, 32, progress=False)
    assert np.all(s.images[0] == (0, 255, 0))
    assert np.all(s.images[1] == (0, 0, 255))
    s16 = read_image_folder(tmp_path, 16, progress=False)   # downscaled, still only the square
    assert np.all(s16.images[0] == (0, 255, 0))


def test_folder_cache_skips_decoding_and_keeps_skips(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    for i in range(5):
        _write(folder / f"{i}.png", colour=(i * 40, 0, 0))
    (folder / "9_bad.jpg").write_bytes(b"nope")
    cache = tmp_path / "cache"
    with pytest.warns(DataWarning):
        first = read_image_folder(folder, 32, cache_dir=cache, progress=False)
    monkeypatch.setattr(R, "_decode", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    with pytest.warns(DataWarning, match="skipped 1 of 6"):
        second = read_image_folder(folder, 32, cache_dir=cache, progress=False)
    assert isinstance(second.images, np.memmap)
    assert np.array_equal(first.images, second.images) and second.skipped == first.skipped
    assert second.names == first.names
    limited = read_image_folder(folder, 32, limit=3, cache_dir=cache, progress=False)
    assert np.array_equal(limited.images, first.images[:3]) and limited.skipped == []


def test_folder_source_splits_off_the_last_images(tmp_path):
    for i in range(12):
        _write(tmp_path / f"img{i:02d}.jpg", colour=(i * 20, 50, 50))
    train, test = load_dataset(DataSpec(source="folder", path=str(tmp_path), image_size=32,
                                        n_train=None, n_test=3), progress=False)
    assert test.names == ["img09.jpg", "img10.jpg", "img11.jpg"]
    assert train.names == [f"img{i:02d}.jpg" for i in range(9)]
    # fewer images than n_train + n_test: the folder gives what it holds, at most a fifth
    # (TEST_SHARE) of it to the test set
    with pytest.warns(DataWarning, match="fewer than n_train=20 \\+ n_test=3: training on the first 10, "
                                         "testing on the last 2"):
        train, test = load_dataset(DataSpec(source="folder", path=str(tmp_path), image_size=32,
                                            n_train=20, n_test=3), progress=False)
    assert len(train) == 10 and test.names == ["img10.jpg", "img11.jpg"]
    with pytest.warns(DataWarning, match="first 10, testing on the last 2"):
        train, test = load_dataset(DataSpec(source="folder", path=str(tmp_path), image_size=32, n_test=12),
                                   progress=False)
    with pytest.warns(DataWarning, match="first 9, testing on the last 2"):   # n_train is an upper bound
        train, test = load_dataset(DataSpec(source="folder", path=str(tmp_path), image_size=32, n_train=9,
                                            n_test=12), progress=False)
    assert train.names == [f"img{i:02d}.jpg" for i in range(9)]
    one = tmp_path / "one"
    _write(one / "a.jpg")
    with pytest.raises(DataError, match="has 1 usable image; at least 2 are needed"):
        load_dataset(DataSpec(source="folder", path=str(one), image_size=32), progress=False)


# ---------------------------------------------------------------------------- CelebA


def _fake_celeba(root: Path, n=10, partition=True, size=(178, 218)):
    rng = np.random.default_rng(0)
    (root / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        pixels = np.zeros((size[1], size[0], 3), np.uint8)
        pixels[:] = rng.integers(0, 256, 3)
        pixels[:20] = (255, 0, 0)          # outside the crop
        pixels[198:] = (0, 0, 255)         # outside the crop
        Image.fromarray(pixels).save(root / "img_align_celeba" / f"{i:06d}.jpg", quality=95)
    if partition:
        codes = [0] * 6 + [1] * 2 + [2] * (n - 8)
        (root / "list_eval_partition.txt").write_text(
            "".join(f"{i:06d}.jpg {c}\n" for i, c in enumerate(codes, 1)))
    return root


def test_celeba_splits_from_the_partition_file(tmp_path):
    root = _fake_celeba(tmp_path / "celeba")
    train = read_celeba(root, 32, "train", progress=False)
    assert train.names == [f"{i:06d}.jpg" for i in range(1, 7)]
    assert [len(read_celeba(root, 32, s, progress=False)) for s in ("valid", "test", "all")] == [2, 2, 10]
    # the crop is rows 20..198: none of the red/blue bands shows
    assert train.images[..., 0].astype(int).std(axis=(1, 2)).max() < 8
    spec = DataSpec(source="celeba", path=str(root), image_size=32, n_train=4, n_test=2)
    tr, te = load_dataset(spec, cache_dir=tmp_path / "cache", progress=False)
    assert tr.names == [f"{i:06d}.jpg" for i in range(1, 5)]
    assert te.names == ["000009.jpg", "000010.jpg"]
    assert np.array_equal(tr.images, train.images[:4])
    tr7, _ = load_dataset(DataSpec(source="celeba", path=str(root), image_size=32, n_train=7,
                                   n_test=2), progress=False)
    assert tr7.names[-1] == "000007.jpg"      # past the train split: continues into valid


def test_celeba_without_partition_file(tmp_path):
    root = _fake_celeba(tmp_path / "celeba", partition=False)
    with pytest.warns(DataWarning, match="no list_eval_partition.txt"):
        every = read_celeba(root, 32, "train", progress=False)
    assert len(every) == 10
    with pytest.raises(DataError, match="list_eval_partition.txt"):
        read_celeba(root, 32, "test", progress=False)
    with pytest.warns(DataWarning, match="no list_eval_partition.txt"):
        tr, te = load_dataset(DataSpec(source="celeba", path=str(root), image_size=32,
                                       n_train=5, n_test=3), progress=False)
    assert te.names == ["000008.jpg", "000009.jpg", "000010.jpg"] and len(tr) == 5


def test_celeba_bad_layouts(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_celeba(tmp_path / "missing", 32)
    (tmp_path / "nolayout").mkdir()
    with pytest.raises(DataError, match="img_align_celeba"):
        read_celeba(tmp_path / "nolayout", 32)
    root = _fake_celeba(tmp_path / "celeba", n=9)
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg seven\n")
    with pytest.raises(DataError, match=r"list_eval_partition.txt:2"):
        read_celeba(root, 32, "train")
    with pytest.raises(SpecError, match="split='dev'"):
        read_celeba(root, 32, "dev")
    with pytest.raises(SpecError, match="image_size=30"):
        read_image_folder(root / "img_align_celeba", 30)


# ---------------------------------------------------------------------------- fingerprints and notes


def test_every_set_carries_the_fingerprint_of_every_image(tmp_path):
    from vaebench.data.fingerprint import images_fingerprint

    cached_train, cached_test = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    plain_train, plain_test = load_dataset(SMALL, progress=False)
    assert cached_train.fingerprint == plain_train.fingerprint == images_fingerprint(np.array(plain_train.images))
    assert cached_test.fingerprint == plain_test.fingerprint != plain_train.fingerprint
    smaller, _ = load_dataset(DataSpec(image_size=32, n_train=25, n_test=12, seed=3), cache_dir=tmp_path,
                              progress=False)
    assert smaller.fingerprint == images_fingerprint(np.array(plain_train.images[:25]))   # a prefix's own


def test_a_changed_byte_in_any_image_of_a_cache_entry_is_found(tmp_path):
    train, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    entry, expected = Path(train.images.filename), np.array(train.images)
    del train
    header = entry.stat().st_size - expected.nbytes
    with open(entry, "r+b") as f:                 # one byte of image 17 of 40
        f.seek(header + 17 * 32 * 32 * 3 + 1000)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.warns(DataWarning, match="do not match their checksum"):
        again, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert np.array_equal(again.images, expected)


def test_temporaries_of_a_dead_writer_go_at_the_next_write(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    stale = tmp_path / f".synthetic-32px-seed3-start0-abc@{host}@{dead.pid}@0011.tmp"
    live = tmp_path / f".synthetic-32px-seed3-start0-abc@{host}@{os.getppid()}@0022.tmp"
    for p in (stale, live):
        p.write_bytes(b"\x93NUMPY half written")
    load_dataset(SMALL, cache_dir=tmp_path, progress=False)        # writes two entries
    assert not stale.exists()                                      # its writer is gone: removed
    assert live.exists()                                           # a running writer's: kept


def test_celeba_notes_name_skips_conversions_and_unlisted_files(tmp_path):
    from celeba_layout import CMYK, GREY, TINY, TRUNCATED, UNLISTED, make_celeba

    root = make_celeba(tmp_path / "celeba", n=40)
    with pytest.warns(DataWarning, match="skipped 2 of 27"):       # 28 in train, one of them unlisted
        train = read_celeba(root, 32, "train", progress=False)
    assert len(train) == 25 and UNLISTED not in train.names
    reasons = dict(train.skipped)
    assert set(reasons) == {TRUNCATED, TINY}
    assert reasons[TRUNCATED].startswith("unreadable") and reasons[TINY] == "too small (20x24 < 32)"
    assert dict(train.converted) == {CMYK: "CMYK converted to RGB", GREY: "greyscale (L) converted to RGB"}
    unlisted = [n for n in train.notes if "not listed" in n]
    assert unlisted == [f"1 image files in {root / 'img_align_celeba'} are not listed in "
                        f"{root / 'list_eval_partition.txt'} and belong to no split: left out ({UNLISTED})"]
    spec = DataSpec(source="celeba", path=str(root), image_size=32, n_train=512, n_test=128)
    with pytest.warns(DataWarning, match="n=512 asked, only 29 usable images"):
        tr, te = load_dataset(spec, cache_dir=tmp_path / "cache", progress=False)
    assert (len(tr), len(te)) == (29, 8)             # train + valid (28 + 4 - 1 unlisted - 2 bad), test
    assert tr.converted == train.converted and te.converted == [] and any("not listed" in n for n in te.notes)


def test_replacing_one_image_changes_the_fingerprint(tmp_path):
    from celeba_layout import write_face

    (tmp_path / "imgs").mkdir()
    for i in range(12):
        write_face(tmp_path / "imgs" / f"{i:02d}.jpg", i)
    spec = DataSpec(source="folder", path=str(tmp_path / "imgs"), image_size=32, n_train=8, n_test=4)
    before = [s.fingerprint for s in load_dataset(spec, cache_dir=tmp_path / "cache", progress=False)]
    write_face(tmp_path / "imgs" / "03.jpg", 99)                   # new content, same name
    after = [s.fingerprint for s in load_dataset(spec, cache_dir=tmp_path / "cache", progress=False)]
    assert after[0] != before[0] and after[1] == before[1]          # image 03 is a training image
    (tmp_path / "imgs" / "03.jpg").touch()                          # touched, not changed: decoded again,
    again = [s.fingerprint for s in load_dataset(spec, cache_dir=tmp_path / "cache", progress=False)]
    assert again == after                                           # same content, same fingerprint


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
    """issue 23 item 9: a non-UTF-8 name (Latin-1 é) crashed the folder and CelebA readers."""
    import os

    from celeba_layout import make_celeba

    folder = tmp_path / "imgs"
    folder.mkdir()
    latin1 = os.fsdecode(b"caf\xe9.png")            # a lone surrogate in Python's str
    Image.new("RGB", (40, 40), (200, 10, 10)).save(folder / latin1)
    Image.new("RGB", (40, 40), (10, 200, 10)).save(folder / "plain.png")
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):   # built, then read from the cache
        images = read_image_folder(folder, 32, cache_dir=cache, progress=False)
        assert images.names == [latin1, "plain.png"] and len(images) == 2
        assert images.images[0, 0, 0].tolist() == [200, 10, 10]
    root = make_celeba(tmp_path / "celeba", n=40)
    Image.new("RGB", (178, 218), (0, 0, 0)).save(root / "img_align_celeba" / os.fsdecode(b"\xff\xfe.jpg"))
    with pytest.warns(DataWarning):
        train = read_celeba(root, 32, "train", cache_dir=tmp_path / "cache", progress=False)
    assert len(train) == 25
