"""Model A: open a file, a SavedModel folder, a zoo model or the built-in one; say what is open;
offer what to do when a file holds code or weights cannot be downloaded."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from engine.protocol import EngineFailure, FailureKind, JobEnded, LoadModel, ModelLoaded
from engine.protocol.input_spec import InputPreprocessing
from gui.common.feedback import Feedback
from gui.engine_client import EngineClient, JobSlot
from gui.models.input_memory import ModelInputs, is_zoo
from gui.state import WindowState

TRUST_BUTTON = "Open anyway (I trust this file)"
RANDOM_WEIGHTS_BUTTON = "Open with random weights"


class ModelController(QObject):
    """Loads model A and shows it: the tree and every tab follow the state's new model."""

    # The path of a model file or folder that opened (Open Recent lists it) or failed to (out).
    opened = Signal(str)
    failed = Signal(str)
    load_started = Signal(object, str)  # Job of a LoadModel; what stays open if it is cancelled
    shown = Signal(object, object)  # ModelSummary and the LoadModel it came from, once shown
    title_changed = Signal(str)  # the window's title for the model on show

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        inputs: ModelInputs,
        model_label: QLabel,
    ) -> None:
        super().__init__()
        self._state = state
        self._feedback = feedback
        self._inputs = inputs
        self._label = model_label
        self._load = JobSlot(client)
        self._shown: LoadModel | None = None  # the request of the model on show

    def open_model(
        self,
        path: str | None,
        random_weights: bool = False,
        trusted: bool = False,
        preprocessing: InputPreprocessing | None = None,
        input_size: int | None = None,
    ) -> None:
        """Load a model file, or the built-in one with None; "zoo:NAME" builds a zoo model
        (untrained with `random_weights`). A file holding Python code loads only `trusted`.
        Without `preprocessing` and `input_size`, the ones chosen for this file before apply."""
        if preprocessing is None and input_size is None:
            preprocessing, input_size = self._inputs.remembered(path)
        self._feedback.clear()
        request = LoadModel(path, random_weights, trusted, preprocessing, input_size)
        job = self._load.start(
            request,
            model_loaded=partial(self._on_job_model_loaded, request),
            ended=partial(self._on_job_ended, request),
        )
        summary = self._state.summary
        self.load_started.emit(job, f"; {summary.name} stays open" if summary else "")

    def offer_smaller_side(self, failure: EngineFailure) -> None:
        """A job ran out of memory on a model that takes any size: offer to reopen it at the
        side at which the job fits (its preprocessing kept)."""
        request, side = self._shown, failure.fitting_side
        if request is None or side is None:
            return
        self._feedback.error(
            failure.message,
            f"Open at {side} px",
            lambda: self.open_model(
                request.path,
                random_weights=request.random_weights,
                trusted=request.trusted,
                preprocessing=request.preprocessing,
                input_size=side,
            ),
        )

    def open_like(self, request: LoadModel) -> None:
        """Load the model of `request` again, as it says (e.g. with a new input choice)."""
        self.open_model(
            request.path,
            random_weights=request.random_weights,
            trusted=request.trusted,
            preprocessing=request.preprocessing,
            input_size=request.input_size,
        )

    # ------------------------------------------------------------------ job results

    def _on_job_model_loaded(self, request: LoadModel, loaded: ModelLoaded) -> None:
        summary = loaded.summary
        self._shown = request
        self._state.set_model(summary)
        h, w, c = summary.input_shape
        untrained = " · untrained (random weights)" if summary.untrained else ""
        size = f"{h}×{w}×{c}" + (" (free size)" if summary.free_size else "")
        pixels = f" · pixels {summary.preprocessing.describe()}"
        if summary.input_origin == "assumed":
            pixels += " (assumed)"
        self._label.setText(f"{summary.name} · input {size}{pixels}{untrained}")
        memory = ""
        if summary.open_bytes:
            memory += f"; opening it takes about {_size(summary.open_bytes)} of memory"
        if summary.image_bytes:  # what the engine plans with before a run (optvis/memory.py)
            memory += f"; one image visualized needs about {_size(summary.image_bytes)}"
        self._label.setToolTip(f"Model › Input Preprocessing and Size… changes this{memory}")
        marker = " (untrained)" if summary.untrained else ""
        self.title_changed.emit(f"convscope — {Path(summary.source).name}{marker}")
        if summary.signature_only:
            self._feedback.info(summary.description)  # why the tree is so short
        self.shown.emit(summary, request)
        if request.path is not None and not is_zoo(request.path):
            self.opened.emit(request.path)

    def _on_job_ended(self, request: LoadModel, ended: JobEnded) -> None:
        failure = ended.failure
        if failure is None:
            return  # loaded, or cancelled: the download says so, the current model stays
        path = request.path
        if path is not None and not is_zoo(path):
            self.failed.emit(path)
        if failure.kind is FailureKind.UNTRUSTED and path is not None:
            self._feedback.error(
                failure.message, TRUST_BUTTON, lambda: self.open_model(path, trusted=True)
            )
        elif failure.kind is FailureKind.DOWNLOAD and is_zoo(path) and not request.random_weights:
            self._feedback.error(
                failure.message,
                RANDOM_WEIGHTS_BUTTON,
                lambda: self.open_model(path, random_weights=True),
            )
        else:
            self._feedback.error(failure.message)


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**29 else f"{max(1, round(count / 2**20))} MB"
