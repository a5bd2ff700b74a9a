"""The readers of image files: any folder of images, and CelebA in its official layout.

Every file is decoded the same way (:func:`_decode`): EXIF orientation applied, the
centred square cut out and resized with PIL's antialiased bilinear filter; greyscale,
CMYK, palette and alpha images converted to RGB (counted); corrupt and too-small files
skipped (counted, with the reason). The decoded uint8 array goes to the decoded-image
cache (:mod:`vaebench.data.cache`), keyed by the files' names, sizes and times, so a
changed, added or removed file means a new decode (and a new content fingerprint).

Public API: ``IMAGE_EXTENSIONS``, ``CELEBA_SPLITS``, ``read_image_folder``, ``read_celeba``.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from vaebench.config import check_count as _check_count
from vaebench.config import check_image_size as _check_size
from vaebench.config import spec_hash
from vaebench.data.cache import CACHE_FORMAT, DataWarning, cached
from vaebench.data.imageset import ImageSet
from vaebench.errors import DataError, SpecError, require
from vaebench.progress import Progress

_DECODE_PROGRESS_MIN = 2_000   # reads of at least this many files report progress

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
READER_VERSION = 2
_MODE_NAMES = {"L": "greyscale (L)", "1": "black-and-white (1)", "P": "palette (P)",
               "CMYK": "CMYK", "RGBA": "RGBA (alpha over white)", "LA": "greyscale+alpha (LA)",
               "PA": "palette+alpha (PA)", "I;16": "16-bit greyscale", "I": "32-bit greyscale",
               "YCbCr": "YCbCr"}


def _image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively; hidden files and folders left out),
    sorted by their path relative to ``folder``."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(root) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _to_rgb(im: Any) -> Any:
    """RGB version of a PIL image of any mode: greyscale/CMYK/palette/YCbCr by PIL's
    conversion, alpha composited over white, 16/32-bit greyscale scaled by 1/257."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(a / 257.0 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _decode(path: Path, size: int) -> tuple[np.ndarray | None, str | None, str | None]:
    """Decode one file to uint8 (size, size, 3): ``(pixels, None, mode)`` or
    ``(None, reason, None)``. Never raises for a bad file.

    EXIF orientation is applied; then the centred square of side s = min(W, H) (left
    ``(W - s) // 2``, top ``(H - s) // 2``; for CelebA's 178x218 that is rows 20..198)
    is cut out and resized to ``size`` with PIL's bilinear filter, which for reductions
    averages over the whole footprint (antialiased; no pixel outside the square is used).
    Files smaller than ``size`` on their short side are skipped (``too small (WxH < S)``),
    never upscaled.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            w, h = im.size
            if min(w, h) < size:
                return None, f"too small ({w}x{h} < {size})", None
            mode = im.mode
            im = ImageOps.exif_transpose(im)
            w, h = im.size
            if im.mode != "RGB":
                im = _to_rgb(im)
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            im = im.crop((left, top, left + s, top + s))   # no pixel outside it is used
            if s != size:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.uint8)
        if pixels.shape != (size, size, 3):
            return None, f"decoded to shape {pixels.shape}, expected ({size}, {size}, 3)", None
        return pixels, None, mode
    except Exception as exc:  # noqa: BLE001 - every failure of one file is a counted skip
        return None, f"unreadable ({type(exc).__name__}: {exc})", None


def _folder_key(kind: str, folder: Path, files: Sequence[Path], size: int) -> str:
    """A key that changes when any file is added, removed, resized or written: its name,
    size, modification time and status-change time (``st_ctime``, which no tool sets
    back, so even content written with the old size and modification time restored
    counts as a change; a spurious change only means a new decode, and the same content
    gives the same fingerprint)."""
    h = hashlib.sha256(os.fsencode(folder.resolve()))   # the file system's bytes: any name, UTF-8 or not
    for p in files:
        rel = os.fsencode(p.relative_to(folder).as_posix())
        try:
            st = p.stat()
            h.update(rel + f"\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
        except OSError:
            h.update(rel + b"\0missing\n")
    return spec_hash({"source": kind, "reader": READER_VERSION, "format": CACHE_FORMAT, "image_size": size,
                      "files": h.hexdigest()})


def _decode_into(out: np.ndarray, files: Sequence[Path], folder: Path, size: int,
                 label: str | None) -> tuple[int, dict]:
    """Decode ``files`` in order into the rows of ``out`` until it is full (the cache's
    ``build``): how many rows were filled, and the names used, skipped and converted."""
    report = Progress(label, len(out)) if label else None
    filled, used, skipped, converted = 0, [], [], []
    pos, block = 0, 256
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        while filled < len(out) and pos < len(files):
            chunk = files[pos:pos + min(block, len(out) - filled + 16)]
            for path, (pixels, reason, mode) in zip(chunk, pool.map(lambda p: _decode(p, size), chunk)):
                pos += 1
                rel = path.relative_to(folder).as_posix()
                if pixels is None:
                    skipped.append((rel, reason, pos - 1))
                    continue
                out[filled] = pixels
                used.append((rel, pos - 1))
                filled += 1
                if mode != "RGB":
                    converted.append([rel, mode, pos - 1])
                if filled == len(out):
                    break
            if report:
                report.update(filled)
    if filled == 0:
        examples = "; ".join(f"{p}: {r}" for p, r, _ in skipped[:3])
        raise DataError(f"none of the {len(files)} image files in {folder} is usable "
                        f"(e.g. {examples}); expected readable RGB/greyscale images at least "
                        f"{size}x{size}")
    return filled, {"complete": pos >= len(files), "names": [r for r, _ in used], "file_index": [i for _, i in used],
                    "skipped": [[p, r, i] for p, r, i in skipped], "converted": converted}


def _skips_and_notes(meta: dict, n: int, extra_notes: Sequence[str]) -> tuple[list, list, list[str]]:
    """The skipped and converted files among the first ``n`` images of an entry, and the notes."""
    last = meta["file_index"][n - 1] if n else -1
    if n < len(meta["file_index"]):   # a prefix of a bigger entry: only its files count
        skipped = [(p, r) for p, r, i in meta["skipped"] if i < last]
    else:
        skipped = [(p, r) for p, r, _ in meta["skipped"]]
    notes = list(extra_notes)
    modes: dict[str, int] = {}
    converted = [(rel, f"{_MODE_NAMES.get(mode, mode)} converted to RGB") for rel, mode, i in meta["converted"]
                 if i <= last]
    for _, mode, i in meta["converted"]:
        if i <= last:
            modes[mode] = modes.get(mode, 0) + 1
    if modes:
        parts = ", ".join(f"{k} {_MODE_NAMES.get(m, m)}" for m, k in sorted(modes.items()))
        notes.append(f"converted to RGB: {parts} image(s)")
    return skipped, converted, notes


def _read_files(files: Sequence[Path], folder: Path, size: int, limit: int | None,
                cache_dir: str | Path | None, progress: bool, name: str, kind: str,
                extra_notes: Sequence[str] = (), stacklevel: int = 3) -> ImageSet:
    """Decode ``files`` in order until ``limit`` images are usable (all when None) into an
    :class:`ImageSet`, cached under ``cache_dir``; bad files are counted skips (one
    DataWarning, attributed ``stacklevel`` frames up)."""
    size = _check_size(size)
    if limit is not None:
        limit = _check_count("limit", limit, allow_zero=False)
    key = _folder_key(kind, folder, files, size)
    stem = f"{kind}-{name.replace('/', '_')}-{size}px-{key}"
    max_count = len(files) if limit is None else min(limit, len(files))

    def build(out: np.ndarray) -> tuple[int, dict]:
        label = f"{name} ({folder})" if progress and len(out) >= _DECODE_PROGRESS_MIN else None
        return _decode_into(out, files, folder, size, label)

    images, meta = cached(cache_dir, stem, key, limit, max_count, size, build)
    n = len(images)
    skipped, converted, notes = _skips_and_notes(meta, n, extra_notes)
    if skipped:
        reasons: dict[str, int] = {}
        for _, r in skipped:
            r0 = r.split(" (")[0]
            reasons[r0] = reasons.get(r0, 0) + 1
        summary = ", ".join(f"{k} {r}" for r, k in sorted(reasons.items()))
        warnings.warn(f"{folder}: skipped {len(skipped)} of {len(skipped) + n} image files "
                      f"({summary}); see ImageSet.skipped", DataWarning, stacklevel=stacklevel)
    return ImageSet(images, None, name, skipped, meta["names"][:n], notes, converted=converted,
                    chunks=meta.get("chunks"))


def _check_folder(path: str | Path, what: str) -> Path:
    folder = Path(path)
    require(folder.exists(), f"{what} {str(folder)!r} does not exist", DataError)
    require(folder.is_dir(), f"{what} {str(folder)!r} is not a folder", DataError)
    return folder


def read_image_folder(path: str | Path, image_size: int, limit: int | None = None,
                      cache_dir: str | Path | None = None, progress: bool = True) -> ImageSet:
    """Every .jpg/.jpeg/.png/.bmp/.webp file under ``path`` (recursively, hidden files left
    out), in sorted order, as uint8 ``(N, S, S, 3)``: the centred square crop resized
    bilinearly to ``image_size`` (see ``_decode``). At most ``limit`` images.

    Greyscale, CMYK, palette and alpha images are converted to RGB (counted in
    ``notes``). Corrupt files and files smaller than ``image_size`` are skipped, listed
    in ``skipped`` and reported in one :class:`DataWarning`. A missing folder, a folder
    with no image files, or one where every file is bad raises :class:`DataError`.
    The decoded array is cached in ``cache_dir`` (keyed by the files' names, sizes and
    times), so later runs decode nothing.
    """
    folder = _check_folder(path, "image folder")
    files = _image_files(folder)
    if not files:
        others = sum(len(f) for _, _, f in os.walk(folder))
        raise DataError(f"image folder {str(folder)!r} holds no image files ({others} other files); "
                        f"expected files ending in {', '.join(IMAGE_EXTENSIONS)}")
    return _read_files(files, folder, image_size, limit, cache_dir, progress,
                       f"folder-{folder.name}", "folder")


# --------------------------------------------------------------------------------------
# CelebA
# --------------------------------------------------------------------------------------

CELEBA_SPLITS = {"train": (0,), "valid": (1,), "test": (2,), "train+valid": (0, 1), "all": (0, 1, 2)}


def _celeba_images_dir(root: Path) -> Path:
    images = root / "img_align_celeba"
    if images.is_dir() and (images / "img_align_celeba").is_dir() and not any(images.glob("*.jpg")):
        images = images / "img_align_celeba"   # the Kaggle zip nests the folder twice
    if not images.is_dir() and root.name == "img_align_celeba":
        images = root
    require(images.is_dir(),
            f"CelebA folder {str(root)!r} has no img_align_celeba/ folder; expected the official "
            f"layout {root}/img_align_celeba/000001.jpg ... (178x218 JPEGs) and optionally "
            f"{root}/list_eval_partition.txt", DataError)
    return images


def _read_partition(root: Path) -> tuple[dict[str, int] | None, Path | None]:
    """``{file name: 0 train / 1 valid / 2 test}`` from list_eval_partition.txt (or the
    Kaggle .csv), looked for in ``root``, ``root/Eval`` and ``root``'s parent."""
    candidates = [root / "list_eval_partition.txt", root / "Eval" / "list_eval_partition.txt",
                  root / "list_eval_partition.csv", root.parent / "list_eval_partition.txt"]
    for file in candidates:
        if not file.is_file():
            continue
        table: dict[str, int] = {}
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            fields = line.replace(",", " ").split()
            if not fields or (number == 1 and not fields[-1].isdigit()):
                continue  # blank line or the .csv header
            require(len(fields) == 2 and fields[1] in ("0", "1", "2"),
                    f"{file}:{number}: {line!r} is not '<image> <0|1|2>' (0 train, 1 valid, 2 test)",
                    DataError)
            table[fields[0]] = int(fields[1])
        return table, file
    return None, None


