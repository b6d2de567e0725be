"""The main window: lays out the widgets and is the only place that talks to the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.messages import (
    Ascend,
    EngineFailure,
    FeatureMaps,
    Frame,
    ImageOpened,
    LayerInfo,
    LayerKind,
    LoadModel,
    ModelLoaded,
    ModelSummary,
    OpenImage,
    RunFinished,
    ShowFeatureMaps,
    Status,
    StopRun,
)
from gui.canvas import Canvas
from gui.controls import AscentControls
from gui.dropped_files import MODEL_SUFFIXES, classify_drop
from gui.filter_picker import FilterPicker
from gui.layer_tree import LayerTree
from gui.menus import build_menus
from gui.message_bar import MessageBar
from gui.objective_plot import ObjectivePlot
from gui.predictions import PredictionsPanel

# The canvas repaints at most this often; frames arriving faster only replace the pending one.
REPAINT_INTERVAL_MS = 33


class MainWindow(QMainWindow):
    visualization_finished = Signal(object)  # RunFinished of the current run, after it is shown
    model_shown = Signal(object)  # ModelSummary, once the tree and picker show the new model
    image_shown = Signal(object)  # ImageOpened, once predictions are listed
    error_shown = Signal(str)  # a message the user now sees in the message bar

    def __init__(self, engine, settings: QSettings | None = None) -> None:
        super().__init__()
        self.engine = engine
        self._settings = settings or QSettings()
        self.summary: ModelSummary | None = None
        self.layer: LayerInfo | None = None
        self.unit: int | None = None
        self.frames_shown = 0
        self._ascent_id = 0
        self._pending_frame: Frame | None = None
        self._pending_objectives: list[float] = []
        self._maps: FeatureMaps | None = None
        self._image: ImageOpened | None = None
        self._running = False
        self._status_is_busy = False

        self.message_bar = MessageBar()
        self.layer_tree = LayerTree()
        self.filter_picker = FilterPicker()
        self.canvas = Canvas()
        self.plot = ObjectivePlot()
        self.controls = AscentControls()
        self.predictions = PredictionsPanel()
        self._engine_status = QLabel("Starting…")
        self._busy = QProgressBar(maximumWidth=120, maximumHeight=14, textVisible=False)
        self._busy.setRange(0, 0)  # indeterminate: the engine says what, not how far
        self._model_label = QLabel("")
        self._repaint = QTimer(self, interval=REPAINT_INTERVAL_MS)
        self.actions = build_menus(self)

        self._connect()
        self._lay_out()
        self.setAcceptDrops(True)
        self.setWindowTitle("convscope")
        self.controls.restore(self._settings)
        self._restore_geometry()

    # ------------------------------------------------------------------ set-up

    def _connect(self) -> None:
        self.engine.status.connect(self._on_engine_status)
        self.engine.model_loaded.connect(self._on_engine_model_loaded)
        self.engine.image_opened.connect(self._on_engine_image_opened)
        self.engine.feature_maps.connect(self._on_engine_feature_maps)
        self.engine.frame.connect(self._on_engine_frame)
        self.engine.run_finished.connect(self._on_engine_run_finished)
        self.engine.failed.connect(self._on_engine_failed)
        self.layer_tree.layer_selected.connect(self._on_tree_layer_selected)
        self.filter_picker.filter_selected.connect(self._on_picker_filter_selected)
        self.filter_picker.filter_activated.connect(self._on_picker_filter_activated)
        self.controls.stop_requested.connect(self.stop)
        self.controls.restart_requested.connect(self.restart)
        self._repaint.timeout.connect(self._on_repaint_timeout)
        self._repaint.start()

    def _lay_out(self) -> None:
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.layer_tree)
        left.addWidget(self.predictions)
        left.setSizes([500, 200])
        middle = QSplitter(Qt.Vertical)
        middle.addWidget(self.canvas)
        middle.addWidget(self.plot)
        middle.setSizes([520, 180])
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.filter_picker)
        right.addWidget(self.controls)
        right.setSizes([520, 180])
        self._columns = QSplitter(Qt.Horizontal)
        for part in (left, middle, right):
            self._columns.addWidget(part)
        self._columns.setSizes([440, 520, 360])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self._columns, 1)
        self.setCentralWidget(central)
        self.statusBar().addWidget(self._busy)
        self.statusBar().addWidget(self._engine_status, 1)
        self.statusBar().addPermanentWidget(self._model_label)
        self.canvas.clear("Pick a layer, then a filter, to watch its image grow")

    def _restore_geometry(self) -> None:
        geometry = self._settings.value("window/geometry")
        if (geometry is not None and not self.restoreGeometry(geometry)) or geometry is None:
            self.resize(1400, 860)
        columns = self._settings.value("window/columns")
        if columns is not None:
            self._columns.restoreState(columns)

    # ------------------------------------------------------------------ public actions

    def open_model(self, path: str | None) -> None:
        """Load a model file, or the built-in one with None."""
        self.message_bar.clear()
        self._ascent_id = 0
        self._set_running(False)
        self.engine.submit(LoadModel(path))

    def open_image(self, path: str | None = None, sample: str | None = None) -> None:
        """Show an image file or a named sample and what the model makes of it."""
        self.message_bar.clear()
        layer = self.layer.path if self.layer and self.layer.visualizable else None
        self.engine.submit(OpenImage(path=path, sample=sample, layer=layer))

    def visualize(self, unit: int) -> None:
        """Start activation maximization of `unit` in the selected layer."""
        if self.layer is None or not self.layer.visualizable:
            self._show_error("Pick a layer with channels or units first.")
            return
        self.unit = unit
        self.filter_picker.select_unit(unit)
        request = Ascend(self.layer.path, unit, self.controls.settings())
        self._ascent_id = request.request_id
        self._pending_frame = None
        self._pending_objectives.clear()
        self.plot.reset(f"{self.layer.name} {self._unit_label(unit)}")
        self.controls.set_progress(0, request.settings.steps)
        self._set_running(True)
        self.engine.submit(request)

    def stop(self) -> None:
        self.engine.submit(StopRun())

    def restart(self) -> None:
        if self.unit is not None:
            self.visualize(self.unit)

    def select_layer(self, path: tuple[str, ...]) -> None:
        """Select a layer as if the user clicked it in the tree."""
        info = self.summary.find(path) if self.summary else None
        if info is None:
            self._show_error(f"No layer {'/'.join(path)!r} in this model.")
            return
        self.layer_tree.select_layer(path)
        self._on_tree_layer_selected(info)

    def export_canvas(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export canvas", str(self._last_dir() / "convscope.png"), "PNG (*.png)"
            )
            if not path:
                return
        try:
            self.canvas.export_png(path)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export: {error}")
            return
        self._say(f"Saved {path}")

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open image",
            str(self._last_dir()),
            "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)",
        )
        if path:
            self._remember_dir(path)
            self.open_image(path)

    def choose_model(self) -> None:
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", str(self._last_dir()), f"Keras models ({suffixes});;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.open_model(path)

    def show_selected_feature_map(self) -> None:
        if self.unit is not None:
            self._on_picker_filter_activated(self.unit)

    def show_input(self) -> None:
        if self._image is None:
            self._show_error("No image yet: drop one on the window or use File › Samples.")
            return
        self.canvas.show_image(self._image.display, f"Input: {Path(self._image.source).name}")

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        kind, path, problem = classify_drop(paths)
        if problem:
            self._show_error(problem)
        elif kind == "model":
            self.open_model(path)
        else:
            self.open_image(path)
        event.acceptProposedAction()

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controls.save(self._settings)
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("window/columns", self._columns.saveState())
        self._settings.sync()
        self._repaint.stop()
        self.engine.stop()
        self.engine.wait()
        event.accept()

    # ------------------------------------------------------------------ engine results

    def _on_engine_status(self, status: Status) -> None:
        # "Ready" replaces only the engine's own busy line, not a result the window wrote.
        if status.busy or self._status_is_busy:
            self._engine_status.setText(status.text)
        self._status_is_busy = status.busy
        self._busy.setVisible(status.busy)

    def _on_engine_model_loaded(self, loaded: ModelLoaded) -> None:
        self.summary = loaded.summary
        self.layer, self.unit, self._maps = None, None, None
        self.layer_tree.set_summary(loaded.summary)
        h, w, c = loaded.summary.input_shape
        self._model_label.setText(f"{loaded.summary.name} · input {h}×{w}×{c}")
        self.setWindowTitle(f"convscope — {Path(loaded.summary.source).name}")
        self.canvas.clear("Pick a filter to watch its image grow")
        self.plot.reset()
        default = loaded.summary.default_layer()
        if default is not None:
            self.select_layer(default.path)
        self.model_shown.emit(loaded.summary)

    def _on_engine_image_opened(self, opened: ImageOpened) -> None:
        self._image = opened
        self.predictions.set_predictions(Path(opened.source).name, opened.predictions, opened.notes)
        if not self._running:
            self.show_input()
        self.image_shown.emit(opened)

    def _on_engine_feature_maps(self, maps: FeatureMaps) -> None:
        if self.layer is None or maps.layer != self.layer.path:
            return  # maps of a layer the user has already left
        self._maps = maps
        self.filter_picker.set_feature_maps(maps.maps)

    def _on_engine_frame(self, frame: Frame) -> None:
        if frame.request_id != self._ascent_id:
            return  # a frame of a cancelled run: never let it reach the canvas
        self._pending_frame = frame
        self._pending_objectives.extend(frame.objectives)

    def _on_repaint_timeout(self) -> None:
        frame = self._pending_frame
        if frame is None:
            return
        self._pending_frame = None
        self.canvas.show_image(frame.image, self._run_title(frame.layer, frame.unit, frame.step))
        self.plot.append(self._pending_objectives)
        self._pending_objectives = []
        self.controls.set_progress(frame.step, frame.steps)
        self.frames_shown += 1

    def _on_engine_run_finished(self, done: RunFinished) -> None:
        if done.request_id != self._ascent_id:
            return
        self._on_repaint_timeout()  # flush the last frame and its objectives
        title = self._run_title(done.layer, done.unit, done.steps_done)
        if done.predictions:
            best = done.predictions[0]
            title += f" — model says {best.name} ({best.probability:.1%})"
        self.canvas.show_image(done.image, title)
        self.filter_picker.set_visualization(done.unit, done.image)
        self._set_running(False)
        verb = "Stopped at" if done.cancelled else "Done:"
        self._say(f"{verb} step {done.steps_done}, objective {done.objective:.4g}")
        self.visualization_finished.emit(done)

    def _on_engine_failed(self, failure: EngineFailure) -> None:
        if failure.what == "visualization" and failure.request_id == self._ascent_id:
            self._set_running(False)
        self._show_error(failure.message)

    # ------------------------------------------------------------------ widget intents

    def _on_tree_layer_selected(self, info: LayerInfo) -> None:
        self.layer, self.unit, self._maps = info, None, None
        if not info.visualizable:
            self.filter_picker.clear()
            self._show_error(
                f"Layer {info.name!r} ({info.type_name}, output {_shape_text(info)}) has no "
                "channels or units to show. Pick a convolution, pooling or Dense layer."
            )
            return
        self.message_bar.clear()
        labels = None
        if info.is_output and info.kind is LayerKind.UNITS and self.summary:
            labels = list(self.summary.class_names)
        self.filter_picker.set_layer(info, labels)
        if self._image is not None:
            self.engine.submit(ShowFeatureMaps(info.path))

    def _on_picker_filter_selected(self, unit: int) -> None:
        self.visualize(unit)

    def _on_picker_filter_activated(self, unit: int) -> None:
        if self._maps is None or self.layer is None:
            self._show_error("Open an image first: feature maps are that image's activations.")
            return
        maps = self._maps.maps
        title = f"Feature map: {self.layer.name} {self._unit_label(unit)}"
        if maps.ndim == 3:
            self.canvas.show_map(maps[..., unit], title)
        else:
            self._say(f"{title} = {float(maps[unit]):.4g}")

    # ------------------------------------------------------------------ helpers

    def _say(self, text: str) -> None:
        self._engine_status.setText(text)
        self._status_is_busy = False

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.controls.set_running(running)

    def _show_error(self, text: str) -> None:
        self.message_bar.show_error(text)
        self.error_shown.emit(text)

    def _unit_label(self, unit: int) -> str:
        layer = self.layer
        if layer and layer.is_output and self.summary and unit < len(self.summary.class_names):
            return f"class {self.summary.class_names[unit]!r}"
        return f"#{unit}"

    def _run_title(self, layer: tuple[str, ...], unit: int, step: int) -> str:
        return f"{'/'.join(layer)} {self._unit_label(unit)} · step {step}"

    def _last_dir(self) -> Path:
        return Path(str(self._settings.value("paths/last_dir", str(Path.home()))))

    def _remember_dir(self, path: str) -> None:
        self._settings.setValue("paths/last_dir", str(Path(path).parent))

    def current_canvas(self) -> np.ndarray | None:
        return self.canvas.current_rgb8()


def _shape_text(info: LayerInfo) -> str:
    if info.output_shape is None:
        return "unknown shape"
    return "×".join("?" if d is None else str(d) for d in info.output_shape[1:]) or "scalar"
