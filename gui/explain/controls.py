"""What to explain and how: method, class or inner unit, CAM layer, options; Explain and Cancel."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.protocol import (
    EXPLAIN_CATALOGUE,
    LayerKind,
    LayerPath,
    MethodOption,
    ModelSummary,
    option_default,
)
from gui.explain.choice_box import ChoiceBox

PREDICTED = None  # target combo data: the class the model predicts
INNER_UNIT = "unit"  # target combo data: the layer and filter selected in the tree and grid
COMBO_CHARACTERS = 16  # the width of the method, target and layer combos, in characters


def _box_name(option: MethodOption) -> str:
    """The spin box an option shows in: methods share a box for options of the same label
    (SmoothGrad's and LIME's sample counts), each method keeping its own value."""
    return option.label.lower()


# Each box, with the first option shown in it (its range and tip until a method uses it).
_BOXES: dict[str, MethodOption] = {}
for _method in EXPLAIN_CATALOGUE.values():
    for _option in _method.options:
        _BOXES.setdefault(_box_name(_option), _option)


class ExplainControls(QWidget):
    """The choices of the next explanation; the window turns them into an Explain request."""

    # The user pressed Explain.
    explain_requested = Signal()
    # The user wants the running explanation stopped.
    cancel_requested = Signal()
    # The user chose another method, target or CAM layer (a live panel explains again).
    choice_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: dict[tuple[str, str], int] = {}  # option values the user set, by method
        self._image_side = 28
        self.method_combo = QComboBox()
        for method in EXPLAIN_CATALOGUE.values():
            slow = " (slow)" if method.slow else ""
            self.method_combo.addItem(method.title + slow, method.name)
        self.method_combo.setToolTip("The attribution method: which pixels made the model decide.")
        self.target_combo = QComboBox()
        self.target_combo.setToolTip(
            "What to explain: the predicted class, another class, or the filter selected in "
            "the grid (of the layer selected in the tree)."
        )
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The convolution layer whose maps the CAM methods weigh.")
        self.score_combo = QComboBox()
        self.score_combo.addItem("Logit", "logit")
        self.score_combo.addItem("Probability", "probability")
        self.score_combo.setToolTip(
            "What a class's map explains: its logit (the score before the softmax; Grad-CAM's "
            "choice, it asks only for more of the class) or its probability (after the "
            "softmax, which also rises when other classes fall)."
        )
        # A map output (a fully convolutional detector) is scored by its mean, or at one place.
        self.position_edit = QLineEdit()
        self.position_edit.setPlaceholderText("mean")
        self.position_edit.setMaximumWidth(70)
        self.position_edit.setToolTip(
            "The model's output is a map: its classes are its channels. Empty: score a class by "
            "its mean over the map; ROW,COL: at that position of the output map."
        )
        self._position_label = QLabel("At")
        self.option_boxes: dict[str, QSpinBox] = {}
        self._option_labels: dict[str, QLabel] = {}
        for name, option in _BOXES.items():
            box = ChoiceBox(option.choices) if option.choices else QSpinBox()
            box.setRange(option.minimum, option.maximum)
            box.setToolTip(option.tip)
            self.option_boxes[name] = box
            self._option_labels[name] = QLabel(option.label)
        self.live_check = QCheckBox("Live")
        self.live_check.setToolTip(
            "Explain again whenever the image, the method or the class changes (a drawing on "
            "the sketch pad too). A live explanation never stops a running visualization: a slow "
            "method waits for it to end."
        )
        self.explain_button = QPushButton("Explain")
        self.explain_button.setDefault(True)
        self.explain_button.setToolTip(
            "Compute the chosen explanation for the current image (F6). A running visualization "
            "stops for it; Run › Continue goes on with it afterwards."
        )
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(18)
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running explanation.")
        for combo in (self.method_combo, self.target_combo, self.layer_combo):
            # Sized for a few words, not the longest item (a nested layer's path, a class
            # name): the row must fit a 1280 px screen; the open list shows items whole.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(COMBO_CHARACTERS)
        self.clear_model()
        self.set_idle()

        self.method_combo.currentIndexChanged.connect(self._on_method_combo_changed)
        self.target_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.layer_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.score_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.explain_button.clicked.connect(self._on_explain_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self._method = self.method()
        self._show_method(self._method)
        self._lay_out()

    def _lay_out(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Method"), 0, 0)
        grid.addWidget(self.method_combo, 0, 1)
        grid.addWidget(QLabel("Explain"), 0, 2)
        grid.addWidget(self.target_combo, 0, 3)
        grid.addWidget(QLabel("CAM layer"), 1, 0)
        grid.addWidget(self.layer_combo, 1, 1)
        score = QHBoxLayout()
        score.setSpacing(4)
        score.addWidget(QLabel("Score"))
        score.addWidget(self.score_combo)
        score.addWidget(self._position_label)
        score.addWidget(self.position_edit)
        score.addStretch(1)
        grid.addLayout(score, 1, 2, 1, 2)
        # The method's own settings get a row of their own (empty, it takes no room): LIME's
        # four would not fit beside the CAM layer in a 1280 px window.
        options = QHBoxLayout()
        options.setSpacing(4)
        for name, box in self.option_boxes.items():
            options.addWidget(self._option_labels[name])
            options.addWidget(box)
        options.addStretch(1)
        grid.addLayout(options, 2, 0, 1, 4)
        actions = QHBoxLayout()
        actions.addWidget(self.live_check)
        actions.addWidget(self.explain_button)
        actions.addWidget(self.progress, 1)
        actions.addWidget(self.cancel_button)
        grid.addLayout(actions, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

    # ------------------------------------------------------------------------------- public API

    def set_model(self, summary: ModelSummary) -> None:
        """Offer `summary`'s classes and convolution layers; keeps the method and options."""
        with QSignalBlocker(self.target_combo), QSignalBlocker(self.layer_combo):
            self.clear_model()
            names = list(summary.class_names)
            outputs = [
                lay for lay in summary.walk() if lay.is_output and lay.kind is LayerKind.UNITS
            ]
            count = max(len(names), outputs[-1].size if outputs else 0)
            for k in range(count):
                before = self.target_combo.count() - 1  # the inner unit stays last
                self.target_combo.insertItem(before, _class_text(k, names), k)
            for info in summary.walk():
                # A map output holds the class scores, not evidence: no CAM layer.
                if info.kind is LayerKind.CHANNELS and not info.is_output:
                    self.layer_combo.addItem(str(LayerPath(info.path)), info.path)
        last = summary.layers[-1] if summary.layers else None
        self._set_map_output(bool(last and last.output_shape and len(last.output_shape) == 4))
        height, width, _ = summary.input_shape
        self._image_side = min(height or 224, width or 224)
        self._values = {key: v for key, v in self._values.items() if key[1] != "patch"}
        self._show_method(self.method())

    def clear_model(self) -> None:
        """No model: the predicted class, the inner unit and the last conv layer only."""
        self.target_combo.clear()
        self.target_combo.addItem("predicted class", PREDICTED)
        self.target_combo.addItem("inner unit (selected filter)", INNER_UNIT)
        self.layer_combo.clear()
        self.layer_combo.addItem("last conv layer", None)
        self._set_map_output(False)

    def method(self) -> str:
        return self.method_combo.currentData()

    def set_method(self, method: str) -> None:
        """Choose `method` (a name of EXPLAIN_METHODS) as if the user had."""
        index = self.method_combo.findData(method)
        if index < 0:
            raise ValueError(f"unknown attribution method {method!r}")
        self.method_combo.setCurrentIndex(index)

    def target(self) -> int | str | None:
        """None: the predicted class; a class index; or INNER_UNIT."""
        return self.target_combo.currentData()

    def set_target(self, target: int | str | None) -> None:
        """Choose the predicted class (None), class `target`, or INNER_UNIT."""
        index = self.target_combo.findData(target) if target is not None else 0
        if index < 0:
            raise ValueError(f"no target {target!r} in this model")
        self.target_combo.setCurrentIndex(index)

    def cam_layer(self) -> tuple[str, ...] | None:
        """The conv layer for CAM methods; None: the last one."""
        return self.layer_combo.currentData() if EXPLAIN_CATALOGUE[self.method()].cam else None

    def set_cam_layer(self, path: tuple[str, ...] | None) -> None:
        found = [k for k in range(self.layer_combo.count()) if self.layer_combo.itemData(k) == path]
        index = found[0] if found else -1
        if index < 0:
            raise ValueError(f"no convolution layer {str(LayerPath(path or ()))!r} in this model")
        self.layer_combo.setCurrentIndex(index)

    def options(self) -> tuple[tuple[str, float], ...]:
        """The current method's options as (name, value) pairs, for Explain.options."""
        options = EXPLAIN_CATALOGUE[self.method()].options
        return tuple((o.key, self.option_boxes[_box_name(o)].value()) for o in options)

    def score(self) -> str:
        """What a class's map explains: "logit" or "probability" (Explain.score)."""
        return str(self.score_combo.currentData())

    def position(self) -> tuple[int, int] | None:
        """The output position to score (Explain.position): None for the map's mean, or when
        the output is no map; ValueError naming the text unless it reads ROW,COL."""
        text = self.position_edit.text().strip()
        if not text or not self.position_edit.isEnabled():
            return None
        row, _, column = text.partition(",")
        if not (row.strip().isdigit() and column.strip().isdigit()):
            raise ValueError(f"output position {text!r}: expected ROW,COL, e.g. 3,4")
        return int(row), int(column)

    def is_live(self) -> bool:
        return self.live_check.isChecked()

    def set_busy(self, text: str, slow: bool) -> None:
        """An explanation was asked for; a slow one shows a progress bar with Cancel."""
        self.progress.setVisible(slow)
        self.cancel_button.setVisible(slow)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat(f"{text} %p%")

    def set_progress(self, fraction: float, text: str = "") -> None:
        self.progress.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        if text:
            self.progress.setFormat(f"{text} %p%")

    def set_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("Cancelling…")

    def set_idle(self) -> None:
        """Nothing running: no progress bar, no Cancel."""
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def is_busy(self) -> bool:
        """Whether the progress bar is shown."""
        return not self.progress.isHidden()

    # ------------------------------------------------------------------------------- helpers

    def _set_map_output(self, is_map: bool) -> None:
        self.position_edit.setEnabled(is_map)
        self.position_edit.setVisible(is_map)
        self._position_label.setVisible(is_map)

    def _show_method(self, method: str) -> None:
        """Enable what `method` uses and show its remembered (or default) option values."""
        used = {_box_name(option): option for option in EXPLAIN_CATALOGUE[method].options}
        for name, box in self.option_boxes.items():
            option = used.get(name, _BOXES[name])
            # Only the method's own settings show: seven boxes in a row would not fit.
            box.setEnabled(name in used)
            box.setVisible(name in used)
            self._option_labels[name].setVisible(name in used)
            value = self._values.get((method, name))
            if value is None:
                value = option_default(option, self._image_side)
            with QSignalBlocker(box):
                box.setRange(option.minimum, option.maximum)
                box.setToolTip(option.tip)
                box.setValue(value)
        self.layer_combo.setEnabled(EXPLAIN_CATALOGUE[method].cam)

    # ------------------------------------------------------------------------------- slots

    def _on_method_combo_changed(self, _index: int) -> None:
        for option in EXPLAIN_CATALOGUE[self._method].options:
            box = _box_name(option)
            self._values[(self._method, box)] = self.option_boxes[box].value()
        self._method = self.method()
        self._show_method(self._method)
        self.choice_changed.emit()

    def _on_choice_changed(self, _index: int) -> None:
        self.choice_changed.emit()

    def _on_explain_button_clicked(self) -> None:
        self.explain_requested.emit()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_requested.emit()


def _class_text(index: int, names: list[str]) -> str:
    if index >= len(names):
        return f"class #{index}"
    # Unnamed classes are already called "class 3" (engine/models/introspect.py).
    name = names[index]
    return name if name.startswith("class ") else f"class {name}"
