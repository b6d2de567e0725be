"""Named recipes: the built-in presets and the user's own, kept as JSON in QSettings."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings, QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from engine.protocol.recipe import PRESETS, Recipe
from gui.common.names import PRESET_GROUP

CUSTOM = "Custom"  # what the combo says when the form matches no preset


def check_preset_name(name: str) -> str:
    """`name` stripped, or ValueError: empty, a built-in's name, or a settings path separator."""
    name = name.strip()
    if not name:
        raise ValueError("a preset needs a name")
    if name in PRESETS or name == CUSTOM:
        raise ValueError(f"{name!r} is a built-in preset; pick another name")
    if "/" in name or "\\" in name:
        raise ValueError(f"a preset name cannot contain '/' or '\\': {name!r}")
    return name


def load_user_presets(store: QSettings) -> dict[str, Recipe]:
    """The user's presets saved in `store`, by name; unreadable ones are skipped."""
    presets: dict[str, Recipe] = {}
    store.beginGroup(PRESET_GROUP)
    try:
        for name in store.childKeys():
            try:
                presets[name] = Recipe.from_dict(json.loads(str(store.value(name))))
            except (ValueError, TypeError, AttributeError):
                continue  # a hand-edited or older file must not take the window down
    finally:
        store.endGroup()
    return dict(sorted(presets.items(), key=lambda pair: pair[0].casefold()))


def store_user_preset(store: QSettings, name: str, recipe: Recipe) -> None:
    """Write `recipe` to `store` as JSON under presets/<name>."""
    store.setValue(f"{PRESET_GROUP}/{check_preset_name(name)}", recipe.to_json())
    store.sync()


def remove_user_preset(store: QSettings, name: str) -> None:
    """Forget the user preset `name`."""
    store.remove(f"{PRESET_GROUP}/{name}")
    store.sync()


class PresetBar(QWidget):
    """A combo of preset names with Save… and Delete buttons; it keeps no recipes itself."""

    # The name of the preset the user picked in the combo.
    preset_chosen = Signal(str)
    # The user wants the current form saved as a new preset.
    save_requested = Signal()
    # The user wants this user preset deleted.
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._user: list[str] = []
        self.combo = QComboBox()
        self.combo.setToolTip(
            "A ready-made method: choosing one fills the form below. 'Custom' means the form"
            " matches no preset."
        )
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the method below as a preset of your own.")
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.delete_button.setToolTip("Delete the selected preset of your own.")

        self.set_presets(list(PRESETS), [])

        self.combo.currentIndexChanged.connect(self._on_combo_current_index_changed)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Method"))
        layout.addWidget(self.combo, stretch=1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.delete_button)

    # ------------------------------------------------------------------------------- public API

    def set_presets(self, builtin: list[str], user: list[str]) -> None:
        """List the built-in presets, then the user's, then 'Custom'; shows 'Custom'."""
        self._user = list(user)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItems(builtin)
            if user:
                self.combo.insertSeparator(self.combo.count())
                self.combo.addItems(user)
            self.combo.insertSeparator(self.combo.count())
            self.combo.addItem(CUSTOM)
        self.show_preset(None)

    def show_preset(self, name: str | None) -> None:
        """Show `name` as the current preset, or 'Custom' for None, without announcing it."""
        index = self.combo.findText(name if name is not None else CUSTOM)
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(index if index >= 0 else self.combo.findText(CUSTOM))
        self.delete_button.setEnabled(name in self._user)

    def current_name(self) -> str | None:
        """The preset shown, or None for 'Custom'."""
        text = self.combo.currentText()
        return None if text == CUSTOM else text

    def names(self) -> list[str]:
        """Every preset listed, built-in first, without 'Custom'."""
        texts = [self.combo.itemText(i) for i in range(self.combo.count())]
        return [text for text in texts if text and text != CUSTOM]

    # ------------------------------------------------------------------------------- slots

    def _on_combo_current_index_changed(self, _index: int) -> None:
        name = self.current_name()
        self.delete_button.setEnabled(name in self._user)
        if name is not None:
            self.preset_chosen.emit(name)

    def _on_save_button_clicked(self) -> None:
        self.save_requested.emit()

    def _on_delete_button_clicked(self) -> None:
        name = self.current_name()
        if name in self._user:
            self.delete_requested.emit(name)
