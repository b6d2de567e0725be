"""The Network tab: walk every layer of the model for the current image, and write the walk's
maps as pictures (File › Export Feature Maps)."""

from __future__ import annotations

from PySide6.QtCore import QObject

from engine.protocol import FeatureMaps, JobEnded, ModelSummary, WalkNetwork
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import Tab
from gui.engine_client import EngineClient, JobSlot
from gui.network.feature_grids import write_layer_grids
from gui.network.view import NetworkView
from gui.state import WindowState


class NetworkController(QObject):
    """Asks for a walk when the tab shows an image it has not walked; fills the rows."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        view: NetworkView,
        dialogs: FileDialogs,
    ) -> None:
        super().__init__()
        self._state = state
        self._feedback = feedback
        self._view = view
        self._dialogs = dialogs
        self._walk = JobSlot(client)
        self._walked = False  # the walk asked for is of the image shown now
        self._export_folder: str | None = None  # waiting for the walk to export its maps

        state.model_changed.connect(self._on_state_model_changed)
        state.image_changed.connect(self._on_state_image_changed)
        state.tab_changed.connect(self._on_state_tab_changed)

    def walk_network(self) -> None:
        """Ask for the feature maps of every layer for the current image."""
        if self._state.image is None or self._state.summary is None:
            return
        self._walked = True
        self._view.clear_maps()
        self._walk.start(
            WalkNetwork(), feature_maps=self._on_job_feature_maps, ended=self._on_job_ended
        )

    def export_feature_maps(self, folder: str | None = None) -> None:
        """Write '<layer>.png' for every layer into `folder` (asked for with None), once the
        walk through the network for the current image is complete."""
        if self._state.image is None or self._state.summary is None:
            self._feedback.error("Open an image first: feature maps are that image's activations.")
            return
        folder = folder or self._dialogs.open_folder("Export feature maps into folder")
        if not folder:
            return
        self._export_folder = folder
        if self._walked and self._view.is_complete():
            self._write_export()
            return
        if not self._walked:
            self.walk_network()
        self._feedback.say("Walking through the network to export its feature maps…")

    # ------------------------------------------------------------------ job results

    def _on_job_feature_maps(self, maps: FeatureMaps) -> None:
        self._view.set_maps(maps.layer, maps.maps)
        if self._export_folder is not None and self._view.is_complete():
            self._write_export()

    def _on_job_ended(self, ended: JobEnded) -> None:
        if ended.failure is None:
            return
        self._walked = False
        if self._export_folder is not None:
            self._export_folder = None
            self._feedback.error(f"Could not export the feature maps: {ended.failure.message}")
        else:
            self._feedback.error(ended.failure.message)

    def _write_export(self) -> None:
        folder, self._export_folder = self._export_folder, None
        if folder is None:
            return
        try:
            written = write_layer_grids(self._view.all_maps(), folder)
        except (ValueError, OSError) as error:
            self._feedback.error(f"Could not export the feature maps: {error}")
            return
        self._feedback.say(
            f"Saved {len(written)} feature-map grids (one PNG per layer) in {folder}"
        )

    # ------------------------------------------------------------------ state slots

    def _on_state_model_changed(self, summary: ModelSummary) -> None:
        self._walk.drop()
        self._walked, self._export_folder = False, None
        self._view.set_model(summary)

    def _on_state_image_changed(self, _opened: object) -> None:
        self._walk.drop()  # the maps of the old image are stale
        self._walked = False
        self._view.clear_maps()
        if self._state.tab is Tab.NETWORK:
            self.walk_network()

    def _on_state_tab_changed(self, tab: Tab) -> None:
        if tab is Tab.NETWORK and not self._walked:
            self.walk_network()
