"""The weights-download part of MainWindow: the progress dialog of a zoo model's ImageNet
weights, its Cancel, and the offer of random weights when the download fails."""

from __future__ import annotations

from engine.protocol import (
    CancelLoad,
    ComparisonLoaded,
    DownloadProgress,
    EngineFailure,
    ModelLoaded,
)
from gui.download_dialog import DownloadDialog

RANDOM_WEIGHTS_BUTTON = "Open with random weights"
# In the engine's message when a zoo model's weights could not be had (engine/weights_download
# and engine/zoo), as opposed to, say, an unknown zoo name.
WEIGHTS_PROBLEM = "ImageNet weights for"


class DownloadMixin:
    """Part of MainWindow (it uses the window's engine, message bar, `_model_request`, the
    comparison's `_comparison_request` and open_model). The dialog is made on the first
    download and reused."""

    download_dialog: DownloadDialog | None = None
    _downloading_id = 0  # the model request whose weights the dialog shows

    def _connect_download(self) -> None:
        self.engine.download.connect(self._on_engine_download)
        self.engine.model_loaded.connect(self._on_download_model_loaded)
        self.engine.comparison_loaded.connect(self._on_download_model_loaded)
        self.engine.failed.connect(self._on_download_failed)

    def cancel_download(self, request_id: int = 0) -> None:
        """Stop the weights download the dialog shows (or of load `request_id`); what is open
        stays open."""
        wanted = request_id or self._downloading_id
        if not wanted:
            return
        if self.download_dialog is not None:
            self.download_dialog.set_cancelling()
        self.engine.submit(CancelLoad(wanted))

    def _drop_download(self, replaced) -> None:
        """A new load replaces `replaced` (a LoadModel or LoadComparison, or None): the engine
        stops its download by itself, and the dialog must not wait for it."""
        if replaced is not None and replaced.request_id == self._downloading_id:
            self._downloading_id = 0
            self._close_download_dialog()

    def _newest_load_ids(self) -> tuple[int, ...]:
        requests = (self._model_request, getattr(self, "_comparison_request", None))
        return tuple(request.request_id for request in requests if request is not None)

    def _on_engine_download(self, progress: DownloadProgress) -> None:
        if progress.request_id not in self._newest_load_ids():
            return  # the download of a load the user has since replaced
        self._downloading_id = progress.request_id
        if progress.finished:
            self._close_download_dialog()
            comparison = getattr(self, "_comparison_request", None)
            if progress.cancelled and comparison and progress.request_id == comparison.request_id:
                self.compare_view.set_idle("Model B was not loaded: its download was cancelled.")
                self._say(f"Download of the {progress.what} cancelled; model B stays as it was")
            elif progress.cancelled:
                kept = f"; {self.summary.name} stays open" if self.summary else ""
                self._say(f"Download of the {progress.what} cancelled{kept}")
            return
        if self.download_dialog is None:
            self.download_dialog = DownloadDialog(self)
            self.download_dialog.cancel_requested.connect(self.cancel_download)
        self.download_dialog.set_progress(progress)
        if not self.download_dialog.isVisible():
            self.download_dialog.show()  # never exec(): the window stays live

    def _on_download_model_loaded(self, _loaded: ModelLoaded | ComparisonLoaded) -> None:
        # A Cancel that came after the last chunk: the model loaded anyway.
        self._close_download_dialog()

    def _on_download_failed(self, failure: EngineFailure) -> None:
        if failure.request_id == self._downloading_id:
            self._close_download_dialog()  # the message bar says why

    def _offer_random_weights(self, failure: EngineFailure) -> bool:
        """For a zoo model whose ImageNet weights could not be downloaded, show the error with a
        button that opens the architecture untrained; whether it did."""
        request = self._model_request
        if request is None or failure.request_id != request.request_id:
            return False
        self._close_download_dialog()
        path = request.path
        if (
            failure.what != "model"
            or not isinstance(path, str)
            or not path.lower().startswith("zoo:")
            or request.random_weights
            or WEIGHTS_PROBLEM not in failure.message
        ):
            return False
        self.message_bar.show_error(
            failure.message,
            RANDOM_WEIGHTS_BUTTON,
            lambda: self.open_model(path, random_weights=True),
        )
        self.error_shown.emit(failure.message)
        return True

    def _close_download_dialog(self) -> None:
        if self.download_dialog is not None and self.download_dialog.isVisible():
            self.download_dialog.hide()
