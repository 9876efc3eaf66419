"""Progress on stderr for long work (loading, calibration, evaluation), quiet when not wanted."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    """A one-line counter: ``label  123/456  27%  3.1 s``; redrawn in place on a terminal."""

    def __init__(self, label: str, total: int, enabled: bool | None = None) -> None:
        self.label, self.total, self.done = label, max(total, 0), 0
        if enabled is None:
            enabled = os.environ.get("EDGESIGN_QUIET", "") == ""
        self.enabled = enabled and total > 0
        self.tty = sys.stderr.isatty()
        self.start = self._last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (self.done >= self.total or now - self._last > (0.2 if self.tty else 10.0)):
            self._last = now
            self._draw(final=False)

    def close(self) -> None:
        if self.enabled:
            self._draw(final=True)

    def _draw(self, final: bool) -> None:
        pct = 100 * self.done / self.total if self.total else 100
        line = f"{self.label}  {self.done}/{self.total}  {pct:3.0f}%  {time.perf_counter() - self.start:.1f} s"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if final else ""))
        elif final or self.done < self.total:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
