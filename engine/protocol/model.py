"""What the window knows of a loaded model: its layers, input and classes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from engine.protocol.input_spec import InputPreprocessing
from engine.protocol.layer_properties import LayerProperties

# The side, in pixels, at which a model that takes images of any size is visualized.
FREE_INPUT_SIZE = 128


class LayerPath(tuple[str, ...]):
    """A layer's name through the nested sub-models that hold it, outermost first:
    ("mobilenetv2_1.00_224", "block_13_expand"). Equal to the plain tuple of its names, and
    written as "mobilenetv2_1.00_224/block_13_expand"."""

    __slots__ = ()

    def __new__(cls, names: Iterable[str] = ()) -> LayerPath:
        return super().__new__(cls, tuple(names))

    @classmethod
    def parse(cls, text: str) -> LayerPath:
        """'outer/inner' (as written by str()) as a path."""
        return cls(part for part in text.split("/") if part)

    @property
    def name(self) -> str:
        """The layer's own name, the innermost."""
        return self[-1] if self else ""

    def __str__(self) -> str:
        return "/".join(self)


class LayerKind(str, Enum):
    """What a layer offers to look at."""

    CHANNELS = "channels"  # 4-D output (batch, H, W, C): one feature map per channel
    UNITS = "units"  # 2-D output of a Dense layer: one number per unit
    NONE = "none"  # nothing convscope can visualize (Flatten, Dropout, InputLayer, ...)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer tree. `path` names the layer through any nested sub-models."""

    path: LayerPath
    name: str
    type_name: str
    output_shape: tuple[int | None, ...] | None
    params: int
    kind: LayerKind
    size: int  # channels or units; 0 when kind is NONE
    is_output: bool = False  # the model's final layer: units are classes
    children: tuple[LayerInfo, ...] = ()
    has_kernels: bool = False  # a 2-D convolution (plain, depthwise, separable, transposed)
    properties: LayerProperties | None = None  # the Properties pane; None: not described
    # The names of the layers at the same level (siblings in this model or sub-model) whose
    # outputs feed this one: the graph view's edges. Empty for inputs and for subclassed
    # models, which record no graph.
    inbound: tuple[str, ...] = ()

    @property
    def visualizable(self) -> bool:
        return self.kind is not LayerKind.NONE


@dataclass(frozen=True)
class ModelSummary:
    """What the window needs to know about a loaded model."""

    name: str
    source: str  # file path, or "built-in default model"
    input_shape: tuple[int | None, int | None, int]  # H, W, C
    input_range: tuple[float, float]
    class_names: tuple[str, ...]
    layers: tuple[LayerInfo, ...]
    description: str = ""
    # How pixels become the model's input, and who said so: "zoo", "sidecar", "chosen" (the
    # user, in the window) or "assumed" ([0, 1] because nothing said; the window then asks).
    preprocessing: InputPreprocessing = field(default_factory=InputPreprocessing)
    input_origin: str = "sidecar"
    free_size: bool = False  # the model takes any size; input_shape holds the size in use
    untrained: bool = False  # a zoo architecture with random weights
    # A SavedModel opened as its serving signature: predictions work, inner layers are hidden.
    signature_only: bool = False
    # Memory one image of a visualization of the last layer needs, and opening the file took
    # (about; 0: unknown), from engine/optvis/memory.py.
    image_bytes: int = 0
    open_bytes: int = 0
    # What the output's numbers are: "probabilities" (a softmax: they share 100 %), "independent"
    # (a sigmoid head, multi-label: each its own 0..1) or "logits" (anything else).
    scores: str = "logits"
    # A hash of the weights (engine/optvis/atlas_cache.weights_fingerprint, as a microscope's
    # manifest records it): equal only for the very same trained model. "": not computed.
    fingerprint: str = ""

    def find(self, path: tuple[str, ...]) -> LayerInfo | None:
        """The layer at `path`, searching nested sub-models."""
        level = self.layers
        found: LayerInfo | None = None
        for name in path:
            found = next((layer for layer in level if layer.name == name), None)
            if found is None:
                return None
            level = found.children
        return found

    def resolve(self, path: tuple[str, ...]) -> LayerInfo | None:
        """The layer at `path`; a bare name also finds a layer inside a nested sub-model when
        no other layer has that name (users type 'block3_conv2', not 'vgg16/block3_conv2')."""
        found = self.find(path)
        if found is not None or len(path) != 1:
            return found
        named = [layer for layer in self.walk() if layer.name == path[0]]
        return named[0] if len(named) == 1 else None

    def walk(self) -> list[LayerInfo]:
        """Every layer, depth first, in model order."""
        out: list[LayerInfo] = []

        def visit(layers: tuple[LayerInfo, ...]) -> None:
            for layer in layers:
                out.append(layer)
                visit(layer.children)

        visit(self.layers)
        return out

    def default_layer(self) -> LayerInfo | None:
        """The last convolution-like layer, which shows the most interesting filters first."""
        channel_layers = [lay for lay in self.walk() if lay.kind is LayerKind.CHANNELS]
        conv = [lay for lay in channel_layers if "Conv" in lay.type_name]
        pick = conv or channel_layers or [lay for lay in self.walk() if lay.visualizable]
        return pick[-1] if pick else None
