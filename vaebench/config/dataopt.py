"""The ``--vaebench-data`` / ``VAEBENCH_DATA`` option: ``synthetic``, ``celeba:PATH`` or
``folder:PATH``, parsed and applied to a scale."""
from __future__ import annotations

import os
from dataclasses import replace

from vaebench.config.scales import Scale
from vaebench.config.specs import DATA_SOURCES
from vaebench.errors import require

DATA_ENV = "VAEBENCH_DATA"


def parse_data(text: str | None) -> tuple[str, str | None]:
    """``(source, absolute path or None)`` of a data choice: ``synthetic``, ``celeba:PATH``
    or ``folder:PATH`` (``--vaebench-data``, ``--data``); ``None`` reads
    ``$VAEBENCH_DATA`` and falls back to ``synthetic``."""
    if text is None:
        text = os.environ.get(DATA_ENV) or "synthetic"
    source, colon, path = text.partition(":")
    source = source.strip().lower()
    require(source in DATA_SOURCES,
            f"data={text!r} is not a data source; use synthetic, celeba:PATH or folder:PATH")
    if source == "synthetic":
        require(not colon, f"data={text!r}: the synthetic source reads no folder; use 'synthetic'")
        return source, None
    require(bool(path.strip()), f"data={text!r} names no folder; use {source}:/path/to/the/images")
    return source, os.path.abspath(os.path.expanduser(path.strip()))


def with_data(scale: Scale, text: str | None) -> Scale:
    """``scale`` reading the data ``text`` chooses (:func:`parse_data`). The image size and
    the counts stay the scale's: a reader gives what its folder holds, up to them."""
    source, path = parse_data(text)
    if (source, path) == (scale.data.source, scale.data.path):
        return scale
    return replace(scale, data=replace(scale.data, source=source, path=path))
