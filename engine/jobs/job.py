"""What every job is: a generator the engine thread drives, ending with a `Done`.

A job yields results as it goes (the engine thread sends each on its signal) and returns a
`Done`, read from StopIteration.value as superqt's GeneratorWorker does; the engine thread sends
it as the request's JobEnded. A quick job that yields one result per slice can be served
between the steps of a long one without stalling it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from engine.protocol import EndReason

ShouldStop = Callable[[], bool]
Emit = Callable[[object], None]


@dataclass(frozen=True)
class Done:
    """How a job ended and its final value (what JobEnded carries)."""

    value: object = None
    reason: EndReason = EndReason.FINISHED


Job = Generator[object, None, Done]

Item = TypeVar("Item")
Value = TypeVar("Value")


def mapped(
    items: Generator[Item, None, Value], result: Callable[[Item], object]
) -> Generator[object, None, Value]:
    """`items` passed on as `result(item)`, returning what `items` returns, so a job writes
    `value = yield from mapped(run, to_frame)` instead of catching StopIteration itself."""
    while True:
        try:
            item = next(items)
        except StopIteration as ended:
            return ended.value
        yield result(item)


# How a visualization's stop reason (engine/protocol/recipe.py's STOP_REASONS) ends its job.
RUN_END = {
    "steps": EndReason.FINISHED,
    "converged": EndReason.CONVERGED,
    "dead": EndReason.DEAD,
    "cancelled": EndReason.CANCELLED,
}
