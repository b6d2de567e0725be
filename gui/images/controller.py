"""The current image: a file, a sample or a drawing from the sketch pad, converted by the engine
for the model, with the model's top predictions listed beside it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.protocol import EndReason, FeatureMaps, ImageOpened, JobEnded, LayerPath, OpenImage
from gui.common.feedback import Feedback
from gui.common.predictions import PredictionsPanel
from gui.engine_client import EngineClient, JobSlot
from gui.images.sketch_pad import SketchPad
from gui.state import WindowState


class ImageController(QObject):
    """File › Open Image, Samples, drops, the sketch pad; what the model says of the image."""

    # The path of an image file that opened (Open Recent lists it) or failed to (out).
    opened = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        predictions: PredictionsPanel,
        sketch_pad: SketchPad,
    ) -> None:
        super().__init__()
        self._state = state
        self._feedback = feedback
        self._predictions = predictions
        self._open = JobSlot(client)

        sketch_pad.sketch_changed.connect(self._on_sketch_pad_changed)

    def open_image(self, path: str | None = None, sample: str | None = None) -> None:
        """Show an image file or a named sample and what the model makes of it."""
        self._feedback.clear()
        self._start(OpenImage(path=path, sample=sample, layer=self._maps_layer()))

    def open_pixels(self, pixels: np.ndarray, source: str) -> None:
        """Show an image given as pixels ((H, W) or (H, W, 3)), named `source`."""
        self._feedback.clear()
        self._start(OpenImage(pixels=pixels, source=source, layer=self._maps_layer()))

    # ------------------------------------------------------------------ helpers

    def _maps_layer(self) -> LayerPath | None:
        """The layer whose maps come with the image: the selected one, if it has any."""
        layer = self._state.layer
        return LayerPath(layer.path) if layer is not None and layer.visualizable else None

    def _start(self, request: OpenImage) -> None:
        self._open.start(
            request,
            image_opened=self._on_job_image_opened,
            feature_maps=self._on_job_feature_maps,
            ended=partial(self._on_job_ended, request.path),
        )

    # ------------------------------------------------------------------ slots

    def _on_job_image_opened(self, opened: ImageOpened) -> None:
        self._predictions.set_predictions(
            Path(opened.source).name, opened.predictions, opened.notes
        )
        self._state.set_image(opened)

    def _on_job_feature_maps(self, maps: FeatureMaps) -> None:
        self._state.set_maps(maps)

    def _on_job_ended(self, path: str | None, ended: JobEnded) -> None:
        if ended.failure is not None:
            self._feedback.error(ended.failure.message)
        if path is not None and ended.failure is not None:
            self.failed.emit(path)
        elif path is not None and ended.reason is EndReason.FINISHED:
            self.opened.emit(path)

    def _on_sketch_pad_changed(self, pixels: np.ndarray) -> None:
        if self._state.summary is None:
            return  # no model yet to look at the drawing
        self._start(OpenImage(pixels=pixels, source="drawing", layer=self._maps_layer()))
