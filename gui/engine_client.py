"""The window's side of the engine: every request becomes a Job that receives only its own results.

The engine thread answers on a fixed set of signals; `EngineClient` routes each result by its
`request_id` to the `Job` of that request, so a controller connects to its own jobs and never
compares ids. A controller keeps its current job in a `JobSlot`: starting the next one drops the
previous, as orange-widget-base's `ConcurrentMixin.start` cancels and disconnects its last task.
A dropped job receives nothing more, so a stale frame can never reach a canvas; the engine cancels
the job itself (a request stops the older one of its lane, see `Request.policy()`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from engine.protocol import EngineFailure, JobEnded, Request, Status

# The engine thread's signals that carry a result of one request (all but `status` and `ended`).
RESULT_SIGNALS = (
    "model_loaded", "image_opened", "feature_maps", "frame", "atlas_tile", "atlas_progress",
    "progress", "kernels", "circuit", "scan_progress", "scan_summary", "top_images", "training",
    "comparison_loaded", "comparison", "compare_frame", "download", "microscope_progress",
)  # fmt: skip


class Engine(Protocol):
    """What the window needs of engine.worker.EngineThread (tests/fake_engine.py has the same);
    its signals are looked up by name: RESULT_SIGNALS, `status` and `ended`."""

    def submit(self, request: Request) -> None: ...

    def stop(self) -> None: ...

    def wait(self) -> bool: ...


class Job(QObject):
    """One request given to the engine and the results that come back for it, on the signal of
    the engine thread's name (each carrying that result object), then `ended`."""

    model_loaded = Signal(object)  # ModelLoaded
    image_opened = Signal(object)  # ImageOpened
    feature_maps = Signal(object)  # FeatureMaps
    frame = Signal(object)  # Frame of a visualization
    atlas_tile = Signal(object)  # AtlasTile
    atlas_progress = Signal(object)  # AtlasProgress
    progress = Signal(object)  # Progress of a slow explanation
    kernels = Signal(object)  # Kernels
    circuit = Signal(object)  # Circuit
    scan_progress = Signal(object)  # ScanProgress
    scan_summary = Signal(object)  # ScanSummary
    top_images = Signal(object)  # TopImages
    training = Signal(object)  # TrainProgress: one epoch
    comparison_loaded = Signal(object)  # ComparisonLoaded
    comparison = Signal(object)  # Comparison: the first one, before the visualizations
    compare_frame = Signal(object)  # CompareFrame
    download = Signal(object)  # DownloadProgress of a load
    microscope_progress = Signal(object)  # MicroscopeProgress of a BuildMicroscope
    ended = Signal(object)  # JobEnded: the last word; its `value` is the job's final result
    dropped = Signal()  # the window wants nothing more of this job (a newer one replaced it)

    def __init__(self, request: Request) -> None:
        super().__init__()
        self.request = request

    @property
    def request_id(self) -> int:
        return self.request.request_id

    def connect_slots(self, slots: dict[str, Callable[..., object]]) -> None:
        """Connect each slot to the signal of its name ("frame", "ended", ...)."""
        for name, slot in slots.items():
            getattr(self, name).connect(slot)

    def drop(self) -> None:
        """Receive nothing more; the engine cancels the request by itself when a newer one of
        its lane comes (or, for a finished job, there is nothing left to cancel)."""
        if self.signalsBlocked():
            return
        self.dropped.emit()
        self.blockSignals(True)

    def end(self, ended: JobEnded) -> None:
        """The engine's last word on this job (EngineClient calls this)."""
        self.ended.emit(ended)
        self.blockSignals(True)


class EngineClient(QObject):
    """Starts jobs on the engine thread and routes what comes back to them."""

    status = Signal(object)  # Status: a line for the status bar
    # EngineFailure of a request no job waits for (a live knob, TensorFlow not starting, ...).
    failed = Signal(object)
    # EngineFailure: a job ran out of memory and the model would fit at `fitting_side` px
    smaller_side_fits = Signal(object)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._jobs: dict[int, Job] = {}
        self._unwatched: set[int] = set()  # requests submitted without a job
        for name in RESULT_SIGNALS:
            getattr(engine, name).connect(partial(self._on_engine_result, name))
        for name, slot in (("ended", self._on_engine_ended), ("status", self._on_engine_status)):
            getattr(engine, name).connect(slot)

    def start(self, request: Request, **slots: Callable[..., object]) -> Job:
        """Submit `request` as a job; `slots` connect its signals by name before it goes out."""
        job = Job(request)
        job.connect_slots(slots)
        self.launch(job)
        return job

    def launch(self, job: Job) -> None:
        """Submit the request of `job`, whose slots are connected, and route results to it."""
        self._jobs[job.request_id] = job
        job.dropped.connect(partial(self._forget, job.request_id))
        self._engine.submit(job.request)

    def submit(self, request: Request) -> None:
        """Submit a request whose results nobody waits for (StopRun, CancelLoad, TweakRun);
        should it fail, `failed` says so."""
        if request.policy().queued:  # control messages get no JobEnded
            self._unwatched.add(request.request_id)
        self._engine.submit(request)

    def close(self) -> None:
        """Stop the engine thread cooperatively and wait for it."""
        self._engine.stop()
        self._engine.wait()

    # ------------------------------------------------------------------ engine results

    def _forget(self, request_id: int) -> None:
        self._jobs.pop(request_id, None)

    def _on_engine_result(self, name: str, result: object) -> None:
        job = self._jobs.get(getattr(result, "request_id", 0))
        if job is not None:
            getattr(job, name).emit(result)

    def _on_engine_ended(self, ended: JobEnded) -> None:
        job = self._jobs.pop(ended.request_id, None)
        if job is not None:
            job.end(ended)
            if ended.failure is not None and ended.failure.fitting_side is not None:
                self.smaller_side_fits.emit(ended.failure)  # after the job's own message
            return
        unwatched = ended.request_id in self._unwatched or ended.request_id == 0
        self._unwatched.discard(ended.request_id)
        if unwatched and ended.failure is not None:
            self._emit_failure(ended.failure)
        # Anything else ended for a dropped job: nobody wants to hear of it.

    def _emit_failure(self, failure: EngineFailure) -> None:
        self.failed.emit(failure)

    def _on_engine_status(self, status: Status) -> None:
        self.status.emit(status)


class JobSlot:
    """A controller's one current job of a kind. Starting a job drops the one before it, so the
    controller's slots only ever hear from the newest."""

    def __init__(self, client: EngineClient) -> None:
        self._client = client
        self.job: Job | None = None

    def start(self, request: Request, **slots: Callable[..., object]) -> Job:
        """Drop the current job and start one for `request` with `slots` connected."""
        self.drop()
        job = Job(request)
        # Connected first, so the controller's own `ended` slot already finds the slot free.
        job.ended.connect(self._on_job_ended)
        job.connect_slots(slots)
        self.job = job
        self._client.launch(job)
        return job

    def drop(self) -> None:
        """Hear nothing more of the current job."""
        job, self.job = self.job, None
        if job is not None:
            job.drop()

    def is_running(self) -> bool:
        return self.job is not None

    def _on_job_ended(self, _ended: JobEnded) -> None:
        self.job = None
