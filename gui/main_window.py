"""The main window: lays out the widgets and is the only place that talks to the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar

from engine.protocol import (
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
    ShowFeatureMaps,
    Status,
)
from engine.protocol.input_spec import InputPreprocessing
from gui.atlas_bar import AtlasBar
from gui.canvas import Canvas
from gui.controls import AscentControls
from gui.filmstrip import Filmstrip
from gui.filter_picker import FilterPicker
from gui.layer_tree import LayerTree
from gui.menus import build_menus
from gui.message_bar import MessageBar
from gui.objective_plot import ObjectivePlot
from gui.predictions import PredictionsPanel
from gui.run_record import RunRecord
from gui.window_atlas import AtlasMixin
from gui.window_compare import TAB_COMPARE, CompareMixin
from gui.window_download import DownloadMixin
from gui.window_explain import ExplainMixin
from gui.window_files import FilesMixin
from gui.window_filters import TAB_FILTERS, FiltersMixin
from gui.window_layout import lay_out
from gui.window_model_input import ModelInputMixin
from gui.window_network import NetworkMixin
from gui.window_runs import RunsMixin
from gui.window_training import TrainingMixin

# The canvas repaints at most this often; frames arriving faster only replace the pending one.
REPAINT_INTERVAL_MS = 50


class MainWindow(
    RunsMixin,
    AtlasMixin,
    ExplainMixin,
    NetworkMixin,
    FiltersMixin,
    FilesMixin,
    TrainingMixin,
    ModelInputMixin,
    DownloadMixin,
    CompareMixin,
    QMainWindow,
):
    visualization_finished = Signal(object)  # RunFinished of the current run, after it is shown
    explanation_shown = Signal(object)  # Explanation of the newest Explain, once it is drawn
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
        self._neuron: tuple[int, int] | None = None  # of the current objective's main term
        self._weights: dict[int, float] = {}  # further units of the layer in the objective
        self._map_unit: int | None = None  # whose feature map the canvas shows or showed
        self._map_pinned = False  # the user asked for a map: frames of a run do not replace it
        self.record: RunRecord | None = None  # the current or last run
        self._model_request: LoadModel | None = None  # the newest model the window asked for
        self._shown_request: LoadModel | None = None  # the request of the model on show
        self._init_atlas()

        self.message_bar = MessageBar()
        self.layer_tree = LayerTree()
        self.filter_picker = FilterPicker()
        self.atlas_bar = AtlasBar()
        self.canvas = Canvas()
        self.filmstrip = Filmstrip()
        self.plot = ObjectivePlot()
        self.controls = AscentControls(store=self._settings)
        self.predictions = PredictionsPanel()
        self._engine_status = QLabel("Starting…")
        self._busy = QProgressBar(maximumWidth=120, maximumHeight=14, textVisible=False)
        self._busy.setRange(0, 0)  # indeterminate: the engine says what, not how far
        self._model_label = QLabel("")
        self._repaint = QTimer(self, interval=REPAINT_INTERVAL_MS)
        self._init_explain()
        self._init_network()
        self._init_filters()
        self._init_model_input()
        self._init_compare()
        self.actions = build_menus(self)
        self._init_recent()

        self._connect()
        self._columns = lay_out(self)
        self.statusBar().addWidget(self._busy)
        self.statusBar().addWidget(self._engine_status, 1)
        self.statusBar().addPermanentWidget(self._model_label)
        self.canvas.clear("Pick a layer, then a filter, to watch its image grow")
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
        self.filter_picker.filter_added.connect(self.add_term)
        self.canvas.pixel_clicked.connect(self._on_canvas_pixel_clicked)
        self.filmstrip.snapshot_chosen.connect(self._on_filmstrip_snapshot_chosen)
        self.controls.stop_requested.connect(self.stop)
        self.controls.restart_requested.connect(self.restart)
        self.controls.live_knobs_changed.connect(self._on_controls_live_knobs_changed)
        self._connect_atlas()
        self._connect_explain()
        self._connect_network()
        self._connect_filters()
        self._connect_compare()
        self._connect_download()
        self._repaint.timeout.connect(self._on_repaint_timeout)
        self._repaint.start()

    def _restore_geometry(self) -> None:
        geometry = self._settings.value("window/geometry")
        if (geometry is not None and not self.restoreGeometry(geometry)) or geometry is None:
            self.resize(1400, 860)
        columns = self._settings.value("window/columns")
        if columns is not None:
            self._columns.restoreState(columns)

    # ------------------------------------------------------------------ public actions

    def open_model(
        self,
        path: str | None,
        random_weights: bool = False,
        trusted: bool = False,
        preprocessing: InputPreprocessing | None = None,
        input_size: int | None = None,
    ) -> None:
        """Load a model file, or the built-in one with None; "zoo:NAME" builds a zoo model
        (untrained with `random_weights`). A file holding Python code loads only `trusted`.
        Without `preprocessing` and `input_size`, the ones chosen for this file before apply."""
        if preprocessing is None and input_size is None:
            preprocessing, input_size = self.remembered_input(path)
        self.message_bar.clear()
        self._ascent_id = 0
        self._set_running(False)
        self._forget_atlas()
        self._drop_explain()
        self._drop_download(self._model_request)
        request = LoadModel(
            path,
            random_weights=random_weights,
            trusted=trusted,
            preprocessing=preprocessing,
            input_size=input_size,
        )
        self._model_request = request
        self._remember_recent_model(path)
        self.engine.submit(request)

    def open_image(self, path: str | None = None, sample: str | None = None) -> None:
        """Show an image file or a named sample and what the model makes of it."""
        self.message_bar.clear()
        self._remember_recent_image(path)
        layer = self.layer.path if self.layer and self.layer.visualizable else None
        self.engine.submit(OpenImage(path=path, sample=sample, layer=layer))

    def select_layer(self, path: tuple[str, ...]) -> None:
        """Select a layer as if the user clicked it in the tree."""
        info = self.summary.resolve(path) if self.summary else None
        if info is None:
            self._show_error(f"No layer {'/'.join(path)!r} in this model.")
            return
        self.layer_tree.select_layer(info.path)
        self._on_tree_layer_selected(info)

    def show_selected_feature_map(self) -> None:
        if self.unit is not None:
            self._on_picker_filter_activated(self.unit)

    def show_input(self) -> None:
        if self._image is None:
            self._show_error("No image yet: drop one on the window or use File › Samples.")
            return
        self._map_pinned = False
        self.canvas.show_image(self._image.display, f"Input: {Path(self._image.source).name}")

    def current_canvas(self) -> np.ndarray | None:
        return self.canvas.current_rgb8()

    # ------------------------------------------------------------------ close

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
        if not status.busy:
            self._explain_engine_idle()

    def _on_engine_model_loaded(self, loaded: ModelLoaded) -> None:
        self.summary = loaded.summary
        request = self._model_request
        # The request behind what is shown (not the newest one, which may still fail).
        mine = request is not None and loaded.request_id == request.request_id
        self._shown_request = request if mine else None
        self.layer, self.unit, self._maps = None, None, None
        self._weights, self._neuron, self._map_unit = {}, None, None
        self.layer_tree.set_summary(loaded.summary)
        h, w, c = loaded.summary.input_shape
        untrained = (
            " · untrained (random weights)" if "untrained" in loaded.summary.description else ""
        )
        size = f"{h}×{w}×{c}" + (" (free size)" if loaded.summary.free_size else "")
        pixels = f" · pixels {loaded.summary.preprocessing.describe()}"
        if loaded.summary.input_origin == "assumed":
            pixels += " (assumed)"
        self._model_label.setText(f"{loaded.summary.name} · input {size}{pixels}{untrained}")
        self._model_label.setToolTip("Model › Input Preprocessing and Size… changes this")
        marker = " (untrained)" if untrained else ""
        self.setWindowTitle(f"convscope — {Path(loaded.summary.source).name}{marker}")
        self.canvas.clear("Pick a filter to watch its image grow")
        self.plot.reset()
        self._filters_model_loaded()
        default = loaded.summary.default_layer()
        if default is not None:
            self.select_layer(default.path)
        self._explain_model_loaded(loaded.summary)
        self._network_model_loaded(loaded.summary)
        if "SavedModel opened as its serving signature only" in loaded.summary.description:
            self.message_bar.show_info(loaded.summary.description)  # why the tree is so short
        self.model_shown.emit(loaded.summary)
        self._model_input_loaded(loaded.summary)

    def _on_engine_image_opened(self, opened: ImageOpened) -> None:
        self._image = opened
        self.predictions.set_predictions(Path(opened.source).name, opened.predictions, opened.notes)
        if not self._running:
            self.show_input()
        self._explain_image_opened(opened)
        self._network_image_opened()
        self.image_shown.emit(opened)

    def _on_engine_feature_maps(self, maps: FeatureMaps) -> None:
        self._network_feature_maps(maps)
        if self.layer is None or maps.layer != self.layer.path:
            return  # maps of a layer the user has already left
        self._maps = maps
        self.filter_picker.set_feature_maps(maps.maps)

    def _on_engine_failed(self, failure: EngineFailure) -> None:
        if failure.what == "visualization" and failure.request_id == self._ascent_id:
            self._set_running(False)
            self._after_job()
        self._on_atlas_failed(failure)
        self._on_explain_failed(failure)
        self._on_filters_failed(failure)
        if (
            not self._on_compare_failed(failure)
            and not self._on_network_failed(failure)
            and not self._offer_trust(failure)
            and not self._offer_random_weights(failure)
        ):
            self._show_error(failure.message)

    # ------------------------------------------------------------------ widget intents

    def _on_tree_layer_selected(self, info: LayerInfo) -> None:
        self.layer, self.unit, self._maps = info, None, None
        self._weights, self._neuron, self._map_unit = {}, None, None
        self.atlas_bar.set_available(info.visualizable)
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
        self._dataset_layer_shown()
        if self._image is not None:
            self.engine.submit(ShowFeatureMaps(info.path))
        self._layer_shown()

    def _on_picker_filter_selected(self, unit: int) -> None:
        if self.centre_tabs.currentIndex() in (TAB_FILTERS, TAB_COMPARE):
            # Looking at weights or dataset examples: growing an image would take the engine's
            # long-job lane and cancel a running scan (or comparison, which runs again below).
            # Restart (F5) still visualizes.
            self.unit = unit
        else:
            self.visualize(unit)
        self._filters_filter_selected(unit)
        self._compare_filter_selected(unit)

    def _on_picker_filter_activated(self, unit: int) -> None:
        if self._maps is None or self.layer is None:
            self._show_error("Open an image first: feature maps are that image's activations.")
            return
        maps = self._maps.maps
        title = f"Feature map: {self.layer.name} {self._unit_label(unit)}"
        if maps.ndim == 3:
            self._map_unit, self._map_pinned = unit, True
            self.canvas.show_map(maps[..., unit], f"{title} — click a pixel to grow its neuron")
        else:
            self._say(f"{title} = {float(maps[unit]):.4g}")

    # ------------------------------------------------------------------ helpers

    def _say(self, text: str) -> None:
        self._engine_status.setText(text)
        self._status_is_busy = False

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.controls.set_running(running or self._atlas_running)

    def _show_error(self, text: str) -> None:
        self.message_bar.show_error(text)
        self.error_shown.emit(text)

    def _unit_label(self, unit: int) -> str:
        layer = self.layer
        if layer and layer.is_output and self.summary and unit < len(self.summary.class_names):
            return f"class {self.summary.class_names[unit]!r}"
        return f"#{unit}"


def _shape_text(info: LayerInfo) -> str:
    if info.output_shape is None:
        return "unknown shape"
    return "×".join("?" if d is None else str(d) for d in info.output_shape[1:]) or "scalar"
