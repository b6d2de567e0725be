"""What the window asks of the engine: one frozen value object per kind of request."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from engine.protocol.input_spec import InputPreprocessing
from engine.protocol.recipe import Recipe

_request_ids = itertools.count(1)


def next_request_id() -> int:
    """A process-wide increasing id: a higher id is always the newer request."""
    return next(_request_ids)


@dataclass(frozen=True)
class ObjectiveTerm:
    """One part of an objective: `weight` × a channel's mean (or one neuron) of a layer."""

    layer: tuple[str, ...]
    unit: int
    weight: float = 1.0
    neuron: tuple[int, int] | None = None  # (row, column) in the feature map; None: the mean


@dataclass(frozen=True)
class LoadModel:
    """Load a model file; `path=None` loads the built-in default model. "zoo:NAME" builds a
    keras.applications classifier, untrained when `random_weights`. A file holding Python code
    (a Lambda layer) loads only when `trusted`."""

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False  # the user trusts the file: load it even if it holds Python code
    # The user's choice of pixel preprocessing (None: the sidecar's, else [0, 1]) and, for a
    # model that takes any size, the side to use (None: FREE_INPUT_SIZE).
    preprocessing: InputPreprocessing | None = None
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class OpenImage:
    """Decode an image file (or a named sample), convert it to the model's input and predict."""

    path: str | None = None
    sample: str | None = None
    layer: tuple[str, ...] | None = None  # also compute this layer's feature maps
    pixels: np.ndarray | None = field(default=None, compare=False)  # e.g. the sketch pad, (H, W)
    source: str = ""  # a name for `pixels`
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowFeatureMaps:
    """Compute the current image's activations at one layer."""

    layer: tuple[str, ...]
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Ascend:
    """Grow an input that maximizes one channel (or unit, or neuron) of one layer.

    `extra_terms` are added to the objective with their weights (a weighted sum of filters,
    possibly of other layers). With `settings.negate` the run minimizes instead.
    """

    layer: tuple[str, ...]
    unit: int
    settings: Recipe = field(default_factory=Recipe)
    neuron: tuple[int, int] | None = None
    extra_terms: tuple[ObjectiveTerm, ...] = ()
    request_id: int = field(default_factory=next_request_id)

    def terms(self) -> tuple[ObjectiveTerm, ...]:
        return (ObjectiveTerm(self.layer, self.unit, 1.0, self.neuron), *self.extra_terms)


@dataclass(frozen=True)
class TweakRun:
    """New values for the live knobs (recipe.LIVE_KNOBS) of the running visualization."""

    settings: Recipe
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Atlas:
    """Visualize many filters of one layer at once, in batches; `units=None` means all."""

    layer: tuple[str, ...]
    units: tuple[int, ...] | None = None
    settings: Recipe = field(default_factory=Recipe)
    cache_only: bool = False  # only show what is cached for these settings; compute nothing
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class StopRun:
    """Cancel the running visualization, keeping what it has made so far."""

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class CancelLoad:
    """Cancel the download of a model's weights (`load_id`: that LoadModel or LoadComparison;
    None: any).

    Separate from StopRun, which stops visualizations: Esc on a run must not also abandon a
    model that is downloading, and a cancelled load keeps the current model.
    """

    load_id: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Explain:
    """Which pixels of the current image made the model decide (or made a unit fire).

    `target_class=None` means the predicted class; with `unit` set (a channel of `unit_layer`),
    the method explains that inner unit instead of a class. `layer` picks the conv layer of the
    CAM methods (None: the last one). `options` are method settings as (name, value) pairs.
    """

    method: str
    target_class: int | None = None
    unit_layer: tuple[str, ...] | None = None
    unit: int | None = None
    layer: tuple[str, ...] | None = None
    options: tuple[tuple[str, float], ...] = ()
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class WalkNetwork:
    """Feature maps of every layer with channels or units, for the current image."""

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowKernels:
    """The weights of one filter (`unit`) of a conv layer, and the layer's weight statistics;
    `input_channel` picks the channel of the layer-level grid of every filter's kernel."""

    layer: tuple[str, ...]
    unit: int
    input_channel: int = 0
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TraceCircuit:
    """Which input channels one filter draws on, followed back to the previous conv layer."""

    layer: tuple[str, ...]
    unit: int
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ScanImages:
    """Run a folder of images (None: the built-in real images) through the model and keep, per
    layer and channel, the top images and activation statistics. Cached; a rescan resumes."""

    folder: str | None = None
    top_k: int = 9
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowTopImages:
    """The top images of one filter from the last scan, ranked by "l2" or "max"."""

    layer: tuple[str, ...]
    unit: int
    rank_by: str = "l2"
    projection: str = "none"  # "none", "deconvnet" or "gradcam" of that filter on each image
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TrainDefault:
    """Train the built-in MNIST CNN from scratch; save it to `output` (.keras), or with None to
    a new file in the user's data folder. Stopped like any long job, by StopRun."""

    epochs: int = 15
    output: str | None = None
    mnist_dir: str | None = None  # None: keras.datasets.mnist, else ../shared/data/mnist
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LoadComparison:
    """Load a second model, "B", to compare with the session's model; same paths as LoadModel
    (a file, "zoo:NAME", None for the built-in one). Loading a new model A keeps B."""

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False
    preprocessing: InputPreprocessing | None = None  # as LoadModel: the user's choice for B
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Compare:
    """Models A and B side by side on one layer and unit: feature maps and predictions for the
    current image, then a visualization of each grown with the same recipe and seed."""

    layer: tuple[str, ...]
    unit: int
    settings: Recipe = field(default_factory=Recipe)
    request_id: int = field(default_factory=next_request_id)


Request = (
    LoadModel
    | OpenImage
    | ShowFeatureMaps
    | Ascend
    | TweakRun
    | Atlas
    | StopRun
    | CancelLoad
    | Explain
    | WalkNetwork
    | ShowKernels
    | TraceCircuit
    | ScanImages
    | ShowTopImages
    | TrainDefault
    | LoadComparison
    | Compare
)
