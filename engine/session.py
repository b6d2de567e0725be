"""The engine's state and what each request does to it. Runs in the engine thread, no Qt.

A session holds the loaded model, the current image and the compiled programs built for them.
`handle` performs one request and reports through `emit`; errors propagate to the caller (the
engine thread), which turns them into failure messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from engine.anatomy.circuits import trace
from engine.anatomy.kernels import kernels, layer_grid
from engine.images.convert import ConvertedImage, ImageError, convert_image, from_array, read_image
from engine.images.samples import SAMPLES, load_sample
from engine.jobs.atlas import run_atlas
from engine.jobs.compare import ModelSide, load_comparison, run_compare
from engine.jobs.explain import run_explain, run_walk
from engine.jobs.scan import (
    ScanContext,  # the scanner pulls in PIL threads: only when used
    run_scan,
    run_top_images,
)
from engine.jobs.training import run_training
from engine.models.loading import load_model
from engine.models.model_input import set_up_input
from engine.models.predictions import top_predictions
from engine.models.surgery import truncate
from engine.models.zoo import fetch_weights_for
from engine.optvis import atlas_cache
from engine.optvis.references import reference_images
from engine.optvis.visualizer import RunResult, Visualizer
from engine.protocol import (
    Ascend,
    Atlas,
    Compare,
    Explain,
    FeatureMaps,
    Frame,
    ImageOpened,
    LayerInfo,
    LoadComparison,
    LoadModel,
    ModelLoaded,
    ModelSummary,
    OpenImage,
    Request,
    RunFinished,
    ScanImages,
    ShowFeatureMaps,
    ShowKernels,
    ShowTopImages,
    Status,
    TraceCircuit,
    TrainDefault,
    TweakRun,
    WalkNetwork,
)


class LayerError(ValueError):
    """A layer cannot be shown; the message is meant for the user."""


@dataclass(frozen=True)
class CurrentImage:
    """The image on show: its conversion for the current model, and the original picture so a
    newly loaded model can convert it again."""

    converted: ConvertedImage
    picture: Image.Image
    source: str


class EngineSession:
    """Everything the engine knows between requests."""

    def __init__(self, emit: Callable[[object], None]) -> None:
        self._emit = emit
        self.model: keras.Model | None = None
        self.summary: ModelSummary | None = None
        self.image: CurrentImage | None = None
        self.visualizer: Visualizer | None = None
        self._extractors: dict[tuple[str, ...], keras.Model] = {}
        self._is_default = False
        self._weights_fingerprint: str | None = None
        self._scans = _new_scan_context()
        self.comparison = None  # model B of Compare (engine.jobs.compare.ModelSide); kept with A

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: Request, should_stop: Callable[[], bool]) -> None:
        """Perform one request. Raises on failure; results go through `emit`."""
        if isinstance(request, LoadModel):
            self._load_model(request, should_stop)
        elif isinstance(request, OpenImage):
            self._open_image(request)
        elif isinstance(request, ShowFeatureMaps):
            self._show_feature_maps(request)
        elif isinstance(request, Ascend):
            self._ascend(request, should_stop)
        elif isinstance(request, TweakRun):
            self._tweak(request)
        elif isinstance(request, Atlas):
            self._atlas(request, should_stop)
        elif isinstance(request, Explain):
            self._explain(request, should_stop)
        elif isinstance(request, WalkNetwork):
            self._walk(request)
        elif isinstance(request, ShowKernels):
            self._layer_info(request.layer)
            model = self._require_model_object()
            found = kernels(model, request.layer, request.unit, request.request_id)
            channels = int(found.kernel.shape[-1])
            channel = min(max(request.input_channel, 0), channels - 1)
            grid = layer_grid(model, request.layer, channel)
            self._emit(replace(found, grid=grid, grid_channel=channel, input_channels=channels))
        elif isinstance(request, TraceCircuit):
            self._layer_info(request.layer)
            self._emit(trace(self._require_model_object(), request.layer, request.unit,
                             request.request_id))  # fmt: skip
        elif isinstance(request, ScanImages):
            self._scan(request, should_stop)
        elif isinstance(request, ShowTopImages):
            self._top_images(request)
        elif isinstance(request, TrainDefault):
            run_training(request, self._emit, should_stop)
        elif isinstance(request, LoadComparison):
            # Model B's ImageNet weights download as A's do: with progress, cancellable.
            if fetch_weights_for(request, self._emit, should_stop):
                self.comparison = load_comparison(request, self._emit)
        elif isinstance(request, Compare):
            side_a = ModelSide(self._require_model_object(), self._require_model(),
                               self._require_visualizer(), self._extractors)  # fmt: skip
            picture = self.image.picture if self.image else None
            run_compare(request, side_a, self.comparison, picture, self._emit, should_stop)
        else:
            raise TypeError(f"the engine does not handle {type(request).__name__}")

    # ------------------------------------------------------------------ requests

    def _load_model(self, request: LoadModel, should_stop: Callable[[], bool]) -> None:
        # A zoo model's ImageNet weights come first, with progress; cancelled: nothing changes.
        if not fetch_weights_for(request, self._emit, should_stop):
            return
        self._emit(Status(f"Loading {request.path or 'the built-in model'}…", busy=True))
        model, meta, label = load_model(
            request.path, random_weights=request.random_weights, trusted=request.trusted
        )
        self.model, self.summary = set_up_input(model, meta, request.path or label, request)
        self._is_default = request.path is None
        self.visualizer = None
        self._weights_fingerprint = None
        self._scans = _new_scan_context()  # a scan belongs to the model it ran on
        self._extractors.clear()
        self._emit(ModelLoaded(request.request_id, self.summary))
        if self.image is not None:
            # Keep the user's image: convert it again for the new model's input.
            self._convert_and_predict(self.image.picture, self.image.source, None, request)

    def _open_image(self, request: OpenImage) -> None:
        if request.sample is not None:
            if request.sample not in SAMPLES:
                raise ImageError(f"there is no sample called {request.sample!r}")
            picture, source = load_sample(request.sample), SAMPLES[request.sample][0]
        elif request.pixels is not None:
            picture, source = from_array(request.pixels), request.source or "drawing"
        elif request.path is not None:
            picture, source = read_image(request.path), request.path
        else:
            raise ImageError("no image given")
        self._convert_and_predict(picture, source, request.layer, request)

    def _convert_and_predict(
        self,
        picture: Image.Image,
        source: str,
        layer: tuple[str, ...] | None,
        request: LoadModel | OpenImage,
    ) -> None:
        summary = self._require_model()
        converted = convert_image(picture, summary.input_shape, summary.input_range)
        self.image = CurrentImage(converted, picture, source)
        outputs = self.model(converted.pixels[None], training=False)
        predictions = ()
        if len(outputs.shape) == 2:
            predictions = top_predictions(outputs.numpy()[0], summary.class_names)
        self._emit(
            ImageOpened(
                request.request_id,
                source,
                np.array(converted.display, copy=True),
                converted.original_size,
                predictions,
                converted.notes,
            )
        )
        if layer is not None:
            self._show_feature_maps(ShowFeatureMaps(layer, request.request_id))

    def _show_feature_maps(self, request: ShowFeatureMaps) -> None:
        if self.image is None:
            return  # nothing to show yet; not an error, the window simply has no image
        self._layer_info(request.layer)
        extractor = self._extractors.get(request.layer)
        if extractor is None:
            extractor = truncate(self._require_model_object(), request.layer)
            self._extractors[request.layer] = extractor
        maps = extractor(self.image.converted.pixels[None], training=False).numpy()[0]
        self._emit(FeatureMaps(request.request_id, request.layer, np.array(maps, copy=True)))

    def _ascend(self, request: Ascend, should_stop: Callable[[], bool]) -> None:
        info = self._layer_info(request.layer)
        terms = request.terms()
        for term in terms:
            self._check_unit(self._layer_info(term.layer), term.unit)
        recipe = request.settings
        visualizer = self._require_visualizer()
        self._emit(Status(f"Visualizing {info.name} #{request.unit}…", busy=True))
        user_image = self.image.converted.display if self.image else None
        result = None
        for item in visualizer.run(terms, recipe, should_stop, user_image):
            if isinstance(item, RunResult):
                result = item
                break
            self._emit(
                Frame(
                    request.request_id,
                    request.layer,
                    request.unit,
                    item.step,
                    recipe.steps,
                    _tiled(item.images),
                    item.objectives,
                    item.milestone,
                )
            )
        predictions = ()
        if info.is_output and request.neuron is None:
            low, high = self.summary.input_range
            outputs = self.model(low + (high - low) * result.images[:1], training=False)
            predictions = top_predictions(outputs.numpy()[0], self.summary.class_names)
        outcome = result.outcome
        self._emit(
            RunFinished(
                request.request_id,
                request.layer,
                request.unit,
                outcome.steps_done,
                outcome.reason == "cancelled",
                _tiled(result.images),
                result.activation,
                predictions,
                reason=outcome.reason,
                activation=result.activation,
                # A cancelled run may be the window closing: no time for the reference set.
                quality=None
                if outcome.reason == "cancelled"
                else visualizer.quality(terms, recipe, result.activation),
                restarted=result.restarted,
            )
        )

    def _explain(self, request: Explain, should_stop: Callable[[], bool]) -> None:
        if self.image is None:
            raise ImageError("open an image first: an explanation is about an image")
        if request.unit_layer is not None:
            self._check_unit(self._layer_info(request.unit_layer), request.unit or 0)
        if request.layer is not None:
            self._layer_info(request.layer)
        self._emit(Status(f"Explaining with {request.method}…", busy=True))
        run_explain(
            request, self._require_model_object(), self._require_model(),
            self.image.converted.pixels, self.image.converted.display, self._emit, should_stop,
        )  # fmt: skip

    def _walk(self, request: WalkNetwork) -> None:
        if self.image is None:
            return  # nothing to walk through yet; the window has no image either
        run_walk(
            request, self._require_model_object(), self._require_model(),
            self.image.converted.pixels, self._extractors, self._emit,
        )  # fmt: skip

    def _scan(self, request: ScanImages, should_stop: Callable[[], bool]) -> None:
        self._emit(Status("Scanning images…", busy=True))
        run_scan(
            request, self._require_model_object(), self._require_model(), self._scans,
            self._emit, should_stop,
        )  # fmt: skip

    def _top_images(self, request: ShowTopImages) -> None:
        self._layer_info(request.layer)
        run_top_images(
            request, self._require_model_object(), self._require_model(), self._scans,
            self._emit,
        )  # fmt: skip

    def _tweak(self, request: TweakRun) -> None:
        if self.visualizer is not None:
            self.visualizer.tweak(request.settings)

    def _atlas(self, request: Atlas, should_stop: Callable[[], bool]) -> None:
        info = self._layer_info(request.layer)
        for unit in request.units or ():
            self._check_unit(info, unit)
        run_atlas(
            request, info, self._require_visualizer(), self._fingerprint(), self._emit,
            should_stop,
        )  # fmt: skip

    # ------------------------------------------------------------------ helpers

    def _require_visualizer(self) -> Visualizer:
        if self.visualizer is None:
            summary = self._require_model()
            self.visualizer = Visualizer(
                self._require_model_object(),
                summary.input_shape,
                summary.input_range,
                self._reference_images,
            )
        return self.visualizer

    def _reference_images(self) -> np.ndarray | None:
        summary = self._require_model()
        path = self.image.source if self.image else None
        is_file = path is not None and Path(path).is_file()
        return reference_images(
            self._is_default, summary.input_shape, summary.input_range, path if is_file else None
        )

    def _fingerprint(self) -> str:
        if self._weights_fingerprint is None:
            weights = [w.numpy() for w in self._require_model_object().weights]
            self._weights_fingerprint = atlas_cache.weights_fingerprint(weights)
        return self._weights_fingerprint

    @staticmethod
    def _check_unit(info: LayerInfo, unit: int) -> None:
        if not 0 <= unit < info.size:
            raise LayerError(
                f"layer {info.name!r} has {info.size} {info.kind.value} (#0 to #{info.size - 1}); "
                f"there is no #{unit}"
            )

    def _require_model(self) -> ModelSummary:
        if self.summary is None:
            raise RuntimeError("no model is loaded yet")
        return self.summary

    def _require_model_object(self) -> keras.Model:
        if self.model is None:
            raise RuntimeError("no model is loaded yet")
        return self.model

    def _layer_info(self, path: tuple[str, ...]) -> LayerInfo:
        info = self._require_model().find(tuple(path))
        if info is None:
            raise LayerError(f"the model has no layer {'/'.join(path)!r}")
        if not info.visualizable:
            raise LayerError(
                f"layer {info.name!r} ({info.type_name}) has output shape {info.output_shape}: "
                "it has no channels or units to show. Pick a convolution, pooling or Dense layer."
            )
        return info


def _new_scan_context():
    return ScanContext()


def _tiled(images: np.ndarray) -> np.ndarray:
    """A batch of images side by side, so the window shows every image of a diverse batch."""
    if len(images) == 1:
        return np.array(images[0], copy=True)
    return np.concatenate(list(images), axis=1)


def warm_up() -> None:
    """Touch TensorFlow once so the first real request does not pay its set-up cost."""
    tf.constant(0.0).numpy()