class _CelebaListing(NamedTuple):
    """A CelebA folder listed once: its image folder, sorted image files and partition."""

    root: Path
    images_dir: Path
    files: list[Path]
    table: dict[str, int] | None
    table_file: Path | None


def _celeba_listing(root: Path, partition: tuple[dict[str, int] | None, Path | None] | None = None
                    ) -> _CelebaListing:
    """List the checked CelebA folder ``root`` (``partition``: ``_read_partition(root)``
    when the caller has parsed it already; otherwise it is parsed after the listing)."""
    images_dir = _celeba_images_dir(root)
    files = _image_files(images_dir)
    require(bool(files), f"{images_dir} holds no image files; expected CelebA's 000001.jpg ... "
            "202599.jpg", DataError)
    table, table_file = _read_partition(root) if partition is None else partition
    return _CelebaListing(root, images_dir, files, table, table_file)


def read_celeba(path: str | Path, image_size: int, split: str = "train", limit: int | None = None,
                cache_dir: str | Path | None = None, progress: bool = True) -> ImageSet:
    """CelebA's aligned images of ``split`` as uint8 ``(N, S, S, 3)``, at most ``limit``.

    Layout: ``path/img_align_celeba/000001.jpg ...`` (178x218 JPEGs), optionally with
    ``path/list_eval_partition.txt`` (lines ``000001.jpg 0``; 0 train, 1 valid, 2 test).
    ``split`` is 'train', 'valid', 'test', 'train+valid' or 'all'. Without the partition
    file 'train' and 'all' use every image (with a :class:`DataWarning` saying so) and the
    others raise :class:`DataError`.

    Crop and resize: the central 178x178 square (rows 20..198 of 218, the usual CelebA
    face crop; in general the centred square of side min(W, H)) resized with PIL's
    antialiased bilinear filter to ``image_size``. Bad files are handled as in
    :func:`read_image_folder`; the decoded array is cached once in ``cache_dir``.
    """
    require(split in CELEBA_SPLITS, f"split={split!r}; use one of {sorted(CELEBA_SPLITS)}", SpecError)
    root = _check_folder(path, "CelebA folder")
    return _read_celeba(_celeba_listing(root), image_size, split, limit, cache_dir, progress,
                        stacklevel=3)


