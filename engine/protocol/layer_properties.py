"""What the Properties pane says about one layer: its geometry, its parameters and how much of
the input one of its output pixels sees."""

from __future__ import annotations

from dataclasses import dataclass

Pair = tuple[int, int]  # (rows, columns)


@dataclass(frozen=True)
class ReceptiveField:
    """The input pixels one output pixel of a layer depends on, along the chain of layers from
    the model's input (the largest over branches).

    `size` is the side of that window in input pixels and `jump` how far apart, in input
    pixels, two neighbouring output pixels are (the product of the strides so far). A layer
    after global pooling or Flatten sees the whole input: `whole` is True and `size` is the
    input's size (0 where the model takes any size)."""

    size: Pair
    jump: Pair
    whole: bool = False

    def __post_init__(self) -> None:
        if min(self.size) < 0 or min(self.jump) < 0:
            raise ValueError(f"receptive field size {self.size} or jump {self.jump} is negative")


@dataclass(frozen=True)
class LayerProperties:
    """A layer's settings as Keras has them; None where the layer type has no such setting
    (a Dense layer has no kernel size) or does not say (a Lambda's receptive field)."""

    kernel_size: Pair | None = None
    strides: Pair | None = None
    padding: str | None = None
    dilation: Pair | None = None
    activation: str | None = None
    groups: int | None = None  # grouped convolution: input channels split in this many groups
    depth_multiplier: int | None = None  # depthwise and separable convolutions
    pool_size: Pair | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    receptive_field: ReceptiveField | None = None
