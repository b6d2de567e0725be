"""The weights a load downloads first (a zoo model's ImageNet weights): a small window with the
progress and Cancel, for model A or model B of a comparison alike."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from engine.protocol import CancelLoad, DownloadProgress, JobEnded
from gui.common.feedback import Feedback
from gui.dialogs.download_dialog import DownloadDialog
from gui.engine_client import EngineClient, Job


class DownloadController(QObject):
    """Watches the loads it is given; the dialog shows the one downloading last."""

    def __init__(self, client: EngineClient, feedback: Feedback, parent_widget: QWidget) -> None:
        super().__init__()
        self._client = client
        self._feedback = feedback
        self._parent_widget = parent_widget
        self.dialog: DownloadDialog | None = None  # made on the first download, then reused
        self._shown: Job | None = None  # the load whose download the dialog shows
        self._what: dict[int, str] = {}  # what each watched load downloads, once it has begun

    def watch(self, job: Job, kept: str) -> None:
        """Show the download of load `job`, if it downloads; `kept` ('; mnist stays open') ends
        the line that says it was cancelled."""
        job.download.connect(partial(self._on_job_download, job))
        job.ended.connect(partial(self._on_job_ended, job, kept))
        job.dropped.connect(partial(self._on_job_dropped, job))

    def cancel_download(self, request_id: int = 0) -> None:
        """Stop the download the dialog shows (or of load `request_id`); what is open stays."""
        wanted = request_id or (self._shown.request_id if self._shown is not None else 0)
        if not wanted:
            return
        if self.dialog is not None:
            self.dialog.set_cancelling()
        self._client.submit(CancelLoad(wanted))

    # ------------------------------------------------------------------ job results

    def _on_job_download(self, job: Job, progress: DownloadProgress) -> None:
        self._shown = job
        self._what[job.request_id] = progress.what
        if self.dialog is None:
            self.dialog = DownloadDialog(self._parent_widget)
            self.dialog.cancel_requested.connect(self.cancel_download)
        self.dialog.set_progress(progress)
        if not self.dialog.isVisible():
            self.dialog.show()  # never exec(): the window stays live

    def _on_job_ended(self, job: Job, kept: str, ended: JobEnded) -> None:
        # Loaded (perhaps despite a Cancel after the last chunk), failed (the message bar says
        # why) or cancelled: the download is over either way.
        what = self._what.pop(job.request_id, "")
        self._close(job)
        if ended.cancelled and what:
            self._feedback.say(f"Download of the {what} cancelled{kept}")

    def _on_job_dropped(self, job: Job) -> None:
        # A newer load replaced this one: the engine stops its download by itself.
        self._what.pop(job.request_id, None)
        self._close(job)

    def _close(self, job: Job) -> None:
        if job is not self._shown:
            return
        self._shown = None
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.hide()
