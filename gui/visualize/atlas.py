"""The layer atlas: grow every filter of a layer and fill the grid live; show what the cache
holds for a layer as soon as it is selected."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
from PySide6.QtCore import QObject

from engine.protocol import Atlas, AtlasProgress, AtlasTile, JobEnded, LayerInfo, LayerPath, StopRun
from gui.common.feedback import Feedback
from gui.common.imaging import visualization_picture
from gui.engine_client import EngineClient, Job, JobSlot
from gui.layers.filter_picker import FilterPicker
from gui.state import WindowState
from gui.visualize.atlas_bar import AtlasBar
from gui.visualize.controls import AscentControls


class AtlasController(QObject):
    """Run › Visualize Whole Layer, its progress bar and Cancel, and cache look-ups."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        bar: AtlasBar,
        picker: FilterPicker,
        controls: AscentControls,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._bar = bar
        self._picker = picker
        self._controls = controls
        self._atlas = JobSlot(client)  # a full atlas the user started
        self._look_up = JobSlot(client)  # what the cache holds for the selected layer
        self._dead: set[int] = set()  # filters of the running atlas that never fire
        self._look_up_wanted = False  # look in the cache once the running atlas has ended
        # The selected layer's raw tiles by unit, to draw them again in another display mode.
        self._tiles: dict[int, np.ndarray] = {}

        state.model_changed.connect(self._on_state_model_changed)
        state.layer_changed.connect(self._on_state_layer_changed)
        state.running_changed.connect(self._on_state_running_changed)
        bar.atlas_requested.connect(self.visualize_layer)
        bar.cancel_requested.connect(self.cancel_atlas)

    # ------------------------------------------------------------------ public actions

    def visualize_layer(self) -> None:
        """Grow an image for every filter of the selected layer, filling the grid as they come."""
        layer = self._state.layer
        if layer is None or not layer.visualizable:
            self._feedback.error("Pick a layer with channels or units first.")
            return
        self._look_up.drop()
        self._look_up_wanted = False
        self._dead = set()
        self._bar.start(layer.size)
        self._bar.set_progress(0, layer.size, layer.name)
        self._feedback.say(f"Growing all {layer.size} filters of {layer.name}…")
        request = Atlas(layer.path, None, self._controls.settings())
        job = self._atlas.start(request, **self._job_slots(by_user=True))
        self._state.set_running(job)

    def redraw(self) -> None:
        """Draw the grid's grown images again with the current display mode."""
        for unit, image in self._tiles.items():
            if 0 <= unit < self._picker.unit_count():
                self._picker.set_visualization(unit, visualization_picture(image))

    def cancel_atlas(self) -> None:
        """Stop the running atlas; the filters done so far keep their images."""
        self._client.submit(StopRun())

    # ------------------------------------------------------------------ job results

    def _job_slots(self, by_user: bool) -> dict[str, Callable[..., object]]:
        return dict(
            atlas_tile=self._on_job_atlas_tile,
            atlas_progress=self._on_job_atlas_progress,
            ended=partial(self._on_job_ended, by_user),
        )

    def _on_job_atlas_tile(self, tile: AtlasTile) -> None:
        layer = self._state.layer
        if layer is None or tile.layer != layer.path:
            return  # a tile of a layer the user has left; the cache keeps it for later
        if not 0 <= tile.unit < self._picker.unit_count():
            return
        self._tiles[tile.unit] = tile.image
        self._picker.set_visualization(tile.unit, visualization_picture(tile.image))
        if not tile.final:
            return
        self._picker.mark_dead(tile.unit, tile.dead)
        self._picker.set_details(tile.unit, _tile_details(tile))
        if tile.dead:
            self._dead.add(tile.unit)

    def _on_job_atlas_progress(self, progress: AtlasProgress) -> None:
        self._bar.set_progress(progress.done, progress.total, LayerPath(progress.layer).name)

    def _on_job_ended(self, by_user: bool, ended: JobEnded) -> None:
        """An atlas (`by_user`) or a cache look-up ended: say how far it got."""
        progress = ended.value
        if ended.failure is not None:
            self._bar.finish("failed")
            self._feedback.error(ended.failure.message)
            return
        if not isinstance(progress, AtlasProgress) or progress.total == 0:
            self._bar.reset()  # a look-up that found nothing, or dropped before it began
            return
        parts = [f"{LayerPath(progress.layer).name}: {progress.done} of {progress.total} filters"]
        if progress.from_cache:
            parts.append("from the cache")
        if ended.cancelled:
            parts.append("cancelled")
        if by_user and self._dead:
            parts.append(f"{len(self._dead)} dead")
        text = " · ".join(parts)
        self._bar.finish(text)
        if by_user:
            self._feedback.say(text)

    # ------------------------------------------------------------------ helpers

    def _ask_cache(self) -> None:
        self._look_up_wanted = False
        layer = self._state.layer
        if layer is None or not layer.visualizable:
            return
        request = Atlas(layer.path, None, self._controls.settings(), cache_only=True)
        self._dead = set()
        self._look_up.start(request, **self._job_slots(by_user=False))

    # ------------------------------------------------------------------ state slots

    def _on_state_model_changed(self, _summary: object) -> None:
        self._atlas.drop()  # the engine drops everything of the old model
        self._look_up.drop()
        self._look_up_wanted = False
        self._tiles = {}
        self._bar.reset()

    def _on_state_layer_changed(self, info: LayerInfo) -> None:
        self._tiles = {}
        self._bar.set_available(info.visualizable)
        if not info.visualizable:
            return
        if self._atlas.is_running():
            # The engine would answer a look-up between the atlas's steps, but the answer
            # would take over the bar from the atlas still being computed: after it, then.
            self._look_up_wanted = True
            return
        self._bar.reset()
        self._bar.set_available(True)
        self._ask_cache()

    def _on_state_running_changed(self, job: Job | None) -> None:
        if job is None and self._look_up_wanted and not self._atlas.is_running():
            self._ask_cache()


def _tile_details(tile: AtlasTile) -> str:
    if tile.verdict is not None:  # the engine's verdict, with its evidence and what to try
        hint = f" — {tile.verdict.hint}" if tile.verdict.hint else ""
        return f"{tile.verdict.message[:1].upper()}{tile.verdict.message[1:]}{hint}"
    if tile.dead:
        return "Never fires: no starting image made it respond."
    parts = []
    if math.isfinite(tile.activation):
        parts.append(f"activation {tile.activation:.3g}")
    if tile.quality is not None and math.isfinite(tile.quality):
        parts.append(f"{tile.quality:.2g}× its best real image")
    return " · ".join(parts)
