"""The visualization half of MainWindow: start a run, stream its frames, show how it ended."""

from __future__ import annotations

import numpy as np

from engine.protocol import Ascend, Frame, ObjectiveTerm, RunFinished, StopRun, TweakRun
from engine.protocol.recipe import Recipe
from gui.run_record import RunRecord, dead_message, finished_caption


class RunsMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    # ------------------------------------------------------------------ public actions

    def visualize(self, unit: int, neuron: tuple[int, int] | None = None) -> None:
        """Grow an image that excites `unit` of the selected layer (or one of its neurons)."""
        self._weights = {}
        self._neuron = neuron
        self._start_run(unit)

    def add_term(self, unit: int, weight: float) -> None:
        """Add `unit` to the objective with `weight` (again: take it out) and grow the sum."""
        if self.unit is None or self.layer is None or not self.layer.visualizable:
            self.visualize(unit)
            return
        if unit == self.unit:
            self._say(f"{self._unit_label(unit)} is already the objective's first filter.")
            return
        if self._weights.get(unit) == weight:
            del self._weights[unit]
        else:
            self._weights[unit] = weight
        self._start_run(self.unit)

    def stop(self) -> None:
        """Stop the running visualization, atlas or explanation (they share the engine's lane)."""
        self.engine.submit(StopRun())
        self._explain_stopping()

    def restart(self) -> None:
        if self.unit is not None:
            self._start_run(self.unit)

    # ------------------------------------------------------------------ engine results

    def _on_engine_frame(self, frame: Frame) -> None:
        if frame.request_id != self._ascent_id or self.record is None:
            return  # a frame of a cancelled run: never let it reach the canvas
        self._pending_frame = frame
        self._pending_objectives.extend(frame.objectives)
        self.record.add_frame(frame.image)
        if frame.milestone:
            self.filmstrip.add(frame.step, frame.image)

    def _on_repaint_timeout(self) -> None:
        frame = self._pending_frame
        if frame is None or self.record is None:
            return
        self._pending_frame = None
        if not self._map_pinned:
            self.canvas.show_image(frame.image, f"{self.record.label} · step {frame.step}")
        self.plot.append(self._pending_objectives)
        self._pending_objectives = []
        self.controls.set_progress(frame.step, frame.steps)
        self.frames_shown += 1

    def _on_engine_run_finished(self, done: RunFinished) -> None:
        if done.request_id != self._ascent_id or self.record is None:
            return
        self._on_repaint_timeout()  # flush the last frame and its objectives
        self.plot.flush()
        record = self.record
        record.finish(done)
        self.filmstrip.add(done.steps_done, done.image)
        caption = finished_caption(record.label, done)
        title = caption
        if done.predictions:
            best = done.predictions[0]
            title += f" — model says {best.name} ({best.probability:.1%})"
        if not self._map_pinned:
            self.canvas.show_image(done.image, title)
        plain = not record.request.extra_terms and record.request.neuron is None
        if plain and not record.recipe.negate:
            self.filter_picker.set_visualization(done.unit, _first_image(done.image, record))
        if plain:
            self.filter_picker.mark_dead(done.unit, done.reason == "dead")
        if done.reason == "dead":
            self.message_bar.show_info(dead_message(record.label))
        self.controls.set_progress(done.steps_done, record.recipe.steps)
        self._set_running(False)
        self._say(caption)
        self.visualization_finished.emit(done)
        self._after_job()

    # ------------------------------------------------------------------ widget intents

    def _on_canvas_pixel_clicked(self, row: int, column: int) -> None:
        if self._map_unit is not None and self.layer is not None:
            self.visualize(self._map_unit, neuron=(row, column))

    def _on_filmstrip_snapshot_chosen(self, step: int, image: np.ndarray) -> None:
        label = self.record.label if self.record else ""
        self._map_pinned = False
        self.canvas.show_image(image, f"{label} · step {step} (snapshot)")

    def _on_controls_live_knobs_changed(self, settings: Recipe) -> None:
        if self._running and self.record is not None:
            self.engine.submit(TweakRun(settings))
            self.record.tweak(settings)

    # ------------------------------------------------------------------ helpers

    def _start_run(self, unit: int) -> None:
        layer = self.layer
        if layer is None or not layer.visualizable:
            self._show_error("Pick a layer with channels or units first.")
            return
        self.unit = unit
        self._map_pinned = False
        self.filter_picker.select_unit(unit)
        self.filter_picker.set_weights({unit: 1.0, **self._weights} if self._weights else {})
        terms = tuple(ObjectiveTerm(layer.path, u, w) for u, w in self._weights.items())
        settings = self.controls.settings()
        request = Ascend(layer.path, unit, settings, neuron=self._neuron, extra_terms=terms)
        self.record = RunRecord(request, self._objective_label(unit, settings))
        self._ascent_id = request.request_id
        self._pending_frame = None
        self._pending_objectives.clear()
        self.filmstrip.reset()
        self.plot.reset(self.record.label, settings.steps)
        self.controls.set_progress(0, settings.steps)
        if not self.message_bar.is_error():
            self.message_bar.clear()  # an old notice (a dead filter) is about another run
        self._set_running(True)
        self._drop_explain()  # the engine cancels it for this run
        self.engine.submit(request)

    def _objective_label(self, unit: int, settings: Recipe) -> str:
        """'conv3 #5 at (3, 4) + #7 − #9 (negated)': what the current run maximizes."""
        text = f"{'/'.join(self.layer.path)} {self._unit_label(unit)}"
        if self._neuron is not None:
            text += f" at ({self._neuron[0]}, {self._neuron[1]})"
        for other, weight in self._weights.items():
            size = "" if abs(weight) == 1 else f"{abs(weight):g}×"
            text += f" {'+' if weight > 0 else '−'} {size}{self._unit_label(other)}"
        return text + (" (negated)" if settings.negate else "")


def _first_image(image: np.ndarray, record: RunRecord) -> np.ndarray:
    """The first of a batch of images tiled side by side, for a thumbnail."""
    batch = record.recipe.batch
    width = image.shape[1] // batch if batch > 1 else image.shape[1]
    return image[:, :width] if width > 0 else image
