"""How a model takes its input, as MainWindow asks and remembers it: pixel preprocessing for a
file nothing describes, and the size to work at for a model that takes any size."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

from engine.protocol import LoadModel, ModelSummary
from engine.protocol.input_spec import MAX_FREE_SIDE, MIN_FREE_SIDE, InputPreprocessing
from gui.model_input_dialog import ModelInputDialog

SETTINGS_GROUP = "model_inputs"
BUILT_IN = "<built-in>"


class ModelInputMixin:
    """Part of MainWindow (it uses the window's settings, model request and open_model)."""

    def _init_model_input(self) -> None:
        # Files already asked about in this session: cancelling the dialog must not bring it
        # back on every reload of the same file.
        self._input_asked: set[str] = set()
        self.model_input_dialog: ModelInputDialog | None = None

    # ------------------------------------------------------------------ remembered choices

    def remembered_input(self, path: str | None) -> tuple[InputPreprocessing | None, int | None]:
        """The preprocessing and side the user chose for `path` before; (None, None) if none."""
        if path is not None and path.lower().startswith("zoo:"):
            return None, None  # the zoo knows its own preprocessing and size
        raw = self._settings.value(_settings_key(path))
        if not raw:
            return None, None
        try:
            data = json.loads(str(raw))
            stated = data.get("preprocessing")
            spec = None if stated is None else InputPreprocessing.from_json(stated)
            side = data.get("size")
            side = int(side) if side is not None else None
            if side is not None and not MIN_FREE_SIDE <= side <= MAX_FREE_SIDE:
                side = None
            return spec, side
        except (ValueError, TypeError, AttributeError):
            return None, None  # a damaged setting is forgotten, not an error

    def _remember_input(
        self, path: str | None, spec: InputPreprocessing | None, side: int | None
    ) -> None:
        data = {
            "path": path or BUILT_IN,
            "preprocessing": None if spec is None else spec.to_json(),
            "size": side,
        }
        self._settings.setValue(_settings_key(path), json.dumps(data))

    # ------------------------------------------------------------------ the dialog

    def choose_model_input(self) -> None:
        """Model › Input Preprocessing and Size…: show the dialog for the current model."""
        summary = self.summary
        if summary is None:
            self._show_error("Open a model first; then choose how it takes its input.")
            return
        if summary.input_origin == "zoo":
            self._show_error(
                "Zoo models have their preprocessing and size built in; nothing to choose."
            )
            return
        request = self._shown_request
        if request is None:
            self._show_error("The model on show is still loading; try again once it has.")
            return
        title = Path(summary.source).name or summary.name
        if self.model_input_dialog is not None:
            self.model_input_dialog.deleteLater()  # one dialog at a time, not one per call
        dialog = ModelInputDialog(summary, title, self)
        # Bound now: the answer is for the model on show, whatever is opened meanwhile.
        dialog.chosen.connect(partial(self._on_model_input_chosen, request))
        self.model_input_dialog = dialog
        dialog.open()  # window-modal but not blocking: the engine keeps running meanwhile

    def _model_input_loaded(self, summary: ModelSummary) -> None:
        """Ask once for what a newly loaded model leaves open."""
        request = self._shown_request
        if request is None or summary.input_origin == "zoo":
            return
        unsure = summary.input_origin == "assumed"
        unsized = summary.free_size and request.input_size is None
        key = request.path or BUILT_IN
        if (unsure or unsized) and key not in self._input_asked:
            self._input_asked.add(key)
            self.choose_model_input()

    def _on_model_input_chosen(
        self, request: LoadModel, spec: InputPreprocessing | None, side: int | None
    ) -> None:
        self._remember_input(request.path, spec, side)
        self.open_model(
            request.path,
            random_weights=request.random_weights,
            trusted=request.trusted,
            preprocessing=spec,
            input_size=side,
        )


def _settings_key(path: str | None) -> str:
    # A hash, not the path: QSettings would read the path's slashes as nested groups.
    name = BUILT_IN if path is None else str(Path(path).resolve())
    return f"{SETTINGS_GROUP}/{hashlib.sha1(name.encode('utf-8')).hexdigest()}"