def _read_celeba(listing: _CelebaListing, image_size: int, split: str, limit: int | None,
                 cache_dir: str | Path | None, progress: bool, stacklevel: int) -> ImageSet:
    """:func:`read_celeba` of a listed folder; its warnings are attributed ``stacklevel``
    frames up (2: the caller of this function)."""
    root, images_dir, files, table, table_file = listing
    notes = []
    if table is None:
        require(split in ("train", "all"),
                f"split={split!r} needs {root}/list_eval_partition.txt (lines '000001.jpg 0'; "
                "0 train, 1 valid, 2 test); without it only 'train' and 'all' (every image)",
                DataError)
        message = f"no list_eval_partition.txt in {root}: split={split!r} uses all {len(files)} images"
        warnings.warn(message, DataWarning, stacklevel=stacklevel)
        notes.append(message)
        selected = files
    else:
        codes = CELEBA_SPLITS[split]
        selected = [p for p in files if table.get(p.name) in codes]
        present = {p.name for p in files}
        missing = sum(1 for k, c in table.items() if c in codes and k not in present)
        if missing:
            notes.append(f"{missing} images of split={split!r} listed in {table_file} are not in {images_dir}")
        unlisted = [p.relative_to(images_dir).as_posix() for p in files if p.name not in table]
        if unlisted:
            shown = ", ".join(unlisted[:5]) + (", ..." if len(unlisted) > 5 else "")
            notes.append(f"{len(unlisted)} image files in {images_dir} are not listed in {table_file} and "
                         f"belong to no split: left out ({shown})")
        require(bool(selected), f"no image of split={split!r} in {images_dir} is listed in "
                f"{table_file} with partition {codes}", DataError)
    return _read_files(selected, images_dir, image_size, limit, cache_dir, progress,
                       f"celeba-{split}", "celeba", notes, stacklevel=stacklevel + 1)
