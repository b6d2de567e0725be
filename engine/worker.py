"""The engine thread: the one place where TensorFlow runs, and the only engine module using Qt.

Requests arrive through `submit` from the GUI thread and wait in a mailbox with one slot per
kind of request: a newer request of the same kind replaces the waiting one (the newest wins),
and a newer visualization cancels the running one, which checks for that before every step.
While a visualization runs, waiting image and feature-map requests are served between its
steps, so dropping an image never waits for a long run to end.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections import OrderedDict

from PySide6.QtCore import QThread, Signal

from engine.protocol import (
    Ascend,
    Atlas,
    AtlasProgress,
    AtlasTile,
    CancelLoad,
    Circuit,
    Compare,
    CompareFrame,
    Comparison,
    ComparisonLoaded,
    DownloadProgress,
    EngineFailure,
    Explain,
    Explanation,
    FeatureMaps,
    Frame,
    ImageOpened,
    Kernels,
    LoadComparison,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Progress,
    Request,
    RunFinished,
    ScanImages,
    ScanProgress,
    ScanSummary,
    ShowFeatureMaps,
    ShowKernels,
    ShowTopImages,
    Status,
    StopRun,
    TopImages,
    TraceCircuit,
    TrainDefault,
    TrainProgress,
    TweakRun,
    WalkNetwork,
)

# Visualizations and atlases share a lane: a new one of either replaces the other.
_LANES = {
    LoadModel: "model",
    OpenImage: "image",
    ShowFeatureMaps: "maps",
    TweakRun: "tweak",
    Ascend: "ascend",
    Atlas: "ascend",
    # One long job at a time, the newest wins: an explanation and a visualization share a lane.
    Explain: "ascend",
    ScanImages: "ascend",
    TrainDefault: "ascend",
    WalkNetwork: "walk",
    ShowKernels: "kernels",
    TraceCircuit: "circuit",
    ShowTopImages: "top",
    # Model B of a comparison: its own lane, never served between steps (it may run long, and
    # swapping B under a running Compare would mix two models in one result).
    LoadComparison: "comparison",
    Compare: "ascend",
}
_WHAT = {
    LoadModel: "model",
    OpenImage: "image",
    ShowFeatureMaps: "layer",
    TweakRun: "visualization",
    Ascend: "visualization",
    Atlas: "atlas",
    Explain: "explanation",
    WalkNetwork: "layer",
    ScanImages: "scan",
    ShowKernels: "kernels",
    TraceCircuit: "circuit",
    ShowTopImages: "scan",
    TrainDefault: "training",
    LoadComparison: "comparison",
    Compare: "comparison",
}
# Requests quick enough to serve between two steps of a running visualization.
_QUICK_LANES = ("tweak", "cache", "image", "maps", "walk", "kernels", "circuit", "top")


# Requests that run long and check for cancellation as they go.
_LONG_JOBS = (Ascend, Atlas, Explain, ScanImages, TrainDefault, Compare)


# Lanes whose requests download first, and stop when asked (CancelLoad).
_LOAD_LANES = ("model", "comparison")


def _cancelled_by(cancel: CancelLoad, request: Request | None) -> bool:
    """Whether `cancel` is aimed at `request` (waiting or running): a load, by id or any."""
    if request is None or _lane(request) not in _LOAD_LANES:
        return False
    return cancel.load_id in (None, request.request_id)


def _replaces(new: Request, running: Request) -> bool:
    """Whether `new` makes the running request pointless: the newest of a lane wins (a new
    visualization stops the running one, a new model B the old B's download), and a new model
    A makes all running work stale except model B's load."""
    if isinstance(new, LoadModel):
        return _lane(running) != "comparison"
    return _lane(new) == _lane(running)


def _lane(request: Request) -> str:
    if isinstance(request, Atlas) and request.cache_only:
        return "cache"  # a look-up in the atlas cache computes nothing: it never waits for a run
    return _LANES[type(request)]


def user_message(error: BaseException) -> str:
    """A sentence for the window: our own errors speak for themselves, others get their type."""
    from engine.images.convert import ImageError

    text = str(error).strip()
    # Our messages start with the file or layer name, exactly as the user knows it.
    if isinstance(error, (ImageError, ValueError)) and text:
        return text
    if type(error).__name__ in ("ModelLoadError", "LayerError") and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class EngineThread(QThread):
    """Owns every TensorFlow call, including `import tensorflow`."""

    status = Signal(object)  # Status: what the engine is busy with, for the status bar
    model_loaded = Signal(object)  # ModelLoaded: the new model's layer tree
    image_opened = Signal(object)  # ImageOpened: the converted image and its predictions
    feature_maps = Signal(object)  # FeatureMaps: a layer's activations for the current image
    frame = Signal(object)  # Frame: a snapshot of a running visualization
    run_finished = Signal(object)  # RunFinished: a visualization completed or was stopped
    atlas_tile = Signal(object)  # AtlasTile: one filter image of a layer atlas (live or final)
    atlas_progress = Signal(object)  # AtlasProgress: filters done of a layer atlas
    explanation = Signal(object)  # Explanation: an attribution map for the current image
    progress = Signal(object)  # Progress: how far a long explanation is
    kernels = Signal(object)  # Kernels: one filter's weights and its layer's statistics
    circuit = Signal(object)  # Circuit: a filter's input channels, strongest first
    scan_progress = Signal(object)  # ScanProgress: images scanned of a folder
    scan_summary = Signal(object)  # ScanSummary: firing statistics of the last scan
    top_images = Signal(object)  # TopImages: the images that excite one filter most
    training = Signal(object)  # TrainProgress: an epoch of training the MNIST CNN, or its end
    comparison_loaded = Signal(object)  # ComparisonLoaded: model B of the comparison is loaded
    comparison = Signal(object)  # Comparison: models A and B on one unit and image
    compare_frame = Signal(object)  # CompareFrame: a snapshot of one side's visualization
    download = Signal(object)  # DownloadProgress: bytes of a model's weights being downloaded
    failed = Signal(object)  # EngineFailure: a request failed; the thread lives on

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)
        self._mailbox: OrderedDict[str, Request] = OrderedDict()
        self._wake = threading.Condition()
        self._running: Request | None = None
        self._cancel = threading.Event()
        self._quit = False
        self._session = None
        self.setObjectName("convscope-engine")

    # ------------------------------------------------------------------ called from the GUI

    def submit(self, request: Request) -> None:
        """Queue a request; thread-safe, returns at once."""
        with self._wake:
            running = self._running
            if isinstance(request, StopRun):
                self._mailbox.pop("ascend", None)
                if isinstance(running, _LONG_JOBS):
                    self._cancel.set()
                return
            if isinstance(request, CancelLoad):
                # Model loads (A's or B's) check should_stop while they download weights; being
                # in their own lanes, a new visualization or StopRun never cancels them.
                for lane in _LOAD_LANES:
                    if _cancelled_by(request, self._mailbox.get(lane)):
                        del self._mailbox[lane]
                if _cancelled_by(request, running):
                    self._cancel.set()
                return
            lane = _lane(request)
            if isinstance(request, LoadModel):
                # Everything waiting refers to the old model, except model B.
                for stale in [name for name in self._mailbox if name != "comparison"]:
                    del self._mailbox[stale]
            if running is not None and _replaces(request, running):
                self._cancel.set()
            self._mailbox.pop(lane, None)
            self._mailbox[lane] = request
            self._wake.notify()

    def stop(self) -> None:
        """Ask the thread to finish: the running step completes, nothing else starts.

        The caller then waits with `wait()`; the thread is never terminated by force.
        """
        with self._wake:
            self._quit = True
            self._mailbox.clear()
            self._cancel.set()
            self._wake.notify()

    def is_busy(self) -> bool:
        with self._wake:
            return self._running is not None or bool(self._mailbox)

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        self.status.emit(Status("Loading TensorFlow…", busy=True))
        try:
            # Keep TensorFlow's C++ start-up chatter out of the user's terminal.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from engine.session import EngineSession, warm_up

            warm_up()
            self._session = EngineSession(self._emit)
        except Exception as error:
            self.failed.emit(
                EngineFailure(
                    0, "engine", f"TensorFlow could not start: {error}", traceback.format_exc()
                )
            )
            return
        self.status.emit(Status("Ready"))
        while True:
            with self._wake:
                while not self._mailbox and not self._quit:
                    self._wake.wait()
                if self._quit:
                    return
                _, request = self._mailbox.popitem(last=False)
                self._running = request
                self._cancel.clear()
            self._process(request)
            with self._wake:
                self._running = None

    def _process(self, request: Request, *, between_steps: bool = False) -> None:
        try:
            self._session.handle(request, self._should_stop)
            if not between_steps:  # a run is still going on otherwise
                self.status.emit(Status("Ready"))
        except Exception as error:
            if not between_steps:
                self.status.emit(Status("Ready"))
            self.failed.emit(
                EngineFailure(
                    request.request_id,
                    _WHAT[type(request)],
                    user_message(error),
                    traceback.format_exc(),
                )
            )

    def _should_stop(self) -> bool:
        """Checked before every step of a visualization; serves quick requests meanwhile."""
        while True:
            with self._wake:
                if self._cancel.is_set() or self._quit:
                    return True
                lane = next((name for name in _QUICK_LANES if name in self._mailbox), None)
                if lane is None:
                    return False
                request = self._mailbox.pop(lane)
            self._process(request, between_steps=True)

    def _emit(self, result: object) -> None:
        signal = {
            Status: self.status,
            ModelLoaded: self.model_loaded,
            ImageOpened: self.image_opened,
            FeatureMaps: self.feature_maps,
            Frame: self.frame,
            RunFinished: self.run_finished,
            AtlasTile: self.atlas_tile,
            AtlasProgress: self.atlas_progress,
            Explanation: self.explanation,
            Progress: self.progress,
            Kernels: self.kernels,
            Circuit: self.circuit,
            ScanProgress: self.scan_progress,
            ScanSummary: self.scan_summary,
            TopImages: self.top_images,
            TrainProgress: self.training,
            DownloadProgress: self.download,
            ComparisonLoaded: self.comparison_loaded,
            Comparison: self.comparison,
            CompareFrame: self.compare_frame,
        }[type(result)]
        signal.emit(result)
