"""The main window: makes the widgets, the shared state and one controller per tab or area, and
wires them together. It holds no behaviour of its own beyond closing cleanly.

Each controller is handed the engine client, the state and its widgets, and connects its own
signals; where one controller's news matters to another (a model file opened goes into the
recent files), the wiring is here, in `_connect`.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSettings
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow

from engine.protocol import EngineFailure, ModelSummary
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import COLUMNS_KEY, GEOMETRY_KEY, Tab
from gui.compare.controller import CompareController
from gui.dataset.controller import EvaluationController
from gui.dialogs.help_dialog import HelpMenu
from gui.engine_client import Engine, EngineClient
from gui.explain.controller import ExplainController
from gui.files.controller import FilesController
from gui.filters.controller import FiltersController
from gui.filters.dataset import DatasetController
from gui.images.controller import ImageController
from gui.layers.controller import LayersController
from gui.menus import Slot, build_menus
from gui.microscope.controller import MicroscopeController, TabLinks
from gui.models.downloads import DownloadController
from gui.models.input_choice import ModelInputController
from gui.models.input_memory import ModelInputs
from gui.models.opening import ModelController
from gui.models.training import TrainingController
from gui.network.controller import NetworkController
from gui.state import WindowState
from gui.visualize.atlas import AtlasController
from gui.visualize.run_files import RunFiles
from gui.visualize.runs import RunsController
from gui.window_widgets import WindowWidgets


class MainWindow(QMainWindow):
    """convscope's window on an engine thread (engine.worker.EngineThread, or a test's fake)."""

    def __init__(self, engine: Engine, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.ui = ui = WindowWidgets(self.settings)
        self.client = client = EngineClient(engine, self)
        self.state = state = WindowState(self)
        self.feedback = feedback = Feedback(ui.message_bar, ui.status_label, ui.busy, self)
        self.dialogs = dialogs = FileDialogs(self, self.settings)
        inputs = ModelInputs(self.settings)
        picker, controls, tabs = ui.filter_picker, ui.controls, ui.centre_tabs

        # The layers controller comes first: the others decorate the grid it fills.
        self.layers = LayersController(
            client,
            state,
            feedback,
            ui.layer_tree,
            picker,
            ui.sort_bar,
            ui.layer_properties,
            ui.layer_graph,
        )
        self.models = ModelController(client, state, feedback, inputs, ui.model_label)
        self.images = ImageController(client, state, feedback, ui.predictions, ui.sketch_pad)
        self.runs = RunsController(
            client, state, feedback, ui.canvas, ui.filmstrip, ui.plot, controls, picker
        )
        self.run_files = RunFiles(self.runs, controls, feedback, dialogs)
        self.atlas = AtlasController(client, state, feedback, ui.atlas_bar, picker, controls)
        self.explainer = ExplainController(client, state, feedback, ui.explain_panel, dialogs)
        self.network = NetworkController(client, state, feedback, ui.network, dialogs)
        self.filters = FiltersController(
            client, state, feedback, ui.filters_panel, tabs, picker, controls
        )
        self.dataset = DatasetController(
            client, state, feedback, ui.filters_panel, tabs, picker, ui.layer_tree, dialogs
        )
        self.comparison = CompareController(
            client,
            state,
            feedback,
            ui.compare_view,
            tabs,
            controls,
            inputs,
            dialogs,
            self.settings,
        )
        self.evaluation = EvaluationController(
            client, state, feedback, ui.evaluation_view, tabs, self.images, dialogs
        )
        self.microscope = MicroscopeController(
            client,
            state,
            feedback,
            ui.microscope_view,
            tabs,
            dialogs,
            self.settings,
            TabLinks(
                self.layers,
                picker,
                self.images,
                self.explainer,
                ui.explain_panel.controls,
                controls,
            ),
        )
        self.downloads = DownloadController(client, feedback, self)
        self.model_input = ModelInputController(feedback, inputs, self)
        self.training = TrainingController(client, feedback, self)
        self.files = FilesController(
            feedback,
            dialogs,
            self.settings,
            self.images,
            self.models,
            (ui.recent_models_menu, ui.recent_images_menu),
            ui.active_canvas,
            self.run_files.export_stem,
        )
        self.help = HelpMenu(self, lambda: self.menu_actions)
        self.menu_actions = build_menus(
            self,
            self._menu_slots(),
            open_zoo=self.models.open_model,
            compare_zoo=self.comparison.compare_with,
            open_sample=partial(self.images.open_image, None),
            show_tab=self.show_tab,
            recent=(ui.recent_models_menu, ui.recent_images_menu),
        )
        self._connect()
        self._lay_out()

    # ------------------------------------------------------------------ public actions

    def show_tab(self, tab: Tab | int) -> None:
        """Bring a centre tab to the front (View › <name> Tab, Ctrl+1 … Ctrl+5)."""
        self.ui.centre_tabs.setCurrentIndex(int(tab))

    def show_sketch_pad(self) -> None:
        self.ui.left_tabs.setCurrentWidget(self.ui.sketch_pad)

    # ------------------------------------------------------------------ set-up

    def _menu_slots(self) -> dict[str, Slot]:
        files, runs, run_files, ui = self.files, self.runs, self.run_files, self.ui
        return {
            "open_image": files.choose_image,
            "open_model": files.choose_model,
            "open_saved_model": files.choose_saved_model,
            "default_model": partial(self.models.open_model, None),
            "export": files.export_canvas,
            "export_gif": run_files.export_animation,
            "export_settings": run_files.export_settings,
            "load_settings": run_files.load_settings,
            "export_explanation": self.explainer.export_explanation,
            "export_maps": self.network.export_feature_maps,
            "scan_folder": self.dataset.choose_scan_folder,
            "scan_builtin": self.dataset.scan_builtin,
            "evaluate_folder": self.evaluation.choose_folder,
            "evaluate_mnist": self.evaluation.evaluate_mnist,
            "model_input": self.model_input.choose_model_input,
            "compare_with": self.comparison.choose_comparison,
            "compare": self.comparison.compare,
            "train": self.training.show_training,
            "quit": self.close,
            "explain": self.explainer.explain,  # on purpose: a running visualization stops
            "stop": runs.stop,
            "restart": runs.restart,
            "continue": runs.continue_run,
            "continue_from": runs.continue_from_image,
            "atlas": self.atlas.visualize_layer,
            "feature_map": runs.show_selected_feature_map,
            "input": runs.show_input,
            "fit": lambda: ui.active_canvas().fit(),
            "sketch": self.show_sketch_pad,
            "help_tour": self.help.show_tour,
            "help_shortcuts": self.help.show_shortcuts,
            "help_readme_sections": self.help.show_readme_sections,
            "help_readme": self.help.open_readme,
            "about": self.help.show_about,
        }

    def _connect(self) -> None:
        self.client.status.connect(self.feedback.show_engine_status)
        self.client.failed.connect(self._on_client_failed)
        self.client.smaller_side_fits.connect(self.models.offer_smaller_side)
        self.ui.centre_tabs.currentChanged.connect(self._on_centre_tabs_changed)
        self.models.opened.connect(self.files.remember_model)
        self.models.failed.connect(self.files.forget_model)
        self.images.opened.connect(self.files.remember_image)
        self.images.failed.connect(self.files.forget_image)
        self.models.load_started.connect(self.downloads.watch)
        self.comparison.load_started.connect(self.downloads.watch)
        self.models.shown.connect(self.model_input.model_shown)
        self.models.title_changed.connect(self.setWindowTitle)
        self.model_input.chosen.connect(self.models.open_like)
        self.training.trained.connect(self.models.open_model)
        self.runs.scope_stop(self.menu_actions["stop"])
        self.runs.resumable_changed.connect(self.menu_actions["continue"].setEnabled)
        self.runs.image_continuable.connect(self.menu_actions["continue_from"].setEnabled)
        self.ui.controls.display_mode_changed.connect(self._on_controls_display_mode_changed)
        self.state.model_changed.connect(self._on_state_model_changed)

    def _lay_out(self) -> None:
        self.setCentralWidget(self.ui.central)
        self.statusBar().addWidget(self.ui.busy)
        self.statusBar().addWidget(self.ui.status_label, 1)
        self.statusBar().addPermanentWidget(self.ui.model_label)
        self.setAcceptDrops(True)
        self.setWindowTitle("convscope")
        self.ui.controls.restore(self.settings)
        geometry = self.settings.value(GEOMETRY_KEY)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 860)
        columns = self.settings.value(COLUMNS_KEY)
        if columns is not None:
            self.ui.columns.restoreState(columns)
        self.ui.restore_splitters(self.settings)

    # ------------------------------------------------------------------ events

    def closeEvent(self, event: QCloseEvent) -> None:
        self.ui.controls.save(self.settings)
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(COLUMNS_KEY, self.ui.columns.saveState())
        self.ui.save_splitters(self.settings)
        self.settings.sync()
        self.runs.painter.stop()
        self.client.close()  # stops the engine thread cooperatively and waits for it
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        self.files.open_dropped([url.toLocalFile() for url in urls if url.isLocalFile()])
        event.acceptProposedAction()

    # ------------------------------------------------------------------ slots

    def _on_controls_display_mode_changed(self, _mode: str) -> None:
        # Every visualization on screen is drawn again in the new mode (not the input photo).
        self.ui.canvas.redraw()
        self.ui.filmstrip.redraw()
        self.atlas.redraw()

    def _on_state_model_changed(self, summary: ModelSummary | None) -> None:
        if summary is not None:
            self.ui.controls.offer_default(summary.input_shape[-1])

    def _on_client_failed(self, failure: EngineFailure) -> None:
        self.feedback.error(failure.message)

    def _on_centre_tabs_changed(self, index: int) -> None:
        self.state.set_tab(Tab(index))
