"""The layer-atlas half of MainWindow: grow every filter of a layer and fill the grid live."""

from __future__ import annotations

import math

from engine.protocol import Atlas, AtlasProgress, AtlasTile, EngineFailure, StopRun


class AtlasMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_atlas(self) -> None:
        self._atlas_id = 0  # the newest Atlas request, a full one or a cache look-up
        self._atlas_running = False  # a full atlas the user started is going
        self._atlas_layer: tuple[str, ...] = ()
        self._atlas_dead: set[int] = set()
        self._cache_wanted = False  # look in the cache once the running job has ended

    def _connect_atlas(self) -> None:
        self.engine.atlas_tile.connect(self._on_engine_atlas_tile)
        self.engine.atlas_progress.connect(self._on_engine_atlas_progress)
        self.atlas_bar.atlas_requested.connect(self.visualize_layer)
        self.atlas_bar.cancel_requested.connect(self.cancel_atlas)

    # ------------------------------------------------------------------ public actions

    def visualize_layer(self) -> None:
        """Grow an image for every filter of the selected layer, filling the grid as they come."""
        layer = self.layer
        if layer is None or not layer.visualizable:
            self._show_error("Pick a layer with channels or units first.")
            return
        request = Atlas(layer.path, None, self.controls.settings())
        self._atlas_id = request.request_id
        self._atlas_running = True
        self._atlas_layer = layer.path
        self._atlas_dead = set()
        self._cache_wanted = False
        self.atlas_bar.start(layer.size)
        self.atlas_bar.set_progress(0, layer.size, layer.name)
        self.controls.set_running(True)
        self._drop_explain()  # the engine cancels it for this atlas
        self._say(f"Growing all {layer.size} filters of {layer.name}…")
        self.engine.submit(request)

    def cancel_atlas(self) -> None:
        """Stop the running atlas; the filters done so far keep their images."""
        self.engine.submit(StopRun())

    # ------------------------------------------------------------------ called by the window

    def _layer_shown(self) -> None:
        """A layer was selected: show what the cache holds for it with the current recipe."""
        if not self._atlas_running:
            self.atlas_bar.reset()
            self.atlas_bar.set_available(True)
        # The engine answers a cache look-up between the steps of a running visualization, but
        # the look-up would take over the atlas bar from an atlas still being computed.
        if self._atlas_running:
            self._cache_wanted = True
        else:
            self._ask_cache()

    def _after_job(self) -> None:
        """A visualization or an atlas ended: make the cache look-up it held back."""
        if self._cache_wanted and not self._atlas_running:
            self._ask_cache()

    def _forget_atlas(self) -> None:
        """A new model is coming: the engine drops everything of the old one."""
        self._atlas_id = 0
        self._atlas_running = False
        self._cache_wanted = False
        self.atlas_bar.reset()

    def _on_atlas_failed(self, failure: EngineFailure) -> None:
        if failure.what == "atlas" and failure.request_id == self._atlas_id:
            self._end_atlas("failed")

    # ------------------------------------------------------------------ engine results

    def _on_engine_atlas_tile(self, tile: AtlasTile) -> None:
        if self.layer is None or tile.layer != self.layer.path:
            return  # a tile of a layer the user has left; the cache keeps it for later
        if not 0 <= tile.unit < self.filter_picker.unit_count():
            return
        self.filter_picker.set_visualization(tile.unit, tile.image)
        if not tile.final:
            return
        self.filter_picker.mark_dead(tile.unit, tile.dead)
        self.filter_picker.set_details(tile.unit, _tile_details(tile))
        if tile.dead:
            self._atlas_dead.add(tile.unit)

    def _on_engine_atlas_progress(self, progress: AtlasProgress) -> None:
        if progress.request_id != self._atlas_id:
            return
        name = progress.layer[-1] if progress.layer else ""
        if not progress.finished:
            self.atlas_bar.set_progress(progress.done, progress.total, name)
            return
        if progress.total == 0:  # a cache look-up that found nothing
            self._end_atlas("")
            return
        parts = [f"{name}: {progress.done} of {progress.total} filters"]
        if progress.from_cache:
            parts.append("from the cache")
        if progress.cancelled:
            parts.append("cancelled")
        dead = len(self._atlas_dead) if progress.layer == self._atlas_layer else 0
        if dead:
            parts.append(f"{dead} dead")
        self._end_atlas(" · ".join(parts))

    # ------------------------------------------------------------------ helpers

    def _ask_cache(self) -> None:
        self._cache_wanted = False
        layer = self.layer
        if layer is None or not layer.visualizable:
            return
        request = Atlas(layer.path, None, self.controls.settings(), cache_only=True)
        self._atlas_id = request.request_id
        self._atlas_layer = layer.path
        self._atlas_dead = set()
        self.engine.submit(request)

    def _end_atlas(self, text: str) -> None:
        was_running = self._atlas_running
        self._atlas_running = False
        self.controls.set_running(self._running)
        if text:
            self.atlas_bar.finish(text)
            if was_running:
                self._say(text)
        else:
            self.atlas_bar.reset()
        self._after_job()


def _tile_details(tile: AtlasTile) -> str:
    if tile.dead:
        return "Never fires: no starting image made it respond."
    parts = []
    if math.isfinite(tile.activation):
        parts.append(f"activation {tile.activation:.3g}")
    if tile.quality is not None and math.isfinite(tile.quality):
        parts.append(f"{tile.quality:.2g}× its best real image")
    return " · ".join(parts)
