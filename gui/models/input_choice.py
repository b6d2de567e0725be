"""How model A takes its input, asked of the user when the model leaves it open (pixel
preprocessing no file describes, a free input size) and on Model › Input Preprocessing and Size…"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from engine.protocol import LoadModel, ModelSummary
from engine.protocol.input_spec import InputPreprocessing
from gui.common.feedback import Feedback
from gui.dialogs.model_input_dialog import ModelInputDialog
from gui.models.input_memory import BUILT_IN, ModelInputs


class ModelInputController(QObject):
    """The model input dialog: shown once per file and session, its answer remembered."""

    chosen = Signal(object)  # LoadModel: the model on show, to load again with the user's choice

    def __init__(self, feedback: Feedback, inputs: ModelInputs, parent_widget: QWidget) -> None:
        super().__init__()
        self._feedback = feedback
        self._inputs = inputs
        self._parent_widget = parent_widget
        self.dialog: ModelInputDialog | None = None
        self._shown: tuple[ModelSummary, LoadModel] | None = None  # the model on show
        # Files already asked about in this session: cancelling the dialog must not bring it
        # back on every reload of the same file.
        self._asked: set[str] = set()

    def choose_model_input(self) -> None:
        """Model › Input Preprocessing and Size…: show the dialog for the model on show."""
        if self._shown is None:
            self._feedback.error("Open a model first; then choose how it takes its input.")
            return
        summary, request = self._shown
        if summary.input_origin == "zoo":
            self._feedback.error(
                "Zoo models have their preprocessing and size built in; nothing to choose."
            )
            return
        if self.dialog is not None:
            self.dialog.deleteLater()  # one dialog at a time, not one per call
        dialog = ModelInputDialog(
            summary, Path(summary.source).name or summary.name, self._parent_widget
        )
        # Bound now: the answer is for the model on show, whatever is opened meanwhile.
        dialog.chosen.connect(partial(self._on_dialog_chosen, request))
        self.dialog = dialog
        dialog.open()  # window-modal but not blocking: the engine keeps running meanwhile

    def model_shown(self, summary: ModelSummary, request: LoadModel | None) -> None:
        """A model is on show (loaded by `request`): ask once for what it leaves open."""
        self._shown = (summary, request) if request is not None else None
        if request is None or summary.input_origin == "zoo":
            return
        unsure = summary.input_origin == "assumed"
        unsized = summary.free_size and request.input_size is None
        key = request.path or BUILT_IN
        if (unsure or unsized) and key not in self._asked:
            self._asked.add(key)
            self.choose_model_input()

    def _on_dialog_chosen(
        self, request: LoadModel, spec: InputPreprocessing | None, side: int | None
    ) -> None:
        self._inputs.remember(request.path, spec, side)
        self.chosen.emit(
            LoadModel(request.path, request.random_weights, request.trusted, spec, side)
        )
