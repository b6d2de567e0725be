"""The small dialog that asks how a model wants its pixels, and at what size a free-size model
should work."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from engine.protocol import FREE_INPUT_SIZE, ModelSummary
from engine.protocol.input_spec import (
    CAFFE,
    MAX_FREE_SIDE,
    MEAN_STD,
    MIN_FREE_SIDE,
    InputPreprocessing,
    parse_numbers,
)

# (key, label, the choice) in the order shown; the custom mean/std choice comes last.
CHOICES = (
    ("unit", "Scale to [0, 1]: pixels / 255", InputPreprocessing.value_range(0, 1)),
    (
        "symmetric",
        "Scale to [−1, 1]: pixels / 127.5 − 1 (MobileNet, Inception, Xception)",
        InputPreprocessing.value_range(-1, 1),
    ),
    ("pixels", "Raw pixels [0, 255]", InputPreprocessing.value_range(0, 255)),
    (
        "caffe",
        "Caffe: RGB → BGR, ImageNet mean subtracted (VGG, ResNet50)",
        InputPreprocessing.caffe(),
    ),
)
CUSTOM, STATED = "custom", "stated"
TORCH_MEAN, TORCH_STD = "0.485, 0.456, 0.406", "0.229, 0.224, 0.225"
ORIGIN_TEXT = {
    "assumed": "Nothing beside this model says how its pixels were prepared in training (no JSON "
    "sidecar), so convscope assumed [0, 1]. Pick what it expects; convscope remembers your "
    "choice for this file.",
    "sidecar": "The JSON sidecar beside the model says how its pixels are prepared; a choice here "
    "overrides it for this file.",
    "chosen": "You chose this for this file earlier; convscope remembers it.",
    "zoo": "Zoo models have their preprocessing built in.",
}


class ModelInputDialog(QDialog):
    """Pixel preprocessing (radio buttons, mean/std fields) and, for a model that takes any
    size, the side to work at. Emits `chosen` on OK; shown with open(), never exec()."""

    chosen = Signal(object, object)  # InputPreprocessing or None (unchanged), side or None

    def __init__(self, summary: ModelSummary, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model input — {title}")
        self._summary = summary
        channels = summary.input_shape[2]
        self.intro = QLabel(ORIGIN_TEXT.get(summary.input_origin, ""), wordWrap=True)
        self.buttons = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        pixels = QGroupBox("Pixel values the model expects")
        pixel_layout = QVBoxLayout(pixels)
        for key, label, _choice in CHOICES:
            self._add_radio(key, label, pixel_layout)
        self._stated = summary.preprocessing
        if summary.preprocessing.kind == "range" and all(
            choice != summary.preprocessing for _k, _l, choice in CHOICES
        ):  # a range none of the buttons names, e.g. a sidecar's [0, 2]: keep it on offer
            self._add_radio(STATED, f"As stated: {summary.preprocessing.describe()}", pixel_layout)
        self.radios["caffe"].setEnabled(channels == 3)
        if channels != 3:
            self.radios["caffe"].setToolTip("Caffe-style preprocessing needs an RGB model")
        self._add_radio(CUSTOM, "Custom mean / std: (pixels / 255 − mean) / std", pixel_layout)
        self.mean = QLineEdit(TORCH_MEAN if channels == 3 else "0.5")
        self.std = QLineEdit(TORCH_STD if channels == 3 else "0.5")
        numbers = QFormLayout()
        numbers.addRow("Mean (0–1 units)", self.mean)
        numbers.addRow("Std (0–1 units)", self.std)
        pixel_layout.addLayout(numbers)
        self.side = QSpinBox(minimum=MIN_FREE_SIDE, maximum=MAX_FREE_SIDE, singleStep=16)
        self.side.setSuffix(" px")
        self.side.setValue(summary.input_shape[0] or FREE_INPUT_SIZE)
        size_box = QGroupBox("Input size")
        size_layout = QFormLayout(size_box)
        if summary.free_size:
            size_layout.addRow(
                QLabel(
                    "This model takes images of any size. Images, visualizations and "
                    "scans use one square size:",
                    wordWrap=True,
                )
            )
            size_layout.addRow("Side", self.side)
        else:
            height, width, _ = summary.input_shape
            size_layout.addRow(QLabel(f"Fixed by the model: {height}×{width}."))
            self.side.setEnabled(False)
        self.problem = QLabel("", wordWrap=True)
        self.problem.setStyleSheet("color: #b00020;")
        buttons = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        self.box = QDialogButtonBox(buttons)

        self._select(summary.preprocessing)
        self.buttons.buttonToggled.connect(self._on_choice_changed)
        self.mean.textChanged.connect(self._on_choice_changed)
        self.std.textChanged.connect(self._on_choice_changed)
        self.box.accepted.connect(self._on_box_accepted)
        self.box.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(pixels)
        layout.addWidget(size_box)
        layout.addWidget(self.problem)
        layout.addWidget(self.box)
        self._on_choice_changed()

    # ------------------------------------------------------------------ public

    def choice(self) -> InputPreprocessing:
        """The preprocessing the dialog shows; ValueError with the reason when it is invalid."""
        checked = self.buttons.checkedButton()
        key = next(k for k, radio in self.radios.items() if radio is checked)
        if key == STATED:
            return self._stated
        if key != CUSTOM:
            return next(choice for k, _label, choice in CHOICES if k == key)
        try:
            mean = parse_numbers(self.mean.text())
        except ValueError as error:
            raise ValueError(f"Mean: {error}") from None
        try:
            std = parse_numbers(self.std.text())
        except ValueError as error:
            raise ValueError(f"Std: {error}") from None
        spec = InputPreprocessing.mean_std(mean, std)
        spec.check_channels(self._summary.input_shape[2])
        return spec

    # ------------------------------------------------------------------ private

    def _add_radio(self, key: str, label: str, layout: QVBoxLayout) -> None:
        radio = QRadioButton(label)
        self.radios[key] = radio
        self.buttons.addButton(radio)
        layout.addWidget(radio)

    def _select(self, spec: InputPreprocessing) -> None:
        key = next((k for k, _label, choice in CHOICES if choice == spec), None)
        if key is None and STATED in self.radios:
            key = STATED
        if key is None and spec.kind == MEAN_STD:
            key = CUSTOM
            self.mean.setText(", ".join(f"{v:g}" for v in spec.mean))
            self.std.setText(", ".join(f"{v:g}" for v in spec.std))
        elif key is None and spec.kind == CAFFE:
            key = "caffe"
        self.radios[key or "unit"].setChecked(True)

    def _on_choice_changed(self, *_args) -> None:
        custom = self.radios[CUSTOM].isChecked()
        self.mean.setEnabled(custom)
        self.std.setEnabled(custom)
        try:
            self.choice()
            self.problem.setText("")
            ok = True
        except (ValueError, TypeError) as error:
            self.problem.setText(str(error))
            ok = False
        self.box.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def _on_box_accepted(self) -> None:
        spec = self.choice()
        unchanged = self._summary.input_origin == "sidecar" and spec == self._summary.preprocessing
        side = self.side.value() if self._summary.free_size else None
        self.chosen.emit(None if unchanged else spec, side)
        self.accept()
