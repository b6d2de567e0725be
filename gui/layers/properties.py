"""The selected layer's settings as a small form: kernel, strides, padding, dilation,
activation, parameters and the receptive field at the input."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from engine.protocol import LayerInfo, LayerProperties, ReceptiveField
from gui.layers.layer_tree import format_shape

# The rows, in order, with what each says (the tooltip of its name).
ROWS = {
    "Layer": "The layer's name, through any nested sub-models",
    "Type": "The Keras layer class",
    "Output shape": "Height × width × channels of one output",
    "Kernel size": "The convolution window, rows × columns",
    "Strides": "How far the window moves between output pixels",
    "Padding": "'valid': no padding; 'same': zeros around so the size stays",
    "Dilation": "Gaps between the kernel's taps (1: none)",
    "Activation": "The function applied to the output",
    "Groups": "A grouped convolution's number of channel groups",
    "Depth multiplier": "Output channels per input channel of a depthwise convolution",
    "Pool size": "The pooling window, rows × columns",
    "Parameters": "Trainable and non-trainable (frozen, or batch-norm statistics) weights",
    "Receptive field": "The input pixels one output pixel depends on, along the layers from "
    "the input (the largest over branches)",
    "Jump": "Input pixels between two neighbouring output pixels (the strides multiplied)",
}
NONE_TEXT = "—"  # the layer type has no such setting
UNKNOWN_TEXT = "unknown"  # the layer type does not say (a Lambda, a SavedModel, upsampling)


def _pair_text(pair: tuple[int, int] | None, unit: str = "") -> str:
    if pair is None:
        return NONE_TEXT
    return f"{pair[0]}×{pair[1]}{unit}"


def field_texts(field: ReceptiveField | None, input_hw: tuple[int, int] | None) -> tuple[str, str]:
    """The Receptive field and Jump rows: '10×10 px' and '2×2 px', 'the whole input', or
    'unknown' where a layer on the way does not tell."""
    if field is None:
        return UNKNOWN_TEXT, UNKNOWN_TEXT
    if field.whole:
        return "the whole input", NONE_TEXT
    size = _pair_text(field.size, " px")
    if (
        input_hw
        and min(input_hw) > 0
        and any(s > i for s, i in zip(field.size, input_hw, strict=True))
    ):
        # Normal deep in a network; said so that nobody thinks the number is wrong.
        size += f" (more than the {input_hw[0]}×{input_hw[1]} input)"
    return size, _pair_text(field.jump, " px")


class LayerPropertiesPane(QWidget):
    """What the selected layer is set to; updated by `set_layer`, read only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, QLabel] = {}
        layout = QFormLayout(self)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for name, tip in ROWS.items():
            label = QLabel(f"{name}:")
            label.setToolTip(tip)
            value = QLabel(NONE_TEXT)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._values[name] = value
            layout.addRow(label, value)

    def value(self, row: str) -> str:
        """The text shown in `row` (one of ROWS)."""
        if row not in self._values:
            raise ValueError(f"no row {row!r}; rows are {list(ROWS)}")
        return self._values[row].text()

    def set_layer(self, info: LayerInfo | None, input_hw: tuple[int, int] | None = None) -> None:
        """Show `info`'s properties (`input_hw`: the model's input size, to compare the
        receptive field with); None empties the form."""
        if info is None:
            for value in self._values.values():
                value.setText(NONE_TEXT)
            return
        props = info.properties or LayerProperties()
        field, jump = field_texts(props.receptive_field, input_hw)
        if info.properties is None:
            field = jump = UNKNOWN_TEXT
        texts = {
            "Layer": str(info.path),
            "Type": info.type_name,
            "Output shape": format_shape(info.output_shape),
            "Kernel size": _pair_text(props.kernel_size),
            "Strides": _pair_text(props.strides),
            "Padding": props.padding or NONE_TEXT,
            "Dilation": _pair_text(props.dilation),
            "Activation": props.activation or NONE_TEXT,
            "Groups": NONE_TEXT if props.groups is None else str(props.groups),
            "Depth multiplier": (
                NONE_TEXT if props.depth_multiplier is None else str(props.depth_multiplier)
            ),
            "Pool size": _pair_text(props.pool_size),
            "Parameters": f"{props.trainable_params:,} trainable, "
            f"{props.non_trainable_params:,} non-trainable",
            "Receptive field": field,
            "Jump": jump,
        }
        if info.properties is None:
            texts["Parameters"] = f"{info.params:,}"
        for name, text in texts.items():
            self._values[name].setText(text)
