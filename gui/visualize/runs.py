"""The Visualize tab: grow an image that excites a filter, stream its frames, say how it ended
(the engine's verdict: fine, failed, weak or dead), and go on: from where a stopped run left off
(Run › Continue), from the last image (Continue from This Image), or from the unit's best real
image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction

from engine.protocol import (
    Ascend,
    ContinueRun,
    EndReason,
    Frame,
    JobEnded,
    LayerInfo,
    ObjectiveTerm,
    Recipe,
    RunFinished,
    StopRun,
    TweakRun,
    VerdictKind,
)
from gui.common.canvas import Canvas
from gui.common.feedback import Feedback
from gui.common.imaging import visualization_picture
from gui.common.names import Tab
from gui.engine_client import EngineClient, Job, JobSlot
from gui.layers.filter_picker import FilterPicker
from gui.state import WindowState
from gui.visualize.controls import AscentControls
from gui.visualize.filmstrip import Filmstrip
from gui.visualize.frame_painter import FramePainter
from gui.visualize.objective_plot import ObjectivePlot
from gui.visualize.run_record import (
    RunRecord,
    dead_message,
    finished_caption,
    first_image,
    from_best_real_image,
    from_last_image,
    verdict_warning,
)

CONTINUE_HINT = "Run › Continue (Shift+F5) goes on from here"
BEST_REAL_ACTION = "Start from its best real image"


class RunsController(QObject):
    """Starts, stops, continues and shows the window's visualization (one at a time)."""

    finished = Signal(object)  # RunFinished of the window's run, once the canvas shows it
    resumable_changed = Signal(bool)  # whether Run › Continue can take the last run on
    # bool: whether Run › Continue from This Image has an ended run's image to start from
    image_continuable = Signal(bool)

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        canvas: Canvas,
        filmstrip: Filmstrip,
        plot: ObjectivePlot,
        controls: AscentControls,
        picker: FilterPicker,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._canvas = canvas
        self._filmstrip = filmstrip
        self._plot = plot
        self._controls = controls
        self._picker = picker
        self._run = JobSlot(client)
        self.painter = FramePainter(canvas, plot, filmstrip, controls, self)
        self.record: RunRecord | None = None  # the current or last run
        self._neuron: tuple[int, int] | None = None  # of the objective's main term
        self._weights: dict[int, float] = {}  # further units of the layer in the objective
        self._map_unit: int | None = None  # whose feature map the canvas shows or showed
        self._resumable: int | None = None  # the stopped run a ContinueRun can take on
        self._warned = False  # the message bar shows a verdict warning with its button

        state.model_changed.connect(self._on_state_model_changed)
        state.layer_changed.connect(self._on_state_layer_changed)
        state.unit_picked.connect(self._on_state_unit_picked)
        state.image_changed.connect(self._on_state_image_changed)
        state.running_changed.connect(self._on_state_running_changed)
        picker.filter_activated.connect(self.show_feature_map)
        picker.filter_added.connect(self.add_term)
        picker.filter_visualize_requested.connect(self.visualize)
        canvas.pixel_clicked.connect(self._on_canvas_pixel_clicked)
        filmstrip.snapshot_chosen.connect(self._on_filmstrip_snapshot_chosen)
        controls.stop_requested.connect(self.stop)
        controls.restart_requested.connect(self.restart)
        controls.live_knobs_changed.connect(self._on_controls_live_knobs_changed)
        canvas.clear("Pick a layer, then a filter, to watch its image grow")

    # ------------------------------------------------------------------ public actions

    def visualize(self, unit: int, neuron: tuple[int, int] | None = None) -> None:
        """Grow an image that excites `unit` of the selected layer (or one of its neurons)."""
        self._weights = {}
        self._neuron = neuron
        self._start_run(unit)

    def add_term(self, unit: int, weight: float) -> None:
        """Add `unit` to the objective with `weight` (again: take it out) and grow the sum."""
        main, layer = self._state.unit, self._state.layer
        if main is None or layer is None or not layer.visualizable:
            self.visualize(unit)
            return
        if unit == main:
            self._feedback.say(f"{self._state.unit_label(unit)} is already the first filter.")
            return
        if self._weights.get(unit) == weight:
            del self._weights[unit]
        else:
            self._weights[unit] = weight
        self._start_run(main)

    def stop(self) -> None:
        """Stop whatever runs in the engine's long lane (a visualization, atlas, comparison);
        a stopped visualization can be continued."""
        self._client.submit(StopRun())

    def scope_stop(self, action: QAction) -> None:
        """Let Run › Stop's shortcut (Esc) stop a run only while the keyboard focus is in the
        visualization: its canvas, filmstrip, curve or method panel (with the Stop button).
        Esc elsewhere (typing in the Explain tab, a dialog) must not cost a long run; the
        menu entry works from anywhere."""
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for widget in (self._canvas, self._filmstrip, self._plot, self._controls):
            widget.addAction(action)

    def restart(self) -> None:
        """Grow the selected unit again from scratch (F5)."""
        if self._state.unit is not None:
            self._start_run(self._state.unit)

    def continue_run(self) -> None:
        """Go on with the stopped run from the step it reached (Run › Continue)."""
        record, run_id = self.record, self._resumable
        if record is None or run_id is None:
            self._feedback.say("Nothing to continue: no run was stopped part way.")
            return
        self.painter.resume(record.label)
        self._set_resumable(None)
        self._launch(ContinueRun(run_id))
        done = record.finished
        step = done.steps_done if done is not None else 0
        self._feedback.say(f"Continuing {record.label} from step {step}…")

    def continue_from_image(self) -> None:
        """A new run of the same objective whose starting image is the last run's result."""
        record = self.record
        again = None if record is None else from_last_image(record)
        if record is None or again is None:
            self._feedback.say("Nothing to continue from: no run has ended yet.")
            return
        self._begin(again, record.label)
        self._feedback.say(f"Continuing {record.label} from its last image…")

    def start_from_best_real(self) -> None:
        """A new run of the last run's unit starting from the real image that excites it most."""
        record = self.record
        again = None if record is None else from_best_real_image(record)
        if record is None or again is None:
            self._feedback.error("No real image to start from: no reference image makes it fire.")
            return
        self._begin(again, record.label)
        self._feedback.say(f"Growing {record.label} from its best real image…")

    def show_input(self) -> None:
        """Show the current image on the canvas (View › Show Input Image)."""
        if self._state.image is None:
            self._feedback.error("No image yet: drop one on the window or use File › Samples.")
            return
        self._show_image()

    def show_feature_map(self, unit: int) -> None:
        """Show `unit`'s feature map for the current image large; a click on it grows a neuron."""
        maps, layer = self._state.maps, self._state.layer
        if maps is None or layer is None:
            self._feedback.error("Open an image first: feature maps are that image's activations.")
            return
        title = f"Feature map: {layer.name} {self._state.unit_label(unit)}"
        if maps.maps.ndim == 3:
            self._map_unit, self.painter.map_pinned = unit, True
            self._canvas.show_map(
                maps.maps[..., unit], f"{title} — click a pixel to grow its neuron"
            )
        else:
            self._feedback.say(f"{title} = {float(maps.maps[unit]):.4g}")

    def show_selected_feature_map(self) -> None:
        if self._state.unit is not None:
            self.show_feature_map(self._state.unit)

    # ------------------------------------------------------------------ job results

    def _on_job_frame(self, frame: Frame) -> None:
        if self.record is not None:
            self.record.add_frame(frame.image)
        self.painter.add(frame)

    def _on_job_ended(self, ended: JobEnded) -> None:
        self.painter.finish()
        done, record = ended.value, self.record
        if ended.failure is not None:
            self._feedback.error(ended.failure.message)
            return
        if not isinstance(done, RunFinished) or record is None:
            return  # dropped before it began: nothing was grown
        record.finish(done, ended.reason)
        self._filmstrip.add(done.steps_done, done.image)
        caption = finished_caption(record.label, done, ended.reason)
        title = caption
        if done.predictions:
            best = done.predictions[0]
            title += f" — model says {best.name} ({best.probability:.1%})"
        if not self.painter.map_pinned:
            self._canvas.show_visualization(done.image, title)
        self._mark_thumbnail(record, done, ended.reason)
        self._controls.set_progress(done.steps_done, record.recipe.steps)
        if done.resumable:
            self._set_resumable(ended.request_id)
            caption += f" — {CONTINUE_HINT}"
        self._feedback.say(caption)
        self.finished.emit(done)

    # ------------------------------------------------------------------ helpers

    def _start_run(self, unit: int) -> None:
        layer = self._state.layer
        if layer is None or not layer.visualizable:
            self._feedback.error("Pick a layer with channels or units first.")
            return
        self._state.set_unit(unit)
        self._picker.select_unit(unit)
        self._picker.set_weights({unit: 1.0, **self._weights} if self._weights else {})
        terms = tuple(ObjectiveTerm(layer.path, u, w) for u, w in self._weights.items())
        settings = self._controls.settings()
        request = Ascend(layer.path, unit, settings, neuron=self._neuron, extra_terms=terms)
        self._begin(request, self._objective_label(unit, settings))

    def _begin(self, request: Ascend, label: str) -> None:
        self.record = RunRecord(request, label)
        self.painter.begin(label, request.settings.steps)
        # An old notice (a dead filter) or verdict warning is about another run; other errors
        # stay for the user to read.
        if self._warned:
            self._feedback.clear()
        self._feedback.clear_notice()
        self._warned = False
        self._set_resumable(None)
        self.image_continuable.emit(False)
        self._launch(request)

    def _launch(self, request: Ascend | ContinueRun) -> Job:
        job = self._run.start(request, frame=self._on_job_frame, ended=self._on_job_ended)
        self._state.set_running(job)
        return job

    def _mark_thumbnail(self, record: RunRecord, done: RunFinished, reason: EndReason) -> None:
        """A plain run's image becomes its filter's thumbnail; a dead filter is crossed out, a
        weak or failed one gets a warning offering its best real image as a start."""
        request, layer = record.request, self._state.layer
        # Once the user moved on to another layer the grid is not this run's.
        here = layer is not None and tuple(layer.path) == tuple(request.layer)
        plain = here and not request.extra_terms and request.neuron is None
        verdict = done.verdict
        dead = reason is EndReason.DEAD if verdict is None else verdict.kind is VerdictKind.DEAD
        if plain and not record.recipe.negate:
            picture = visualization_picture(first_image(done.image, record))  # View ▸ Display
            self._picker.set_visualization(done.unit, picture)
        if plain:
            self._picker.mark_dead(done.unit, dead)
        warning = None if verdict is None else verdict_warning(record.label, verdict)
        if dead:
            self._feedback.info(dead_message(record.label, verdict))
        elif warning is not None and done.best_real_image is not None:
            self._feedback.error(warning, BEST_REAL_ACTION, self.start_from_best_real)
            self._warned = True
        elif warning is not None:
            self._feedback.info(warning)
        self.image_continuable.emit(not dead)

    def _show_image(self) -> None:
        image = self._state.image
        if image is not None:
            self.painter.map_pinned = False
            self._canvas.show_image(image.display, f"Input: {Path(image.source).name}")

    def _set_resumable(self, run_id: int | None) -> None:
        self._resumable = run_id
        self.resumable_changed.emit(run_id is not None)

    def _objective_label(self, unit: int, settings: Recipe) -> str:
        """'conv3 #5 at (3, 4) + #7 − #9 (negated)': what the current run maximizes."""
        text = f"{self._state.layer_text()} {self._state.unit_label(unit)}"
        if self._neuron is not None:
            text += f" at ({self._neuron[0]}, {self._neuron[1]})"
        for other, weight in self._weights.items():
            size = "" if abs(weight) == 1 else f"{abs(weight):g}×"
            text += f" {'+' if weight > 0 else '−'} {size}{self._state.unit_label(other)}"
        return text + (" (negated)" if settings.negate else "")

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, _summary: object) -> None:
        self._run.drop()  # the engine cancels a run of the old model
        self.painter.stop()
        self._set_resumable(None)
        self._canvas.clear("Pick a filter to watch its image grow")
        self._plot.reset()
        self._filmstrip.reset()
        self._controls.set_progress(0, self._controls.settings().steps)

    def _on_state_layer_changed(self, info: LayerInfo) -> None:
        self._weights, self._neuron, self._map_unit = {}, None, None
        if self._run.is_running():
            return  # the run of the old layer goes on, its title says which layer it grows
        # What the canvas, curve and counter showed was about another layer.
        self.painter.map_pinned = False
        self._filmstrip.reset()
        self._plot.reset()
        self._controls.set_progress(0, self._controls.settings().steps)
        if self._state.image is not None:
            self._show_image()
        else:
            self._canvas.clear(f"Pick a filter of {info.name} to watch its image grow")

    def _on_state_unit_picked(self, unit: int) -> None:
        # Looking at weights or dataset examples, or comparing: growing an image would take the
        # engine's long lane and cancel a running scan or comparison. Restart (F5) still does.
        if self._state.tab not in (Tab.FILTERS, Tab.COMPARE):
            self.visualize(unit)

    def _on_state_image_changed(self, _opened: object) -> None:
        if not self._run.is_running():
            self._show_image()

    def _on_state_running_changed(self, job: Job | None) -> None:
        self._controls.set_running(job is not None)

    def _on_canvas_pixel_clicked(self, row: int, column: int) -> None:
        if self._map_unit is not None and self._state.layer is not None:
            self.visualize(self._map_unit, neuron=(row, column))

    def _on_filmstrip_snapshot_chosen(self, step: int, image: np.ndarray) -> None:
        label = self.record.label if self.record else ""
        self.painter.map_pinned = False
        self._canvas.show_visualization(image, f"{label} · step {step} (snapshot)")

    def _on_controls_live_knobs_changed(self, settings: Recipe) -> None:
        if self._run.is_running() and self.record is not None:
            self._client.submit(TweakRun(settings))
            self.record.tweak(settings)
