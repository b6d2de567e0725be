"""The engine's state and the job each request starts. Runs in the engine thread, no Qt.

A session holds the loaded model, the current image and what was built for them (truncated
models, the visualizer with its compiled programs, stopped runs, the last scan). `job` looks
the request's type up in one table and returns a job (engine/jobs/job.py): a generator the
engine thread drives. Errors propagate to the engine thread, which turns them into failures.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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
from engine.jobs.evaluate import run_evaluation
from engine.jobs.explain import run_explain, run_walk
from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.jobs.microscope import run_build
from engine.jobs.scan import ScanContext, run_scan, run_top_images
from engine.jobs.training import run_training
from engine.jobs.visualize import RunTarget, StoppedRuns, run_visualization
from engine.models.loading import load_model
from engine.models.model_input import set_up_input
from engine.models.predictions import MAP_NOTE, top_predictions
from engine.models.surgery import truncate
from engine.models.zoo import fetch_weights_for
from engine.optvis import atlas_cache
from engine.optvis.memory import NotEnoughMemory, gigabytes, plan_batch
from engine.optvis.program import Snapshot
from engine.optvis.references import reference_images
from engine.optvis.visualizer import RunResult, Visualizer
from engine.protocol import (
    Ascend,
    Atlas,
    BuildMicroscope,
    Compare,
    ContinueRun,
    EndReason,
    EvaluateDataset,
    Explain,
    FeatureMaps,
    ImageOpened,
    JobEnded,
    LayerInfo,
    LayerPath,
    LoadComparison,
    LoadModel,
    ModelLoaded,
    ModelSummary,
    ObjectiveTerm,
    OpenImage,
    Prediction,
    Recipe,
    Request,
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

# Said under the predictions of a sigmoid head, whose scores do not share 100 %.
INDEPENDENT_NOTE = (
    "independent scores: the model ends in a sigmoid (multi-label), so each class is scored on "
    "its own from 0 to 100 %, and several can be high at once"
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

    def __init__(self, emit: Emit) -> None:
        # For results reported from inside a library's callback (download bytes, training
        # epochs, an explanation's progress), where nothing can be yielded.
        self._emit = emit
        self.model: keras.Model | None = None
        self.summary: ModelSummary | None = None
        self.image: CurrentImage | None = None
        self.visualizer: Visualizer | None = None
        self._extractors: dict[tuple[str, ...], keras.Model] = {}
        self._is_default = False
        self._weights_fingerprint: str | None = None
        self._scans = ScanContext()
        self._stopped = StoppedRuns()
        self.comparison: ModelSide | None = None  # model B of Compare; kept when A changes
        # The one place that says which job each request starts.
        self._jobs: dict[type, Callable[[Any, ShouldStop], Job]] = {
            LoadModel: self._load_model,
            OpenImage: self._open_image,
            ShowFeatureMaps: self._show_feature_maps,
            Ascend: self._ascend,
            ContinueRun: self._continue,
            TweakRun: self._tweak,
            Atlas: self._atlas,
            Explain: self._explain,
            WalkNetwork: self._walk,
            ShowKernels: self._kernels,
            TraceCircuit: self._circuit,
            ScanImages: self._scan,
            ShowTopImages: self._top_images,
            EvaluateDataset: self._evaluate,
            TrainDefault: lambda request, stop: run_training(request, self._emit, stop),
            LoadComparison: self._load_comparison,
            Compare: self._compare,
            BuildMicroscope: self._build_microscope,
        }

    # ------------------------------------------------------------------ dispatch

    def job(self, request: Request, should_stop: ShouldStop) -> Job:
        """The job for `request`, not started yet; TypeError for a request it does not run."""
        start = self._jobs.get(type(request))
        if start is None:
            raise TypeError(f"the engine does not run {type(request).__name__}")
        return start(request, should_stop)

    def handle(self, request: Request, should_stop: ShouldStop) -> JobEnded:
        """Run `request`'s job to its end here, emitting each result and then the JobEnded
        (which it also returns). Raises on failure, as the job does."""
        job = self.job(request, should_stop)
        while True:
            try:
                self._emit(next(job))
            except StopIteration as stopped:
                done: Done = stopped.value
                break
        ended = JobEnded(request.request_id, done.reason, done.value)
        self._emit(ended)
        return ended

    # ------------------------------------------------------------------ model and image

    def _load_model(self, request: LoadModel, should_stop: ShouldStop) -> Job:
        # A zoo model's ImageNet weights come first, with progress; cancelled: nothing changes.
        if not fetch_weights_for(request, self._emit, should_stop):
            return Done(None, EndReason.CANCELLED)
        yield Status(f"Loading {request.path or 'the built-in model'}…", busy=True)
        model, meta, label = load_model(
            request.path, random_weights=request.random_weights, trusted=request.trusted
        )
        self.model, self.summary = set_up_input(model, meta, request.path or label, request)
        self._is_default = request.path is None
        self.visualizer = None
        self._weights_fingerprint = self.summary.fingerprint or None
        self._scans = ScanContext()  # a scan belongs to the model it ran on
        self._stopped.clear()
        self._extractors.clear()
        yield ModelLoaded(request.request_id, self.summary)
        if self.image is not None:
            # Keep the user's image: convert it again for the new model's input.
            yield from self._convert_and_predict(
                self.image.picture, self.image.source, None, request.request_id
            )
        return Done()

    def _open_image(self, request: OpenImage, _should_stop: ShouldStop) -> Job:
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
        yield from self._convert_and_predict(picture, source, request.layer, request.request_id)
        return Done()

    def _convert_and_predict(
        self, picture: Image.Image, source: str, layer: tuple[str, ...] | None, request_id: int
    ) -> Job:
        summary, model = self._require_model(), self._require_model_object()
        converted = convert_image(picture, summary.input_shape, summary.input_range)
        self.image = CurrentImage(converted, picture, source)
        outputs = model(converted.pixels[None], training=False)
        predictions: tuple[Prediction, ...] = ()
        if len(outputs.shape) in (2, 4):  # a map output (B, H', W', K) is ranked per channel
            predictions = top_predictions(
                outputs.numpy()[0], summary.class_names, scores_are=summary.scores
            )
        yield ImageOpened(
            request_id,
            source,
            np.array(converted.display, copy=True),
            converted.original_size,
            predictions,
            converted.notes
            + ((INDEPENDENT_NOTE,) if summary.scores == "independent" else ())
            + ((MAP_NOTE,) if len(outputs.shape) == 4 else ()),
        )
        if layer is not None:
            yield from self._show_feature_maps(ShowFeatureMaps(layer, request_id), lambda: False)
        return Done()

    def _show_feature_maps(self, request: ShowFeatureMaps, _should_stop: ShouldStop) -> Job:
        if self.image is None:
            return Done()  # nothing to show yet; not an error, the window simply has no image
        self._layer_info(request.layer)
        extractor = self._extractors.get(request.layer)
        if extractor is None:
            extractor = truncate(self._require_model_object(), request.layer)
            self._extractors[request.layer] = extractor
        maps = extractor(self.image.converted.pixels[None], training=False).numpy()[0]
        yield FeatureMaps(request.request_id, request.layer, np.array(maps, copy=True))
        return Done()

    # ------------------------------------------------------------------ visualizations

    def _ascend(self, request: Ascend, should_stop: ShouldStop) -> Job:
        info = self._layer_info(request.layer)
        terms = request.terms()
        for term in terms:
            self._check_unit(self._layer_info(term.layer), term.unit)
        recipe = request.settings
        self._plan(request.layer, recipe.batch, "visualization")
        visualizer = self._require_visualizer()
        yield Status(f"Visualizing {info.name} #{request.unit}…", busy=True)
        user_image = self.image.converted.display if self.image else None
        if request.start_image is not None:  # a result or a real image to go on from
            user_image = request.start_image
        is_class = info.is_output and request.neuron is None
        target = RunTarget(LayerPath(request.layer), request.unit, is_class)
        run = visualizer.run(terms, recipe, should_stop, user_image)
        return (yield from self._stream(request.request_id, target, run, terms, recipe))

    def _continue(self, request: ContinueRun, should_stop: ShouldStop) -> Job:
        target, stopped = self._stopped.take(request.run_id)
        visualizer = self._require_visualizer()
        yield Status(f"Continuing {target.layer.name} #{target.unit}…", busy=True)
        run = visualizer.resume(stopped, should_stop)
        return (
            yield from self._stream(request.request_id, target, run, stopped.terms, stopped.recipe)
        )

    def _stream(
        self,
        request_id: int,
        target: RunTarget,
        run: Generator[Snapshot, None, RunResult],
        terms: tuple[ObjectiveTerm, ...],
        recipe: Recipe,
    ) -> Job:
        """A visualization's frames, then its RunFinished (kept for ContinueRun if stopped)."""
        visualizer = self._require_visualizer()
        return (
            yield from run_visualization(
                request_id,
                target,
                recipe.steps,
                run,
                self._predict,
                self._stopped,
                lambda activation: visualizer.quality(terms, recipe, activation),
            )
        )

    def _tweak(self, request: TweakRun, _should_stop: ShouldStop) -> Job:
        if self.visualizer is not None:
            self.visualizer.tweak(request.settings)
        yield from ()
        return Done()

    def _atlas(self, request: Atlas, should_stop: ShouldStop) -> Job:
        info = self._layer_info(request.layer)
        for unit in request.units or ():
            self._check_unit(info, unit)
        return (
            yield from run_atlas(
                request, info, self._require_visualizer(), self._fingerprint(), should_stop
            )
        )

    def _predict(self, images: np.ndarray) -> tuple[Prediction, ...]:
        """What the model says of images in [0, 1] (the first one), for class visualizations."""
        summary, model = self._require_model(), self._require_model_object()
        low, high = summary.input_range
        outputs = model(low + (high - low) * images[:1], training=False)
        return top_predictions(outputs.numpy()[0], summary.class_names, scores_are=summary.scores)

    # ------------------------------------------------------------------ explanations and views

    def _explain(self, request: Explain, should_stop: ShouldStop) -> Job:
        if self.image is None:
            raise ImageError("open an image first: an explanation is about an image")
        if request.unit_layer is not None:
            self._check_unit(self._layer_info(request.unit_layer), request.unit or 0)
        if request.layer is not None:
            self._layer_info(request.layer)
        summary = self._require_model()
        if summary.layers:  # gradients through the whole model, for one image
            self._plan(summary.layers[-1].path, 1, "explanation")
        yield Status(f"Explaining with {request.method}…", busy=True)
        return (
            yield from run_explain(
                request,
                self._require_model_object(),
                self._require_model(),
                self.image.converted.pixels,
                self.image.converted.display,
                self._emit,
                should_stop,
                original=self.image.picture,
            )
        )

    def _walk(self, request: WalkNetwork, _should_stop: ShouldStop) -> Job:
        if self.image is None:
            return Done()  # nothing to walk through yet; the window has no image either
        summary = self._require_model()
        if summary.layers:  # every layer's maps are held once, and sent once: as a gradient's
            self._plan(summary.layers[-1].path, 1, "network walk")
        return (
            yield from run_walk(
                request,
                self._require_model_object(),
                self._require_model(),
                self.image.converted.pixels,
                self._extractors,
            )
        )

    def _kernels(self, request: ShowKernels, _should_stop: ShouldStop) -> Job:
        self._layer_info(request.layer)
        model = self._require_model_object()
        found = kernels(model, request.layer, request.unit, request.request_id)
        channels = int(found.kernel.shape[-1])
        channel = min(max(request.input_channel, 0), channels - 1)
        grid = layer_grid(model, request.layer, channel)
        yield replace(
            found,
            grid=grid,
            grid_channel=channel,
            input_channels=channels,
            input_maps=self._layer_input(tuple(request.layer)),
        )
        return Done()

    def _layer_input(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """What `layer` reads for the current image (the previous layer's maps, or the image),
        (H, W, C); None without an image or for a layer whose input is not one such map."""
        if self.image is None:
            return None
        key = ("<input of>", *layer)  # no layer path starts so: a key of its own
        extractor = self._extractors.get(key)
        if extractor is None:
            try:
                extractor = truncate(self._require_model_object(), layer, before=True)
            except ValueError:
                return None  # a layer fed by several tensors: no one input to show
            self._extractors[key] = extractor
        found = extractor(self.image.converted.pixels[None], training=False)
        maps = np.asarray(found[0] if isinstance(found, list | tuple) else found)
        return np.array(maps[0], copy=True) if maps.ndim == 4 else None

    def _circuit(self, request: TraceCircuit, _should_stop: ShouldStop) -> Job:
        self._layer_info(request.layer)
        yield trace(self._require_model_object(), request.layer, request.unit, request.request_id)
        return Done()

    def _scan(self, request: ScanImages, should_stop: ShouldStop) -> Job:
        yield Status("Scanning images…", busy=True)
        return (
            yield from run_scan(
                request,
                self._require_model_object(),
                self._require_model(),
                self._scans,
                self._emit,
                should_stop,
            )
        )

    def _evaluate(self, request: EvaluateDataset, should_stop: ShouldStop) -> Job:
        yield Status("Evaluating the model on labelled images…", busy=True)
        return (
            yield from run_evaluation(
                request, self._require_model_object(), self._require_model(), should_stop
            )
        )

    def _top_images(self, request: ShowTopImages, _should_stop: ShouldStop) -> Job:
        self._layer_info(request.layer)
        return (
            yield from run_top_images(
                request, self._require_model_object(), self._require_model(), self._scans
            )
        )

    def _build_microscope(self, request: BuildMicroscope, should_stop: ShouldStop) -> Job:
        model, summary = self._require_model_object(), self._require_model()
        return (
            yield from run_build(
                request, model, summary, self._fingerprint(), self._emit, should_stop
            )
        )

    # ------------------------------------------------------------------ model B

    def _load_comparison(self, request: LoadComparison, should_stop: ShouldStop) -> Job:
        # Model B's ImageNet weights download as A's do: with progress, cancellable.
        if not fetch_weights_for(request, self._emit, should_stop):
            return Done(None, EndReason.CANCELLED)
        self.comparison = yield from load_comparison(request)
        return Done()

    def _compare(self, request: Compare, should_stop: ShouldStop) -> Job:
        side_a = ModelSide(
            self._require_model_object(),
            self._require_model(),
            self._require_visualizer(),
            self._extractors,
        )
        picture = self.image.picture if self.image else None
        return (yield from run_compare(request, side_a, self.comparison, picture, should_stop))

    # ------------------------------------------------------------------ helpers

    def _plan(self, target: tuple[str, ...], batch: int, job: str) -> None:
        """Refuse, before anything is allocated, a job whose images would not fit in memory
        (NotEnoughMemory says what would)."""
        summary = self._require_model()
        plan = plan_batch(summary, tuple(target), batch, job)
        if plan.batch < batch:
            raise NotEnoughMemory(
                f"Not enough memory for a batch of {batch} images of {LayerPath(target)}: "
                f"about {gigabytes(plan.per_image * batch)} needed, {gigabytes(plan.budget or 0)} "
                f"free; a batch of {plan.batch} fits."
            )

    def _require_visualizer(self) -> Visualizer:
        if self.visualizer is None:
            summary = self._require_model()
            self.visualizer = Visualizer(
                self._require_model_object(),
                summary.input_shape,
                summary.input_range,
                self._reference_images,
                summary,
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
            raise LayerError(f"the model has no layer {str(LayerPath(path))!r}")
        if not info.visualizable:
            raise LayerError(
                f"layer {info.name!r} ({info.type_name}) has output shape {info.output_shape}: "
                "it has no channels or units to show. Pick a convolution, pooling or Dense layer."
            )
        return info


def warm_up() -> None:
    """Touch TensorFlow once so the first real request does not pay its set-up cost."""
    tf.constant(0.0).numpy()
