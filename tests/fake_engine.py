"""A stand-in for EngineThread: the same signals, no TensorFlow; it records what it is asked.

Tests drive the window with it by emitting results as the real engine would, e.g.
`engine.frame.emit(frame)`, and check `engine.requests` for what the window submitted.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.messages import (
    Ascend,
    AtlasProgress,
    AtlasTile,
    Frame,
    LayerInfo,
    LayerKind,
    ModelLoaded,
    ModelSummary,
    RunFinished,
)


class FakeEngine(QObject):
    """Same signals and methods as engine.worker.EngineThread; nothing runs by itself."""

    status = Signal(object)
    model_loaded = Signal(object)
    image_opened = Signal(object)
    feature_maps = Signal(object)
    frame = Signal(object)
    run_finished = Signal(object)
    atlas_tile = Signal(object)
    atlas_progress = Signal(object)
    failed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.requests: list[object] = []
        self._running = False

    # ------------------------------------------------------------------ EngineThread's API

    def submit(self, request: object) -> None:
        self.requests.append(request)

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def wait(self, _msecs: int | None = None) -> bool:
        return True

    def isRunning(self) -> bool:  # QThread's spelling
        return self._running

    def is_busy(self) -> bool:
        return False

    # ------------------------------------------------------------------ for tests

    def of_type(self, kind: type) -> list:
        """Every request of class `kind`, oldest first."""
        return [r for r in self.requests if isinstance(r, kind)]

    def last(self, kind: type):
        """The newest request of class `kind`; AssertionError when there is none."""
        found = self.of_type(kind)
        assert found, f"no {kind.__name__} was submitted; got {self.requests}"
        return found[-1]

    def load(self, summary: ModelSummary | None = None) -> ModelSummary:
        """Answer as if a model had loaded."""
        summary = summary or fake_summary()
        self.model_loaded.emit(ModelLoaded(0, summary))
        return summary

    def stream(self, request: Ascend, steps: tuple[int, ...], size: int = 28) -> list[Frame]:
        """Emit a frame for each step (milestones on 1, 2, 4, …), each image a different grey."""
        frames = []
        for step in steps:
            frame = Frame(
                request.request_id, request.layer, request.unit, step, request.settings.steps,
                grey_image(step / max(steps), size), (float(step),),
                milestone=step & (step - 1) == 0,
            )  # fmt: skip
            self.frame.emit(frame)
            frames.append(frame)
        return frames

    def finish(self, request: Ascend, steps_done: int, **changes) -> RunFinished:
        """Emit the end of `request`; `changes` set reason, activation, quality, …"""
        values = dict(
            steps_done=steps_done, cancelled=False, image=grey_image(1.0),
            objective=1.0, activation=1.0,
        )  # fmt: skip
        values.update(changes)
        done = RunFinished(request.request_id, request.layer, request.unit, **values)
        self.run_finished.emit(done)
        return done

    def tile(self, request_id: int, layer, unit: int, *, dead: bool = False, final=True) -> None:
        self.atlas_tile.emit(
            AtlasTile(request_id, layer, unit, colour_image(unit), 2.0, 0.8, dead, final)
        )

    def progress(self, request_id: int, layer, done: int, total: int, **flags) -> None:
        self.atlas_progress.emit(AtlasProgress(request_id, layer, done, total, **flags))


def grey_image(level: float, size: int = 28) -> np.ndarray:
    return np.full((size, size, 1), level, np.float32)


def colour_image(seed: int, size: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def fake_summary() -> ModelSummary:
    """A small MNIST-like model: conv1 (8), conv2 (16), flatten, dense (10 classes)."""

    def conv(name: str, size: int, channels: int) -> LayerInfo:
        shape = (None, size, size, channels)
        return LayerInfo((name,), name, "Conv2D", shape, 100, LayerKind.CHANNELS, channels)

    layers = (
        conv("conv1", 28, 8),
        conv("conv2", 14, 16),
        LayerInfo(("flatten",), "flatten", "Flatten", (None, 3136), 0, LayerKind.NONE, 0),
        LayerInfo(("out",), "out", "Dense", (None, 10), 31370, LayerKind.UNITS, 10, True),
    )
    return ModelSummary("fake", "fake.keras", (28, 28, 1), (0.0, 1.0), tuple("0123456789"), layers)
