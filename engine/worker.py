"""The engine thread: the one place where TensorFlow runs, and the only engine module using Qt.

Requests arrive through `submit` from the GUI thread and wait in a mailbox with one slot per
lane; each request's `policy()` (engine/protocol/requests.py) says its lane, whether it is
quick, and which lanes it stops. That is all this module reads:

- The newest request of a lane wins: it replaces the one waiting there (a lane may have
  slots that wait side by side: the atlas cache is looked up per layer).
- A request drops the waiting requests of every lane it stops, and cancels the running job if
  that job's lane is among them; a long job notices before its next step, a quick job between
  two of its results. Every request taken ends with exactly one JobEnded, also when it was
  dropped before it ran (reason CANCELLED).
- One job runs at a time. While a long job runs, quick requests are served between its steps,
  one result (a slice) at a time and for at most SLICE_BUDGET_S per step, so the running job
  never stands still for longer than one slice: a network walk streams one layer per slice.

So, for every pair (row: the request that arrives; column: a job running or waiting in that
lane; "stop": a running job is cancelled and a waiting one dropped, "wait": it runs after the
running job, "serve": served in slices between the running job's steps):

| arrives ↓ / lane →            | model A    | model B    | run       | explain   | quick lanes |
| ----------------------------- | ---------- | ---------- | --------- | --------- | ----------- |
| LoadModel                     | stop       | keep       | stop      | stop      | drop        |
| LoadComparison                | keep       | stop       | keep      | keep      | keep        |
| a run (1)                     | wait       | wait       | stop (2)  | stop      | keep        |
| Explain, on purpose (3)       | wait       | wait       | stop (2)  | stop      | keep        |
| Explain, Live or automatic    | wait       | wait       | serve (4) | stop      | keep        |
| a quick request (5)           | serve      | serve      | serve     | serve     | own lane: stop |
| StopRun                       | keep       | keep       | stop      | stop      | keep        |
| CancelExplain                 | keep       | keep       | keep      | stop      | keep        |
| CancelLoad(load_id)           | stop (6)   | stop (6)   | keep      | keep      | keep        |

(1) Ascend, ContinueRun, Atlas, ScanImages, EvaluateDataset, TrainDefault, Compare: one
    lane, the newest wins.
(2) A stopped visualization keeps its state: ContinueRun resumes it.
(3) `Explain(interrupts=True)`: the Explain tab's button.
(4) A fast method; a slow one waits for the run to end.
(5) OpenImage, ShowFeatureMaps, WalkNetwork, TweakRun, ShowKernels, TraceCircuit,
    ShowTopImages, Atlas(cache_only): each in its own lane (the cache's, one slot per layer).
(6) Only the load it names (any load when `load_id` is None).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QThread, Signal

from engine.protocol import (
    AtlasProgress,
    AtlasTile,
    Circuit,
    CompareFrame,
    Comparison,
    ComparisonLoaded,
    DownloadProgress,
    EndReason,
    EngineFailure,
    FailureKind,
    FeatureMaps,
    Frame,
    ImageOpened,
    JobEnded,
    Kernels,
    Lane,
    MicroscopeProgress,
    ModelLoaded,
    Policy,
    Progress,
    Request,
    ScanProgress,
    ScanSummary,
    Status,
    TopImages,
    TrainProgress,
)

if TYPE_CHECKING:
    from engine.jobs.job import Done, Job
    from engine.session import EngineSession

# Quick work served between two steps of a long job takes at most about this long (one slice
# at least, however long it takes).
SLICE_BUDGET_S = 0.02


class EngineThread(QThread):
    """Owns every TensorFlow call, including `import tensorflow`."""

    status = Signal(object)  # Status: what the engine is busy with, for the status bar
    model_loaded = Signal(object)  # ModelLoaded: the new model's layer tree
    image_opened = Signal(object)  # ImageOpened: the converted image and its predictions
    feature_maps = Signal(object)  # FeatureMaps: a layer's activations for the current image
    frame = Signal(object)  # Frame: a snapshot of a running visualization
    atlas_tile = Signal(object)  # AtlasTile: one filter image of a layer atlas (live or final)
    atlas_progress = Signal(object)  # AtlasProgress: filters done of a layer atlas
    progress = Signal(object)  # Progress: how far a long explanation is
    kernels = Signal(object)  # Kernels: one filter's weights and its layer's statistics
    circuit = Signal(object)  # Circuit: a filter's input channels, strongest first
    scan_progress = Signal(object)  # ScanProgress: images scanned of a folder
    scan_summary = Signal(object)  # ScanSummary: firing statistics of the last scan
    top_images = Signal(object)  # TopImages: the images that excite one filter most
    training = Signal(object)  # TrainProgress: an epoch of training the MNIST CNN
    comparison_loaded = Signal(object)  # ComparisonLoaded: model B of the comparison is loaded
    comparison = Signal(object)  # Comparison: A and B's maps and predictions, before growing
    compare_frame = Signal(object)  # CompareFrame: a snapshot of one side's visualization
    download = Signal(object)  # DownloadProgress: bytes of a model's weights being downloaded
    microscope_progress = Signal(object)  # MicroscopeProgress: chunks built of a microscope
    ended = Signal(object)  # JobEnded: a request's last word: why, its final value, a failure

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]  # a QObject parent or None
        self._wake = threading.Condition()
        # Guarded by _wake:
        self._mailbox: OrderedDict[tuple[Lane, str], Request] = OrderedDict()
        self._dropped: list[Request] = []  # taken off the mailbox unrun: each gets a JobEnded
        self._running: Request | None = None
        self._stale_slices: list[Policy] = []  # policies of requests that came meanwhile
        self._cancel = threading.Event()
        self._quit = False
        # The engine thread's own:
        self._slices: OrderedDict[tuple[Lane, str], tuple[Request, Job]] = OrderedDict()
        self._session: EngineSession | None = None
        self._describe_failure: Callable[[int, BaseException], EngineFailure] = _bare_failure
        self.setObjectName("convscope-engine")

    # ------------------------------------------------------------------ called from the GUI

    def submit(self, request: Request) -> None:
        """Queue a request; thread-safe, returns at once."""
        policy = request.policy()
        with self._wake:
            for key, waiting in list(self._mailbox.items()):
                if policy.stops(waiting.policy()) and request.aims_at(waiting):
                    self._dropped.append(self._mailbox.pop(key))
            running = self._running
            if running is not None and policy.stops(running.policy()) and request.aims_at(running):
                self._cancel.set()
            if policy.queued:
                self._stale_slices.append(policy)
                self._mailbox[policy.key] = request
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
            return self._running is not None or bool(self._mailbox) or bool(self._slices)

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        self.status.emit(Status("Loading TensorFlow…", busy=True))
        try:
            # Keep TensorFlow's C++ start-up chatter out of the user's terminal.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            # Deliberately lazy: TensorFlow loads here, in this thread, after the window shows.
            from engine.tf_import import import_tensorflow

            import_tensorflow()
            from engine.failures import failure
            from engine.session import EngineSession, warm_up

            warm_up()
            self._session = EngineSession(self._emit)
            self._describe_failure = failure
        except Exception as error:
            message = f"TensorFlow could not start: {error}"
            broken = EngineFailure(0, FailureKind.STARTUP, message, repr(error))
            self.ended.emit(JobEnded(0, EndReason.FAILED, failure=broken))
            return
        self.status.emit(Status("Ready"))
        while True:
            with self._wake:
                while not (self._mailbox or self._slices or self._dropped or self._quit):
                    self._wake.wait()
                if self._quit:
                    return
                dropped, self._dropped = self._dropped, []
                if not self._slices:
                    self._stale_slices.clear()  # they only matter to slices begun earlier
                request = None
                if not self._slices and self._mailbox:
                    _, request = self._mailbox.popitem(last=False)
                    self._running = request
                    self._cancel.clear()
            self._announce_dropped(dropped)
            if request is not None:
                self._run_whole(request)
            else:
                self._take_quick_requests()  # drops slices a newer request made stale
                self._finish_slices()
            with self._wake:
                self._running = None
                idle = not (self._mailbox or self._slices)
            if idle:
                self.status.emit(Status("Ready"))

    def _run_whole(self, request: Request) -> None:
        """Drive `request`'s job to its end; a quick one stops between results if cancelled."""
        quick = request.policy().quick
        started = self._start(request, self._should_stop)
        if started is None:
            return
        job = started
        while True:
            if quick and self._cancel.is_set():
                job.close()
                self._end(request, EndReason.CANCELLED)
                return
            if not self._advance(request, job):
                return

    def _finish_slices(self) -> None:
        """Quick jobs begun between the steps of a long one that has ended: finish them."""
        while self._slices:
            self._serve_slice(budget_s=0.0)

    def _should_stop(self) -> bool:
        """Checked by a long job before each step; serves quick work in slices meanwhile."""
        if self._cancel.is_set() or self._quit:
            return True
        # Read without the lock (a stale answer only defers the look to the next step): most
        # steps have nothing new, and this runs hundreds of times a second.
        if self._mailbox or self._dropped or self._stale_slices:
            self._take_quick_requests()
        started = time.monotonic()
        while self._slices and time.monotonic() - started < SLICE_BUDGET_S:
            self._serve_slice(budget_s=SLICE_BUDGET_S)
        return self._cancel.is_set() or self._quit

    def _take_quick_requests(self) -> None:
        with self._wake:
            dropped, self._dropped = self._dropped, []
            newer, self._stale_slices = self._stale_slices, []
            quick = [key for key, waiting in self._mailbox.items() if waiting.policy().quick]
            taken = [self._mailbox.pop(key) for key in quick]
        self._announce_dropped(dropped)
        for key, (request, job) in list(self._slices.items()):
            if any(policy.stops(request.policy()) for policy in newer):
                del self._slices[key]
                job.close()
                self._end(request, EndReason.CANCELLED)
        for request in taken:
            started = self._start(request, self._quitting)
            if started is not None:
                self._slices[request.policy().key] = (request, started)

    def _serve_slice(self, budget_s: float) -> None:
        """One result of the oldest quick job begun between steps (its last: its JobEnded)."""
        key = next(iter(self._slices))
        request, job = self._slices[key]
        between_steps = budget_s > 0
        if not self._advance(request, job, hide_status=between_steps):
            del self._slices[key]

    # ------------------------------------------------------------------ one job

    def _start(self, request: Request, should_stop: Callable[[], bool]) -> Job | None:
        if self._session is None:
            raise RuntimeError("the engine takes requests only once TensorFlow has started")
        try:
            return self._session.job(request, should_stop)
        except Exception as error:
            self._fail(request, error)
            return None

    def _advance(self, request: Request, job: Job, hide_status: bool = False) -> bool:
        """Emit the job's next result; at its end, its JobEnded. Whether it goes on."""
        try:
            item = next(job)
        except StopIteration as stopped:
            done: Done | None = stopped.value
            reason = done.reason if done is not None else EndReason.FINISHED
            self._end(request, reason, value=done.value if done is not None else None)
            return False
        except Exception as error:
            self._fail(request, error)
            return False
        if not (hide_status and isinstance(item, Status)):  # the run's own status stays up
            self._emit(item)
        return True

    def _end(
        self,
        request: Request,
        reason: EndReason,
        value: object = None,
        failure: EngineFailure | None = None,
    ) -> None:
        self.ended.emit(JobEnded(request.request_id, reason, value, failure))

    def _fail(self, request: Request, error: Exception) -> None:
        self._end(
            request, EndReason.FAILED, failure=self._describe_failure(request.request_id, error)
        )

    def _announce_dropped(self, dropped: list[Request]) -> None:
        for request in dropped:
            self._end(request, EndReason.CANCELLED)

    def _quitting(self) -> bool:
        return self._quit

    def _emit(self, result: object) -> None:
        signal = {
            Status: self.status,
            ModelLoaded: self.model_loaded,
            ImageOpened: self.image_opened,
            FeatureMaps: self.feature_maps,
            Frame: self.frame,
            AtlasTile: self.atlas_tile,
            AtlasProgress: self.atlas_progress,
            Progress: self.progress,
            Kernels: self.kernels,
            Circuit: self.circuit,
            ScanProgress: self.scan_progress,
            ScanSummary: self.scan_summary,
            TopImages: self.top_images,
            TrainProgress: self.training,
            DownloadProgress: self.download,
            MicroscopeProgress: self.microscope_progress,
            ComparisonLoaded: self.comparison_loaded,
            Comparison: self.comparison,
            CompareFrame: self.compare_frame,
            JobEnded: self.ended,
        }[type(result)]
        signal.emit(result)


def _bare_failure(request_id: int, error: BaseException) -> EngineFailure:
    """Until TensorFlow has loaded (engine/failures.py needs it), a failure is a bug."""
    return EngineFailure(request_id, FailureKind.BUG, f"{type(error).__name__}: {error}")
