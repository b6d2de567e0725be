"""The small form "Build for the Open Model…" opens: the image folder, the folder to build into,
how many top images each unit keeps and which layers. The recipe is the Method panel's (shown
here, changed there). The last answers come back next time (QSettings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, QSignalBlocker
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import LayerPath, ModelSummary
from gui.common.file_dialogs import FileDialogs
from gui.common.names import MICROSCOPE_BUILD_GROUP

MAX_TOP_K = 100
DEFAULT_TOP_K = 9


@dataclass(frozen=True)
class BuildChoice:
    """What the form was answered with; `layers` as typed ('' for the default choice)."""

    images: str = ""
    out: str = ""
    top_k: int = DEFAULT_TOP_K
    layers: str = ""

    def save(self, settings: QSettings) -> None:
        """Remember the answers for the next build."""
        settings.beginGroup(MICROSCOPE_BUILD_GROUP)
        for key, value in vars(self).items():
            settings.setValue(key, value)
        settings.endGroup()

    @classmethod
    def restore(cls, settings: QSettings) -> BuildChoice:
        """The answers last saved (the defaults where none, or where one is not readable)."""
        settings.beginGroup(MICROSCOPE_BUILD_GROUP)
        images, out, layers = (
            str(settings.value(k, "") or "") for k in ("images", "out", "layers")
        )
        try:
            top_k = min(max(int(str(settings.value("top_k", DEFAULT_TOP_K))), 1), MAX_TOP_K)
        except (TypeError, ValueError):
            top_k = DEFAULT_TOP_K
        settings.endGroup()
        return cls(images, out, top_k, layers)


def layer_paths(summary: ModelSummary, text: str) -> tuple[tuple[str, ...], ...] | None:
    """The layers `text` names, comma-separated (None when it names none: the default, every
    conv layer and the output); ValueError names one the model lacks."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    paths = []
    for name in names:
        info = summary.resolve(LayerPath.parse(name))
        if info is None:
            raise ValueError(f"the model {summary.name!r} has no layer {name!r}")
        paths.append(tuple(info.path))
    return tuple(paths) or None


class BuildForm(QDialog):
    """Asks where and what to build; accepted only with an image folder, a folder to build into
    and layers the model has (otherwise it says what is wrong and stays open)."""

    def __init__(
        self, summary: ModelSummary, recipe_text: str, dialogs: FileDialogs, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Build a microscope of {summary.name}")
        self._summary = summary
        self._dialogs = dialogs
        self.images_edit = QLineEdit()
        self.images_button = QPushButton("Browse…")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("an empty folder, or one built before (resumes it)")
        self.out_button = QPushButton("Browse…")
        self.top_k_box = QSpinBox()
        self.top_k_box.setRange(1, MAX_TOP_K)
        self.layers_edit = QLineEdit()
        self.layers_edit.setPlaceholderText("every conv layer and the output")
        self.layers_edit.setToolTip("Comma-separated layer names, e.g. conv1, conv3")
        self.recipe_label = QLabel(recipe_text)
        self.recipe_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Build")

        self.images_button.clicked.connect(self._on_images_button_clicked)
        self.out_button.clicked.connect(self._on_out_button_clicked)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Images", _row(self.images_edit, self.images_button))
        form.addRow("Build into", _row(self.out_edit, self.out_button))
        form.addRow("Top images per unit", self.top_k_box)
        form.addRow("Layers", self.layers_edit)
        form.addRow("Recipe", self.recipe_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def set_choice(self, choice: BuildChoice) -> None:
        """Show `choice` (the last answers)."""
        edits = (self.images_edit, self.out_edit, self.top_k_box, self.layers_edit)
        blockers = [QSignalBlocker(widget) for widget in edits]
        self.images_edit.setText(choice.images)
        self.out_edit.setText(choice.out)
        self.top_k_box.setValue(choice.top_k)
        self.layers_edit.setText(choice.layers)
        del blockers

    def choice(self) -> BuildChoice:
        """The answers as they stand."""
        return BuildChoice(
            self.images_edit.text().strip(),
            self.out_edit.text().strip(),
            self.top_k_box.value(),
            self.layers_edit.text().strip(),
        )

    def layers(self) -> tuple[tuple[str, ...], ...] | None:
        """The layers chosen (None: the default choice); ValueError for one the model lacks."""
        return layer_paths(self._summary, self.layers_edit.text())

    def accept(self) -> None:
        """Close with Build only when every answer is good; else say which is not."""
        problem = self._problem()
        self.error_label.setText(problem or "")
        if problem is None:
            super().accept()

    def _problem(self) -> str | None:
        choice = self.choice()
        if not choice.images or not Path(choice.images).is_dir():
            return f"Choose a folder of images ({choice.images or 'none chosen'} is not one)."
        if not choice.out:
            return "Choose a folder to build the microscope into."
        try:
            self.layers()
        except ValueError as error:
            return f"{str(error)[0].upper()}{str(error)[1:]}."
        return None

    def _on_images_button_clicked(self) -> None:
        folder = self._dialogs.open_folder("Images to find each unit's top images in")
        if folder:
            self.images_edit.setText(folder)

    def _on_out_button_clicked(self) -> None:
        folder = self._dialogs.open_folder(
            "Folder to write the microscope into (empty, or its own)"
        )
        if folder:
            self.out_edit.setText(folder)


def _row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, stretch=1)
    row.addWidget(button)
    return row
