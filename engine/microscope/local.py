"""The microscope's local executor (every chunk here, in plan order) and its progress lines.

The stop flag is asked between chunks and inside them (the scan between batches, the atlas
between steps); a chunk stopped early is not kept, so Ctrl+C loses at most the chunk in flight.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from engine.microscope.work import Context, Spec


class LocalExecutor:
    """Runs chunks one after the other in this process, on one Context built on first use."""

    label = "local"  # the manifest's "engine"

    def __init__(
        self, spec: Spec, should_stop: Callable[[], bool], context: Context | None = None
    ) -> None:
        self.spec = spec
        self.should_stop = should_stop
        self._context = context

    def context(self) -> Context:
        """The Context of this process (the model loads on the first call)."""
        if self._context is None:
            self._context = Context.build(self.spec)
        return self._context

    def map(self, work, chunks: Sequence, store: Callable) -> bool:
        """build.Executor.map, in order; False at the first chunk stopped or not begun."""
        for chunk in chunks:
            if self.should_stop():
                return False
            result = work(self.context(), chunk, self.should_stop)
            if result is None:
                return False
            store(chunk, result)
        return True


class Progress:
    """One line per finished chunk on `stream`: the stage, counts, rate and time left.

    The first report of a stage (build.py sends one before its first chunk) is the baseline:
    the rate counts only what this run does, not the chunks an earlier run kept.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._began: dict[str, tuple[float, int]] = {}

    def __call__(self, stage: str, done: int, total: int, items: int, total_items: int) -> None:
        now = time.perf_counter()
        word = {"scan": "images", "atlas": "units", "layers": "layers"}.get(stage, "items")
        line = f"{stage}: {done}/{total} chunks · {items:,}/{total_items:,} {word}"
        if stage not in self._began:
            self._began[stage] = (now, items)
            print(line + (" (done before)" if done else ""), file=self.stream, flush=True)
            return
        began, at_start = self._began[stage]
        rate = (items - at_start) / max(now - began, 1e-9)
        if rate > 0:
            line += f" · {rate:,.1f} {word}/s"
            if items < total_items:
                line += f" · ETA {format_seconds((total_items - items) / rate)}"
        print(line, file=self.stream, flush=True)


def format_seconds(seconds: float) -> str:
    """1:02:03, 2:03 or 45 s."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{secs} s"
