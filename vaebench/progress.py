"""Progress on stderr: one-line messages and a counter that reports about every 10%.

Everything vaebench says while it works goes through here (stdout stays for results),
as ``[vaebench] ...`` or ``[vaebench.<part>] ...``.
"""
from __future__ import annotations

import sys
import time


def log(message: str, part: str | None = None) -> None:
    """Print ``[vaebench] message`` (``[vaebench.part] message``) to stderr, flushed."""
    tag = "vaebench" if part is None else f"vaebench.{part}"
    print(f"[{tag}] {message}", file=sys.stderr, flush=True)


class Progress:
    """Prints ``label: done/n images (pct%), rate images/s`` to stderr about every 10%."""

    def __init__(self, label: str, n: int, part: str = "data") -> None:
        self.label, self.n, self.part = label, n, part
        self.t0, self.next = time.perf_counter(), 0.1

    def update(self, done: int) -> None:
        if self.n and (done / self.n >= self.next or done == self.n):
            rate = done / max(time.perf_counter() - self.t0, 1e-9)
            log(f"{self.label}: {done:,}/{self.n:,} images ({100 * done // self.n}%), {rate:,.0f} images/s",
                self.part)
            while self.next <= done / self.n:
                self.next += 0.1
