"""The method panel: a preset, every knob of the recipe, the step counter, Stop and Restart."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.protocol.display import DEFAULT_DISPLAY, DISPLAY_LABELS, DISPLAY_MODES
from engine.protocol.recipe import LIVE_KNOBS, PRESETS, Recipe, default_preset
from gui.common.imaging import set_display_mode
from gui.common.names import DISPLAY_KEY, RECIPE_CHOSEN_KEY, RECIPE_GROUP
from gui.common.rate import RateMeter
from gui.visualize.presets import (
    PresetBar,
    check_preset_name,
    load_user_presets,
    remove_user_preset,
    store_user_preset,
)
from gui.visualize.recipe_fields import FIELDS, from_stored, to_stored
from gui.visualize.recipe_form import RecipeForm


class AscentControls(QWidget):
    """The recipe for the next run; only the live knobs reach a run already going."""

    # The user wants the running visualization to stop, keeping its image.
    stop_requested = Signal()
    # The user wants the current unit grown again from scratch with the current settings.
    restart_requested = Signal()
    # Recipe: the user changed one of recipe.LIVE_KNOBS; a running visualization may take it.
    live_knobs_changed = Signal(object)
    # str: the display mode (DISPLAY_MODES) the user chose; already in gui.common.imaging.
    display_mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, store: QSettings | None = None) -> None:
        super().__init__(parent)
        self._store = store  # where user presets live; restore() replaces it
        self._user_presets: dict[str, Recipe] = {}
        # Whether the recipe is the user's (chosen, edited or restored as theirs): a model's
        # default preset then never replaces it.
        self.user_chose = False
        self.preset_bar = PresetBar()
        self.form = RecipeForm()
        self.progress_label = QLabel()
        self.progress_label.setToolTip("Steps done in the current run, of the steps it asked for.")
        # Steps per second and time left, from when the frames arrive; empty until known.
        self.rate_label = QLabel()
        self.rate_label.setEnabled(False)  # greyed: a remark, not a control
        self.rate_label.setToolTip("Speed of the run over its recent frames, and the time left.")
        # It takes the room left beside the buttons and never widens the panel for it.
        self.rate_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.rate_meter = RateMeter()
        self._running = False
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running visualization and keep its current image.")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Grow the selected unit again with the method above.")
        # The classic knobs by their old names, for callers that predate the full recipe.
        self.steps_box = self.form.widgets["steps"]
        self.learning_rate_box = self.form.widgets["learning_rate"]
        self.jitter_box = self.form.widgets["jitter"]
        self.seed_box = self.form.widgets["seed"]
        self.frame_every_box = self.form.widgets["frame_every"]
        self.display_box = QComboBox()
        for mode in DISPLAY_MODES:
            self.display_box.addItem(DISPLAY_LABELS[mode], mode)
        self.display_box.setToolTip(
            "How grown images are drawn on the canvas, filmstrip, grid and exports. Unclipped "
            "runs leave the input range: 'Notebooks' spreads mean ± 3.3 std over the screen."
        )
        self._show_display_mode(DEFAULT_DISPLAY)

        self._reload_presets()
        self._progress_steps = 0  # the total the counter shows
        self.set_progress(0, Recipe().steps)
        self.set_running(False)

        self.preset_bar.preset_chosen.connect(self._on_preset_bar_preset_chosen)
        self.preset_bar.save_requested.connect(self._on_preset_bar_save_requested)
        self.preset_bar.delete_requested.connect(self._on_preset_bar_delete_requested)
        self.form.edited.connect(self._on_form_edited)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.restart_button.clicked.connect(self._on_restart_button_clicked)
        self.display_box.currentIndexChanged.connect(self._on_display_box_changed)

        display = QHBoxLayout()
        display.addWidget(QLabel("Display"))
        display.addWidget(self.display_box, stretch=1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress_label)
        buttons.addWidget(self.rate_label, stretch=1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.restart_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.preset_bar)
        layout.addLayout(display)
        layout.addWidget(self.form, stretch=1)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------------------- public API

    def settings(self) -> Recipe:
        """The recipe the next run should use."""
        return self.form.recipe()

    def set_settings(self, settings: Recipe) -> None:
        """Show `settings`; numbers outside a field's range are clamped to it."""
        self.form.set_recipe(settings)
        self._show_matching_preset()
        self._show_planned_steps()

    def set_running(self, running: bool) -> None:
        """Enable Stop only while a run is going."""
        self.stop_button.setEnabled(running)
        self._running = running
        # A stopped run has no time left; its speed stays, as a fact about the run.
        self.rate_label.setText(self.rate_meter.text("steps", with_left=running))

    def set_progress(self, step: int, steps: int) -> None:
        """Show 'step 120 / 256' and, once a few frames told it, '41 steps/s · about 3 s left'.

        Step 0 starts the timing afresh (a new run); it starts with the first frame, since
        the way to step 1 holds the run's set-up (tracing, warm-up), not its speed."""
        self.progress_label.setText(f"step {step} / {steps}")
        self._progress_steps = steps
        if step <= 0:
            self.rate_meter.reset()
        else:
            self.rate_meter.update(step, steps)
        self.rate_label.setText(self.rate_meter.text("steps", with_left=self._running))

    def presets(self) -> dict[str, Recipe]:
        """Every preset by name: the built-in ones, then the user's."""
        return {**PRESETS, **self._user_presets}

    def preset_names(self) -> list[str]:
        """The names the preset combo lists, in its order."""
        return self.preset_bar.names()

    def current_preset(self) -> str | None:
        """The preset the form matches exactly, or None when it is custom."""
        return self.preset_bar.current_name()

    def choose_preset(self, name: str) -> None:
        """Fill the form with preset `name`, as choosing it in the combo does."""
        self._apply_preset(name)
        self._show_matching_preset()

    def offer_default(self, channels: int) -> None:
        """A model with `channels` input channels is open: show its default preset
        (`recipe.default_preset`) unless the recipe is the user's own."""
        if not self.user_chose:
            self.choose_preset(default_preset(channels))

    def display_mode(self) -> str:
        """The display mode chosen in the combo."""
        return str(self.display_box.currentData())

    def set_display_mode(self, mode: str) -> None:
        """Choose display `mode`, as the user would; ValueError names an unknown one."""
        index = self.display_box.findData(mode)
        if index < 0:
            raise ValueError(f"display mode {mode!r} is not one of {DISPLAY_MODES}")
        self.display_box.setCurrentIndex(index)

    def save_preset(self, name: str) -> str:
        """Keep the current recipe as the user preset `name` (replacing one of that name).

        Returns the stripped name; ValueError for an empty name or a built-in preset's name.
        """
        name = check_preset_name(name)
        store_user_preset(self._settings_store(), name, self.settings())
        self._reload_presets()
        return name

    def delete_preset(self, name: str) -> None:
        """Forget the user preset `name`; built-in presets cannot be deleted."""
        if name not in self._user_presets:
            raise ValueError(f"there is no preset of yours called {name!r}")
        remove_user_preset(self._settings_store(), name)
        self._reload_presets()

    def save(self, store: QSettings) -> None:
        """Remember the recipe under the group 'ascent', one key per field."""
        current = self.settings()
        store.setValue(RECIPE_CHOSEN_KEY, self.user_chose)
        store.setValue(DISPLAY_KEY, self.display_mode())
        store.beginGroup(RECIPE_GROUP)
        try:
            for name, spec in FIELDS.items():
                store.setValue(name, to_stored(spec, getattr(current, name)))
        finally:
            store.endGroup()

    def restore(self, store: QSettings) -> None:
        """Load what `save` wrote and the user's presets; bad or missing values keep the form's."""
        self._store = store
        mode = store.value(DISPLAY_KEY)
        self._show_display_mode(mode if mode in DISPLAY_MODES else DEFAULT_DISPLAY)
        store.beginGroup(RECIPE_GROUP)
        try:
            saved = set(store.childKeys())
            for name, spec in FIELDS.items():
                value = from_stored(spec, store.value(name))
                if value is not None:
                    self.form.set_value(name, value)
        finally:
            store.endGroup()
        if saved and "keep_in_range" not in saved:
            self.form.set_value("keep_in_range", True)  # saved before the knob: always clipped
        chosen = store.value(RECIPE_CHOSEN_KEY)
        # A recipe saved before the flag existed counts as the user's: keep what they had.
        self.user_chose = bool(saved) if chosen is None else chosen in (True, "true", "1", 1)
        self._reload_presets()
        self._show_planned_steps()

    # ------------------------------------------------------------------------------- helpers

    def _show_display_mode(self, mode: str) -> None:
        # The program sets it: no signal; the painters read the module setting directly.
        self.display_box.blockSignals(True)
        try:
            self.display_box.setCurrentIndex(max(0, self.display_box.findData(mode)))
        finally:
            self.display_box.blockSignals(False)
        set_display_mode(self.display_mode())

    def _show_planned_steps(self) -> None:
        # Before a run the counter says how many steps the next one takes: "step 0 / 256"
        # beside a Steps box of 512 reads as a bug. A running run's counter is its own.
        steps = self.settings().steps
        if not self.stop_button.isEnabled() and steps != self._progress_steps:
            self.set_progress(0, steps)

    def _settings_store(self) -> QSettings:
        if self._store is None:
            self._store = QSettings()
        return self._store

    def _reload_presets(self) -> None:
        self._user_presets = load_user_presets(self._store) if self._store is not None else {}
        self.preset_bar.set_presets(list(PRESETS), list(self._user_presets))
        self._show_matching_preset()

    def _show_matching_preset(self) -> None:
        current = self.settings()
        match = next((name for name, r in self.presets().items() if r == current), None)
        self.preset_bar.show_preset(match)

    def _apply_preset(self, name: str) -> None:
        before = self.settings()
        recipe = self.presets()[name]
        self.form.set_recipe(recipe)
        self._show_planned_steps()
        if any(getattr(before, knob) != getattr(recipe, knob) for knob in LIVE_KNOBS):
            self.live_knobs_changed.emit(self.settings())

    # ------------------------------------------------------------------------------- slots

    def _on_display_box_changed(self, _index: int) -> None:
        set_display_mode(self.display_mode())
        self.display_mode_changed.emit(self.display_mode())

    def _on_preset_bar_preset_chosen(self, name: str) -> None:
        self.user_chose = True
        self._apply_preset(name)
        self.preset_bar.show_preset(name)

    def _on_preset_bar_save_requested(self) -> None:
        suggestion = self.current_preset() or "My method"
        name, accepted = QInputDialog.getText(self, "Save preset", "Name:", text=suggestion)
        if not accepted:
            return
        try:
            name = check_preset_name(name)
        except ValueError as error:
            QMessageBox.warning(self, "Save preset", str(error).capitalize() + ".")
            return
        if name in self._user_presets:
            answer = QMessageBox.question(self, "Save preset", f"Replace your preset {name!r}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.save_preset(name)

    def _on_preset_bar_delete_requested(self, name: str) -> None:
        answer = QMessageBox.question(self, "Delete preset", f"Delete your preset {name!r}?")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_preset(name)

    def _on_form_edited(self, name: str) -> None:
        self.user_chose = True
        self._show_matching_preset()
        if name == "steps":
            self._show_planned_steps()
        if name in LIVE_KNOBS:
            self.live_knobs_changed.emit(self.settings())

    def _on_stop_button_clicked(self) -> None:
        self.stop_requested.emit()

    def _on_restart_button_clicked(self) -> None:
        self.restart_requested.emit()
