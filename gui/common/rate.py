"""How fast a long job goes and how long it has left, from when its progress updates arrive."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Rates come from the newest updates only, so a run that speeds up (after tf.function traced)
# or slows down shows it within a few frames.
_WINDOW = 20
# The first updates carry tracing and warm-up, and two close updates give a wild rate: say
# nothing until a few arrived over at least this long.
MIN_SECONDS = 1.0


def time_left_text(seconds: float) -> str:
    """'12 s', '3 min', '1 h 05 min': a time left as a person says it."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class RateMeter:
    """Steps per second and time left of one job, fed (done, total) as progress arrives.

    Robust by construction: nothing is said before `min_updates` updates spread over
    MIN_SECONDS, when nothing advanced, or once the job is done; never a division by zero.
    """

    def __init__(self, min_updates: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        if min_updates < 2:
            raise ValueError(f"a rate needs at least 2 updates, got min_updates={min_updates}")
        self.clock = clock  # replaceable, so tests can say how much time passed
        self._min_updates = min_updates
        self._samples: deque[tuple[float, int]] = deque(maxlen=_WINDOW)
        self._count = 0
        self._total = 0

    def reset(self) -> None:
        """A new job starts; forget the old one's timing."""
        self._samples.clear()
        self._count = 0
        self._total = 0

    def update(self, done: int, total: int) -> None:
        """`done` of `total` are finished now; going backwards or a new total starts afresh."""
        last = self._samples[-1][1] if self._samples else None
        if total != self._total or (last is not None and done < last):
            self.reset()
        self._total = total
        self._samples.append((self.clock(), done))
        self._count += 1

    def per_second(self) -> float | None:
        """Units done per second over the recent updates, or None while it cannot be told."""
        if self._count < self._min_updates or len(self._samples) < 2:
            return None
        (t0, done0), (t1, done1) = self._samples[0], self._samples[-1]
        elapsed = t1 - t0
        if elapsed < MIN_SECONDS or done1 <= done0:
            return None
        return (done1 - done0) / elapsed

    def seconds_left(self) -> float | None:
        """Seconds until `total` at the recent rate; None while unknown or when done."""
        rate = self.per_second()
        if rate is None or not self._samples:
            return None
        left = self._total - self._samples[-1][1]
        return left / rate if left > 0 else None

    def text(self, unit: str = "steps", with_left: bool = True) -> str:
        """'41 steps/s · about 3 s left', 'about 2 min left' (unit ""), or "" while unknown;
        without the time left when `with_left` is False (a job that ended early)."""
        rate = self.per_second()
        if rate is None:
            return ""
        parts = [f"{_plain(rate)} {unit}/s"] if unit else []
        left = self.seconds_left() if with_left else None
        if left is not None:
            parts.append(f"about {time_left_text(left)} left")
        return " · ".join(parts)


def _plain(rate: float) -> str:
    """A rate as a plain number, never '1.2e+03': whole above 100, else one or two decimals."""
    if rate >= 100:
        return f"{rate:.0f}"
    return f"{rate:.1f}" if rate >= 1 else f"{rate:.2f}"
