"""Every knob of the visualization method, in sections picked from a short list on the left."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QWidget,
)

from engine.protocol.recipe import Recipe
from gui.visualize.recipe_fields import FIELDS, SECTIONS, FieldSpec, format_value, parse_text

_INVALID_STYLE = "QLineEdit { background: #fde2e1; color: #5c1512; }"

FieldWidget = QSpinBox | QDoubleSpinBox | QCheckBox | QComboBox | QLineEdit


class RecipeForm(QWidget):
    """Shows one Recipe and lets the user edit it; only the user's edits are announced."""

    # The name of the Recipe field the user just changed (a finished edit, not a keystroke).
    edited = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section_list = QListWidget()
        self.pages = QStackedWidget()
        self.widgets: dict[str, FieldWidget] = {}
        self.labels: dict[str, QLabel] = {}
        # The last valid value of each text field: what the recipe uses while the text is bad.
        self._text_values: dict[str, tuple] = {}

        for title, specs in SECTIONS:
            self.section_list.addItem(title)
            item = self.section_list.item(self.section_list.count() - 1)
            item.setToolTip(", ".join(spec.label for spec in specs))
            self.pages.addWidget(self._page(specs))
        self.set_recipe(Recipe())

        self.section_list.currentRowChanged.connect(self._on_section_list_current_row_changed)
        self.section_list.setCurrentRow(0)

        # The list is as wide as its longest title and no wider; the fields get the rest.
        self.section_list.setFixedWidth(self.section_list.sizeHintForColumn(0) + 12)
        self.section_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.section_list.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        rows = self.section_list.sizeHintForRow(0) * self.section_list.count()
        self.section_list.setFixedHeight(rows + 2 * self.section_list.frameWidth())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.section_list, alignment=Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.pages, stretch=1)

    # ------------------------------------------------------------------------------- public API

    def recipe(self) -> Recipe:
        """The recipe shown; a text field holding bad text counts with its last good value."""
        values: dict[str, Any] = {name: self.value(name) for name in FIELDS}
        return Recipe(**values)

    def set_recipe(self, recipe: Recipe) -> None:
        """Show `recipe` in every field, without announcing it."""
        for name in FIELDS:
            self.set_value(name, getattr(recipe, name))

    def value(self, name: str) -> object:
        """The value of one field, as the Recipe attribute `name` holds it."""
        widget = self.widgets[name]
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            return widget.value()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentText()
        return self._text_values[name]

    def set_value(self, name: str, value: Any) -> None:
        """Show `value` in field `name` (numbers clamped to its range), without announcing it."""
        spec, widget = FIELDS[name], self.widgets[name]
        with QSignalBlocker(widget):
            if isinstance(widget, QSpinBox):
                # Clamp before Qt sees it: an int beyond 2**31 would overflow the C int.
                widget.setValue(int(min(max(value, widget.minimum()), widget.maximum())))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(min(max(value, widget.minimum()), widget.maximum())))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                if value not in spec.choices:
                    raise ValueError(f"{name} must be one of {spec.choices}, got {value!r}")
                widget.setCurrentText(str(value))
            else:
                self._text_values[name] = tuple(value)
                widget.setText(format_value(spec, value))
                self._mark_invalid(name, "")

    # ------------------------------------------------------------------------------- building

    def _page(self, specs: tuple[FieldSpec, ...]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(6, 2, 2, 2)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in specs:
            widget = self._field(spec)
            widget.setToolTip(spec.tooltip)
            self.widgets[spec.name] = widget
            if spec.kind == "bool":
                form.addRow(widget)  # the check box carries its own label
                continue
            label = QLabel(spec.label)
            label.setToolTip(spec.tooltip)
            label.setBuddy(widget)
            self.labels[spec.name] = label
            form.addRow(label, widget)
        return page

    def _field(self, spec: FieldSpec) -> FieldWidget:
        name = spec.name
        if spec.kind in ("int", "float"):
            box: QSpinBox | QDoubleSpinBox
            if spec.kind == "int":
                box = QSpinBox()
                box.setRange(int(spec.low), int(spec.high))
                box.setSingleStep(int(spec.step))
            else:
                box = QDoubleSpinBox()
                box.setDecimals(spec.decimals)
                box.setRange(spec.low, spec.high)
                box.setSingleStep(spec.step)
            box.setAccelerated(True)
            # Announce finished numbers only: typing "0.05" must not send 0.0 and 0.05.
            box.setKeyboardTracking(False)
            box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
            box.valueChanged.connect(lambda _value, n=name: self._on_field_changed(n))
            return box
        if spec.kind == "bool":
            check = QCheckBox(spec.label)
            check.toggled.connect(lambda _on, n=name: self._on_field_changed(n))
            return check
        if spec.kind == "choice":
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.currentIndexChanged.connect(lambda _index, n=name: self._on_field_changed(n))
            return combo
        edit = QLineEdit()
        edit.setPlaceholderText("none" if spec.kind == "floats" else "size:weight, …")
        edit.editingFinished.connect(lambda n=name: self._on_text_field_finished(n))
        return edit

    def _mark_invalid(self, name: str, problem: str) -> None:
        widget = self.widgets[name]
        widget.setStyleSheet(_INVALID_STYLE if problem else "")
        widget.setToolTip(problem or FIELDS[name].tooltip)

    # ------------------------------------------------------------------------------- slots

    def _on_section_list_current_row_changed(self, row: int) -> None:
        if row >= 0:
            self.pages.setCurrentIndex(row)

    def _on_field_changed(self, name: str) -> None:
        # Program-made changes happen with the widget's signals blocked: this is the user.
        self.edited.emit(name)

    def _on_text_field_finished(self, name: str) -> None:
        spec = FIELDS[name]
        widget = self.widgets[name]
        if not isinstance(widget, QLineEdit):
            return
        try:
            value = parse_text(spec, widget.text())
        except ValueError as error:
            kept = format_value(spec, self.value(name)) or "none"
            self._mark_invalid(name, f"{error}; the run uses {kept}")
            return
        self._mark_invalid(name, "")
        if value != self._text_values[name]:
            self._text_values[name] = value
            self.edited.emit(name)
